"""``dualdb.Query``: the PyPika builder to start portable queries from.

It is PyPika's PostgreSQL builder, whose text (double-quoted identifiers,
``ON CONFLICT … DO UPDATE``, ``RETURNING``) SQLite ≥ 3.35 also runs; what SQLite cannot
run is rejected by its dialect at compile time.
"""

from __future__ import annotations

from pypika import PostgreSQLQuery

__all__ = ["Query"]


class Query(PostgreSQLQuery):
    """Start a query: ``Query.from_(users).select(users.id).where(users.email == Param("email"))``.

    Also ``Query.into(t)…on_conflict(t.col).do_update(t.other)…returning(t.id)``,
    ``Query.update(t)``, ``Query.from_(t).delete()``.
    """
