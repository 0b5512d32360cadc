"""PostgreSQL's adapter: what it can do and how it is reached; its SQL is the compiler's."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dualdb.dialects.base import Dialect, IsolationLevel, MigrationBackend, OnConnect
from dualdb.dialects.postgres.compiler import PostgresCompiler
from dualdb.settings import Settings

if TYPE_CHECKING:
    from dualdb.dialects.postgres.driver import PostgresDriver

__all__ = ["NAME", "PostgresDialect"]

NAME = "postgresql"


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

    def placeholder(self, position: int) -> str:
        return f"${position}"

    async def connect(
        self, settings: Settings, on_connect: OnConnect | None = None
    ) -> PostgresDriver:
        from dualdb.dialects.postgres.driver import PostgresDriver

        driver = PostgresDriver(settings, on_connect)
        await driver.start()
        return driver

    def migrations(self) -> MigrationBackend:
        from dualdb.dialects.postgres.migrate import PostgresMigrations

        return PostgresMigrations()
