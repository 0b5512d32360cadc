"""The backends. :func:`get_dialect` is the only place a backend is chosen by name."""

from __future__ import annotations

from dualdb.dialects.base import Dialect
from dualdb.dialects.postgres import PostgresDialect
from dualdb.dialects.sqlite import SQLiteDialect

__all__ = ["Dialect", "get_dialect"]

_DIALECTS: dict[str, Dialect] = {"sqlite": SQLiteDialect(), "postgresql": PostgresDialect()}


def get_dialect(name: str) -> Dialect:
    """The shared Dialect instance for ``"sqlite"`` or ``"postgresql"``."""
    try:
        return _DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; expected sqlite or postgresql") from None
