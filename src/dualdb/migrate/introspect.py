"""Read the live schema of a database into the neutral :class:`Schema`.

Reads the catalogs, never the migration files, so that comparing the result with the
snapshot shows what the database really holds. yoyo's and dualdb's bookkeeping tables are
left out. Declared types map back to logical types (``JSONB`` and ``JSON TEXT`` are both
``json``); a type outside the vocabulary keeps its own name and so never matches. Each
dialect reads its own catalogs (:meth:`MigrationBackend.introspect`).
"""

from __future__ import annotations

from typing import Any

from dualdb.migrate.backends import migrations_of
from dualdb.migrate.checksums import CHECKSUM_TABLE
from dualdb.migrate.schema import Schema

__all__ = ["BOOKKEEPING_TABLES", "introspect", "is_bookkeeping"]

#: Tables of yoyo and dualdb themselves, never part of the application schema.
BOOKKEEPING_TABLES = frozenset(
    {"_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock", CHECKSUM_TABLE}
)


def is_bookkeeping(table: str) -> bool:
    """Whether ``table`` belongs to yoyo or dualdb rather than to the application."""
    return table in BOOKKEEPING_TABLES or table.startswith("yoyo_tmp_")


def introspect(backend: Any) -> Schema:
    """The application schema of the database behind a yoyo ``backend``."""
    return migrations_of(backend).introspect(backend)
