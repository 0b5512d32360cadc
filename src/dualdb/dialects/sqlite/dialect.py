"""SQLite's adapter: what it can do and how it is reached; its SQL is the compiler's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from dualdb.dialects.base import (
    Backups,
    Dialect,
    IsolationLevel,
    MigrationBackend,
    OnConnect,
    ScratchDatabases,
)
from dualdb.dialects.sqlite.compiler import SQLiteCompiler
from dualdb.settings import Settings

if TYPE_CHECKING:
    from dualdb.dialects.sqlite.driver import SQLiteDriver
    from dualdb.dialects.sqlite.plans import Sources

__all__ = ["NAME", "SQLiteDialect"]

NAME = "sqlite"


class SQLiteDialect(Dialect):
    name = NAME
    is_embedded = True
    reuses_placeholders = False
    compiler = SQLiteCompiler(NAME)
    # Every SQLite transaction is serializable (one writer at a time, snapshot reads):
    # a request for a weaker level runs serializable.
    isolation_levels: ClassVar[frozenset[IsolationLevel]] = frozenset({"serializable"})
    column_types: ClassVar[dict[str, str]] = {
        "uuid": "UUID",
        "text": "TEXT",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "boolean": "BOOLEAN",
        "timestamptz": "TIMESTAMPTZ",
        "date": "DATE",
        "json": "JSON TEXT",
        "decimal": "DECIMAL TEXT",
        "bytes": "BLOB",
        "float": "DOUBLE PRECISION",
    }

    # SQLite takes a double-quoted name that matches no column for a string literal, so a
    # misspelt column would silently be a constant; a backquoted name never is, and an
    # unknown one is an error, as on PostgreSQL.
    quote_char = "`"
    explain_prefix = "EXPLAIN QUERY PLAN "
    version_query = "SELECT 'SQLite ' || sqlite_version()"

    def placeholder(self, position: int) -> str:
        return "?"

    def statement_state(self, query: Any) -> Sources:
        from dualdb.dialects.sqlite.plans import sources_of

        return sources_of(query, self.column_type)

    async def connect(
        self, settings: Settings, on_connect: OnConnect | None = None
    ) -> SQLiteDriver:
        from dualdb.dialects.sqlite.driver import SQLiteDriver

        driver = SQLiteDriver(settings, on_connect)
        await driver.start()
        return driver

    def migrations(self) -> MigrationBackend:
        from dualdb.dialects.sqlite.migrate import SQLiteMigrations

        return SQLiteMigrations()

    def scratch_databases(self) -> type[ScratchDatabases]:
        from dualdb.dialects.sqlite.scratch import SQLiteScratchDatabases

        return SQLiteScratchDatabases

    def backups(self) -> Backups:
        from dualdb.dialects.sqlite.backup import SQLiteBackups

        return SQLiteBackups()
