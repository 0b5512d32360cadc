"""Migrated test databases: a template per backend and session, and cheap copies of it.

Migrating is the slow part of a test database, so it happens once per session, into a
template; every test that needs a database of its own gets a copy (a file copy on SQLite,
``CREATE DATABASE … TEMPLATE`` on PostgreSQL), and the ``truncate`` isolation empties the
application's tables instead of copying.

How a backend makes, copies, drops and empties a database is its dialect's to say
(:meth:`dualdb.dialects.base.Dialect.scratch_databases`): this module knows no backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dualdb.dialects import get_dialect
from dualdb.dialects.base import DatabaseServer, ScratchDatabases
from dualdb.errors import HarnessError
from dualdb.settings import load_settings

__all__ = ["DatabaseTemplate", "make_template", "migration_sources", "scratch_databases"]


def migration_sources(root: Path, given: Sequence[str | Path] = ()) -> list[Path]:
    """The migrations folders a test session applies, in order (upstream first).

    ``given`` (``--dualdb-migrations``, the ``dualdb_migrations`` ini value), relative to
    ``root``; else the ``sources`` of ``root/yoyo.ini``, as plain ``yoyo`` and the ``dualdb``
    command read them (``package:dualdb:migrations`` included); else ``root/migrations`` if
    it exists; else none (the databases stay empty).
    """
    # (dualdb.migrate loads yoyo: only once a session has a database to migrate)
    from dualdb.migrate.source import YOYO_INI, folders_from, sources_of_yoyo_ini

    specs = [str(entry) for entry in given] or sources_of_yoyo_ini(root / YOYO_INI)
    if not specs:
        return [root / "migrations"] if (root / "migrations").is_dir() else []
    return list(folders_from(specs, base=root).all)


def migrate(url: str, sources: Sequence[Path]) -> None:
    """Apply every migration of ``sources`` to ``url`` with dualdb's runner, quietly (its
    errors say what failed). The environment and ``.env`` play no part: the test database
    is the URL alone."""
    from dualdb.migrate import Runner  # yoyo, loaded when a test first needs a database
    from dualdb.migrate.source import Folders

    if not sources:
        return
    settings = load_settings({}, env_file=None, url=url)
    folders = Folders(sources[-1], tuple(sources[:-1]))
    Runner(settings, folders, echo=lambda _line: None, warn=lambda _line: None).migrate()


def is_bookkeeping(table: str) -> bool:
    from dualdb.migrate.introspect import is_bookkeeping as bookkeeping

    return bookkeeping(table)


def scratch_databases(backend: str) -> type[ScratchDatabases] | None:
    """How test databases of ``backend`` are made (the dialect says), or None."""
    return get_dialect(backend).scratch_databases()


def new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@dataclass
class DatabaseTemplate:
    """A backend's migrated database for the session (what the ``dualdb_template``
    fixture gives): copy it for a test of its own with :meth:`copy`."""

    backend: str
    url: str
    store: ScratchDatabases

    def copy(self, folder: Path) -> str:
        """The URL of a new database holding the migrated schema (drop it with
        :meth:`drop`). ``folder`` holds it if the backend keeps databases in files."""
        return self.store.copy(self.url, new_name("dualdb_t"), folder)

    def drop(self, url: str) -> None:
        self.store.drop(url)

    def empty_tables(self, url: str) -> list[str]:
        """Empty every application table of ``url``; return their names."""
        return self.store.empty_tables(url, keep=is_bookkeeping)


def make_template(
    backend: str, sources: Sequence[Path], folder: Path, server: Callable[[], DatabaseServer]
) -> DatabaseTemplate:
    """Migrate a new database of ``backend`` with ``sources``: the session's template."""
    store_class = scratch_databases(backend)
    if store_class is None:
        raise HarnessError(
            f"dualdb.testing cannot make {backend} databases (its dialect does not say how)"
        )
    store = store_class(folder, server)
    url = store.create(new_name("dualdb_tpl"))
    try:
        migrate(url, sources)
    except BaseException:
        store.drop(url)
        raise
    return DatabaseTemplate(backend, url, store)
