"""PostgreSQL through asyncpg: the production backend.

One module per role (see CONTRIBUTING.md): ``compiler`` (rendering differences),
``dialect`` (capabilities), ``codec`` (values both ways), ``errors`` (asyncpg → dualdb.errors),
``driver`` (connections and the pool), ``introspect`` and ``migrate`` (the migration
tooling's view), ``_asyncpg`` (the private asyncpg API dualdb relies on, in one place).
"""

from __future__ import annotations

from dualdb.dialects.postgres.dialect import NAME, PostgresDialect

__all__ = ["NAME", "PostgresDialect"]
