"""The logical column types shared by migrations and the schema snapshot.

A migration declares a column as ``uuid``, ``json``, … and each backend stores it under
one fixed declared type name. The names are fixed because the core's SQLite decoder reads
values back by the column's *declared* type, and because the snapshot maps a declared
type back to its logical type to prove both backends end with the same schema.

Two SQLite names carry a second word on purpose: ``JSON TEXT`` and ``DECIMAL TEXT`` give the
column TEXT affinity, without which SQLite would store the JSON text ``'1.0'`` or the decimal
``'1.50'`` as a number and hand back ``1`` / ``1.5``.
"""

from __future__ import annotations

from typing import Final, Literal

from dualdb.dialects import get_dialect
from dualdb.dialects.base import LOGICAL_TYPES

__all__ = ["DDL_TYPES", "LOGICAL_TYPES", "ddl_type", "logical_type"]

Backend = Literal["sqlite", "postgresql"]

#: Declared type, per backend, of each logical type (what a migration writes in DDL):
#: the dialects' own table, so DDL and the SQLite decoder can never disagree.
DDL_TYPES: Final[dict[Backend, dict[str, str]]] = {
    "sqlite": dict(get_dialect("sqlite").column_types),
    "postgresql": dict(get_dialect("postgresql").column_types),
}

# PostgreSQL reports types by their canonical names (format_type), not as written.
_POSTGRES_CANONICAL: Final = {
    "uuid": "uuid",
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "boolean": "boolean",
    "timestamp with time zone": "timestamptz",
    "double precision": "float",
    "date": "date",
    "jsonb": "json",
    "numeric": "decimal",
    "bytea": "bytes",
}
_SQLITE_DECLARED: Final = {name: logical for logical, name in DDL_TYPES["sqlite"].items()}


def ddl_type(logical: str, backend: Backend) -> str:
    """The declared type to write in DDL for ``logical`` on ``backend``.

    Raises ``KeyError`` naming the vocabulary for a type outside it.
    """
    try:
        return DDL_TYPES[backend][logical]
    except KeyError:
        raise KeyError(
            f"unknown logical type {logical!r}; use one of {', '.join(LOGICAL_TYPES)}"
        ) from None


def logical_type(declared: str, backend: Backend) -> str:
    """Map a type as the live database reports it back to its logical name.

    A type outside the vocabulary comes back as ``"<backend>:<declared>"`` so that it never
    equals a logical type and the snapshot comparison reports it.
    """
    normalized = " ".join(declared.split())
    if backend == "sqlite":
        found = _SQLITE_DECLARED.get(normalized.upper())
    else:
        found = _POSTGRES_CANONICAL.get(normalized.lower())
    return found if found is not None else f"{backend}:{normalized.lower()}"
