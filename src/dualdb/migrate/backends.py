"""yoyo's database backends, adjusted for dualdb — the one module that subclasses yoyo.

The subclasses keep yoyo's bookkeeping tables and SQL untouched, so ``yoyo`` and ``dualdb``
stay interchangeable on one database. What changes:

* **One transaction per migration, bookkeeping included.** yoyo runs a migration's steps on a
  second connection, commits, and only then records it as applied: a crash in between leaves
  an applied but unrecorded migration. Here the steps, yoyo's log and mark rows and dualdb's
  checksum row commit together or not at all (migrations marked ``__transactional__ = False``
  keep yoyo's own behaviour).
* **No transactional-DDL probe.** Both backends have transactional DDL; yoyo's probe creates a
  table, which fails on SQLite while another process holds the write lock and would then
  switch yoyo to best-effort manual rollbacks.
* **SQLite:** a plain file connection (no shared cache, whose table locks fail at once instead
  of waiting), dualdb's busy timeout, no declared-type converters, and datetimes bound as
  ISO text rather than through ``sqlite3``'s default adapter (deprecated since Python 3.12).
  Foreign keys stay off while migrating, as under plain yoyo: SQLite's table rebuild recipe
  (create, copy, drop, rename) would otherwise cascade-delete child rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from yoyo.backends.core.postgresql import PostgresqlBackend as _YoyoPostgresqlBackend
from yoyo.backends.core.sqlite3 import SQLiteBackend as _YoyoSQLiteBackend

from dualdb.migrate.logical_types import Backend

__all__ = [
    "AfterChange",
    "PostgresqlBackend",
    "SQLiteBackend",
    "dialect_of",
    "drop_everything",
    "enforce_foreign_keys",
]

#: Called inside a migration's transaction after yoyo's bookkeeping:
#: ``(backend, migration, "apply" | "rollback")``.
AfterChange = Callable[[Any, Any, str], None]


def _run_atomically(
    backend: Any, migration: Any, direction: str, fallback: Callable[[], None], force: bool
) -> None:
    """Run ``migration`` in ``direction`` with its bookkeeping in one transaction.

    A migration marked non-transactional (``CREATE INDEX CONCURRENTLY``…) cannot share a
    transaction with anything, so it takes yoyo's own path (``fallback``) and only the hook
    runs in a transaction of its own.
    """
    migration.load()
    if not migration.use_transactions:
        fallback()  # yoyo's own path; the hook then gets a transaction of its own
        if backend.after_change is not None:
            with backend.transaction():
                backend.after_change(backend, migration, direction)
        return
    backend.ensure_internal_schema_updated()
    with backend.transaction():
        migration.process_steps(backend, direction, force=force)
        backend.log_migration(migration, direction)
        if direction == "apply":
            backend.mark_one(migration, log=False)
        else:
            backend.unmark_one(migration, log=False)
        if backend.after_change is not None:
            backend.after_change(backend, migration, direction)


class _Atomic:
    """Runs each migration and its bookkeeping in one transaction (see the module docstring).

    Listed before yoyo's backend class, so ``super()`` here is yoyo's own implementation.
    """

    def apply_one(self, migration: Any, force: bool = False, mark: bool = True) -> None:
        parent: Any = super()
        if not mark:  # post-apply hooks are never recorded
            parent.apply_one(migration, force=force, mark=False)
            return
        _run_atomically(self, migration, "apply", lambda: parent.apply_one(migration, force), force)

    def rollback_one(self, migration: Any, force: bool = False) -> None:
        parent: Any = super()
        _run_atomically(
            self, migration, "rollback", lambda: parent.rollback_one(migration, force), force
        )


class SQLiteBackend(_Atomic, _YoyoSQLiteBackend):  # type: ignore[misc]
    """yoyo's SQLite backend on a plain file connection; see the module docstring."""

    dialect: Backend = "sqlite"
    after_change: AfterChange | None = None

    def connect(self, dburi: Any) -> sqlite3.Connection:
        timeout = float(dburi.args.get("timeout", 5.0))
        return sqlite3.connect(dburi.database, timeout=timeout, isolation_level=None)

    def _check_transactional_ddl(self) -> bool:
        return True

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        if params:
            params = {
                key: value.isoformat(" ") if isinstance(value, datetime) else value
                for key, value in params.items()
            }
        return super().execute(sql, params)


class PostgresqlBackend(_Atomic, _YoyoPostgresqlBackend):  # type: ignore[misc]
    """yoyo's psycopg2 backend with atomic migrations; see the module docstring."""

    dialect: Backend = "postgresql"
    after_change: AfterChange | None = None

    def _check_transactional_ddl(self) -> bool:
        return True


def dialect_of(backend: Any) -> Backend:
    """The dialect name of one of this module's backends."""
    dialect: Backend = backend.dialect
    return dialect


def enforce_foreign_keys(backend: Any) -> None:
    """Make ``ON DELETE CASCADE`` work on this connection (SQLite has it off by default).

    Must run outside a transaction: SQLite ignores the pragma inside one.
    """
    if dialect_of(backend) == "sqlite":
        backend.connection.execute("PRAGMA foreign_keys = ON")


_SQLITE_OBJECTS = """
    SELECT type, name FROM sqlite_master
    WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
    ORDER BY type DESC, name
"""

# Everything in the current schema that does not belong to an extension, in drop order.
_POSTGRES_OBJECTS = """
    SELECT kind, name FROM (
        SELECT CASE c.relkind WHEN 'v' THEN 1 WHEN 'm' THEN 2 WHEN 'S' THEN 4 ELSE 3 END AS ord,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                              ELSE 'TABLE' END AS kind,
               quote_ident(c.relname) AS name, c.relname AS sort_name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT c.relispartition
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 5, 'ROUTINE', p.oid::regprocedure::text, p.proname
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 6, 'TYPE', quote_ident(t.typname), t.typname
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'r', 'm')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
    ) objects
    ORDER BY ord, sort_name
"""


def drop_everything(backend: Any, *, keep: frozenset[str]) -> list[str]:
    """Drop every table, view, sequence, routine and type of the database (current schema on
    PostgreSQL) except the tables named in ``keep``; return what was dropped.

    One transaction: on failure nothing is dropped.
    """
    dropped: list[str] = []
    if dialect_of(backend) == "sqlite":
        # Off, so that dropping a parent table neither cascades nor fails on its children.
        backend.connection.execute("PRAGMA foreign_keys = OFF")
        objects = [
            (kind.upper(), name) for kind, name in backend.execute(_SQLITE_OBJECTS).fetchall()
        ]
        quoted = {name: backend.quote_identifier(name) for _, name in objects}
        with backend.transaction():
            for kind, name in objects:
                if name in keep:
                    continue
                backend.execute(f"DROP {kind} IF EXISTS {quoted[name]}")
                dropped.append(f"{kind.lower()} {name}")
        return dropped
    objects = backend.execute(_POSTGRES_OBJECTS).fetchall()
    with backend.transaction():
        for kind, name in objects:
            if name.strip('"') in keep:
                continue
            backend.execute(f"DROP {kind} IF EXISTS {name} CASCADE")
            dropped.append(f"{kind.lower()} {name}")
    return dropped
