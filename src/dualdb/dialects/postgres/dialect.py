"""PostgreSQL's adapter: what it can do and how it is reached; its SQL is the compiler's."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

from dualdb._extras import require
from dualdb.dialects.base import (
    Backups,
    Dialect,
    IsolationLevel,
    MigrationBackend,
    OnConnect,
    ScratchDatabases,
)
from dualdb.dialects.postgres.compiler import PostgresCompiler
from dualdb.settings import Settings

if TYPE_CHECKING:
    from dualdb.dialects.postgres.driver import PostgresDriver

__all__ = ["EXTRA", "NAME", "PostgresDialect", "require_driver"]

NAME = "postgresql"

#: The extra that brings the drivers (asyncpg for the API, psycopg2 for the migration
#: tooling, as yoyo uses it): a SQLite-only install has neither.
EXTRA = "postgresql"


def require_driver(module: str, needed_for: str) -> ModuleType:
    return require(module, extra=EXTRA, needed_for=needed_for)


class PostgresDialect(Dialect):
    name = NAME
    is_embedded = False
    reuses_placeholders = True
    compiler = PostgresCompiler(NAME)
    isolation_levels: ClassVar[frozenset[IsolationLevel]] = frozenset(
        {"read_committed", "repeatable_read", "serializable"}
    )
    column_types: ClassVar[dict[str, str]] = {
        "uuid": "UUID",
        "text": "TEXT",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "boolean": "BOOLEAN",
        "timestamptz": "TIMESTAMPTZ",
        "date": "DATE",
        "json": "JSONB",
        "decimal": "NUMERIC",
        "bytes": "BYTEA",
        "float": "DOUBLE PRECISION",
    }

    explain_prefix = "EXPLAIN "
    version_query = "SELECT version()"
    # The insert position, not the flushed one: with synchronous_commit off the commit
    # record may not be flushed yet, and the replica waits until it arrives.
    write_position_query = "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint"
    # Lag: zero when the replica has replayed all it received (an idle primary sends
    # nothing, and the time since the last replayed commit would grow without lag).
    replica_state_query = (
        "SELECT (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0')::bigint, "
        "CASE WHEN NOT pg_is_in_recovery() "
        "OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0 "
        "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) "
        "END::float8, pg_is_in_recovery()"
    )

    def placeholder(self, position: int) -> str:
        return f"${position}"

    async def connect(
        self, settings: Settings, on_connect: OnConnect | None = None
    ) -> PostgresDriver:
        require_driver("asyncpg", "dualdb on PostgreSQL")
        from dualdb.dialects.postgres.driver import PostgresDriver

        driver = PostgresDriver(settings, on_connect)
        await driver.start()
        return driver

    def migrations(self) -> MigrationBackend:
        from dualdb.dialects.postgres.migrate import PostgresMigrations

        return PostgresMigrations()

    def scratch_databases(self) -> type[ScratchDatabases]:
        from dualdb.dialects.postgres.scratch import PostgresScratchDatabases

        return PostgresScratchDatabases

    def backups(self) -> Backups:
        from dualdb.dialects.postgres.backup import PostgresBackups

        return PostgresBackups()
