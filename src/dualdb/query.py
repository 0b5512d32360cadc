"""``dualdb.Query``: the PyPika builder to start portable queries from.

It is PyPika's PostgreSQL builder, whose text (double-quoted identifiers,
``ON CONFLICT … DO UPDATE``, ``RETURNING``) SQLite ≥ 3.35 also runs; what SQLite cannot
run is rejected by its dialect at compile time.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from pypika import PostgreSQLQuery
from pypika.dialects import PostgreSQLQueryBuilder

__all__ = ["Query"]


class _Builder(PostgreSQLQueryBuilder):
    """PyPika's PostgreSQL builder, minus its shared-list bug.

    Each builder method works on a copy of the query, but PyPika's ``__copy__`` leaves
    three lists shared with the original, which later calls append to: two upserts
    derived from one module-level ``INSERT`` would both render
    ``ON CONFLICT ("k","k")`` (which SQLite rejects).
    """

    def __copy__(self) -> _Builder:
        newone: _Builder = super().__copy__()  # type: ignore[assignment]
        newone._on_conflict_fields = copy(self._on_conflict_fields)
        newone._distinct_on = copy(self._distinct_on)
        newone._using = copy(self._using)
        return newone


class Query(PostgreSQLQuery):
    """Start a query: ``Query.from_(users).select(users.id).where(users.email == Param("email"))``.

    Also ``Query.into(t)…on_conflict(t.col).do_update(t.other)…returning(t.id)``,
    ``Query.update(t)``, ``Query.from_(t).delete()``.
    """

    @classmethod
    def _builder(cls, **kwargs: Any) -> _Builder:
        return _Builder(**kwargs)
