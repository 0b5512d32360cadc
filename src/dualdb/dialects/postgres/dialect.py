"""How PostgreSQL renders (compiler) and what it can do (adapter)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pypika.enums import Matching

from dualdb.dialects.base import Dialect, MigrationBackend
from dualdb.settings import Settings

if TYPE_CHECKING:
    from dualdb.dialects.postgres.driver import PostgresDriver

__all__ = ["NAME", "PostgresDialect"]

NAME = "postgresql"


class PostgresDialect(Dialect):
    name = NAME
    is_embedded = False
    reuses_placeholders = True
    supports_for_update = True
    isolation_levels = frozenset({"read_committed", "repeatable_read", "serializable"})
    unsupported_matching = frozenset(
        {Matching.rlike, Matching.regexp, Matching.bin_regex, Matching.as_of, Matching.glob}
    )
    unsupported_functions: ClassVar[dict[str, str]] = {
        "IFNULL": "use COALESCE, on both backends",
        "GROUP_CONCAT": "",
        "INSTR": "",
        "DATETIME": "",
        "STRFTIME": "",
        "JULIANDAY": "",
        "TOTAL": "use SUM",
        "RANDOMBLOB": "",
        "PRINTF": "",
    }
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

    def begin_sql(self, isolation: str | None, readonly: bool) -> str:
        sql = "BEGIN"
        if isolation is not None:
            sql += " ISOLATION LEVEL " + isolation.replace("_", " ").upper()
        if readonly:
            sql += " READ ONLY"
        return sql

    async def connect(self, settings: Settings) -> PostgresDriver:
        from dualdb.dialects.postgres.driver import PostgresDriver

        driver = PostgresDriver(settings)
        await driver.start()
        return driver

    def migrations(self) -> MigrationBackend:
        from dualdb.dialects.postgres.migrate import PostgresMigrations

        return PostgresMigrations()
