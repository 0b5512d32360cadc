"""The logical column types shared by migrations and the schema snapshot.

A migration declares a column as ``uuid``, ``json``, … and each backend stores it under
one fixed declared type name, the dialect's own table (:meth:`Dialect.column_type`). The
names are fixed because the core's SQLite decoder reads values back by the column's
*declared* type, and because the snapshot maps a declared type back to its logical type
(:meth:`MigrationBackend.logical_type`) to prove every backend ends with the same schema.

Two SQLite names carry a second word on purpose: ``JSON TEXT`` and ``DECIMAL TEXT`` give the
column TEXT affinity, without which SQLite would store the JSON text ``'1.0'`` or the decimal
``'1.50'`` as a number and hand back ``1`` / ``1.5``.
"""

from __future__ import annotations

from dualdb.dialects import DialectName, get_dialect
from dualdb.dialects.base import LOGICAL_TYPES
from dualdb.errors import ConfigurationError

__all__ = ["LOGICAL_TYPES", "ddl_type", "logical_type"]


def ddl_type(logical: str, backend: DialectName) -> str:
    """The declared type to write in DDL for ``logical`` on ``backend``.

    Raises :class:`~dualdb.errors.ConfigurationError` naming the vocabulary for a type
    outside it.
    """
    if logical not in LOGICAL_TYPES:
        raise ConfigurationError(
            f"unknown logical type {logical!r}; use one of {', '.join(LOGICAL_TYPES)}"
        )
    return get_dialect(backend).column_type(logical)


def logical_type(declared: str, backend: DialectName) -> str:
    """Map a type as the live database reports it back to its logical name.

    A type outside the vocabulary comes back as ``"<backend>:<declared>"`` so that it never
    equals a logical type and the snapshot comparison reports it.
    """
    return get_dialect(backend).migrations().logical_type(declared)
