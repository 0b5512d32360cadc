"""PostgreSQL for the migration tooling: yoyo's psycopg2 backend, connecting, drop-all.

yoyo's plain ``postgresql://`` URLs use psycopg2, so the CLI does too: ``dualdb migrate``
and ``yoyo apply`` then behave alike on one database.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, ClassVar

from yoyo.backends.core.postgresql import PostgresqlBackend as _YoyoPostgresqlBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import default_migration_table

from dualdb.dialects.base import MigrationBackend
from dualdb.dialects.postgres.dialect import NAME
from dualdb.dialects.postgres.introspect import introspect, logical_type
from dualdb.errors import ConfigurationError, ConnectionFailed
from dualdb.migrate.backends import AfterChange, AtomicMigrations, drop_listed
from dualdb.migrate.connection import scrub
from dualdb.migrate.schema import Schema
from dualdb.settings import Settings

__all__ = ["PostgresMigrations", "PostgresqlBackend"]


class PostgresqlBackend(AtomicMigrations, _YoyoPostgresqlBackend):  # type: ignore[misc]
    """yoyo's psycopg2 backend with atomic migrations (see :mod:`dualdb.migrate.backends`)."""

    dialect = NAME
    after_change: AfterChange | None = None

    def _check_transactional_ddl(self) -> bool:
        return True


def _escape_option(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _uri(settings: Settings) -> DatabaseURI:
    """What yoyo's backend hands psycopg2 as keywords: libpq's host and port lists
    (several servers, socket folders) and connection parameters as they are, the
    server settings as ``options``."""
    args: dict[str, str] = dict(settings.connect_options)
    if settings.sslmode:
        args["sslmode"] = settings.sslmode
    server_settings = [f"-c {key}={_escape_option(value)}" for key, value in settings.url_options]
    if server_settings:
        args["options"] = " ".join(server_settings)
    # libpq counts whole seconds (and treats anything below 2 as 2).
    args["connect_timeout"] = str(max(1, math.ceil(settings.connect_timeout)))
    endpoints = settings.endpoints()
    return DatabaseURI(
        scheme="postgresql",
        username=settings.user,
        password=settings.password,
        hostname=",".join(host for host, _ in endpoints),
        port=",".join(str(port) for _, port in endpoints),
        database=settings.database or "",
        args=args,
    )


class PostgresMigrations(MigrationBackend):
    name: ClassVar[str] = NAME

    def open(self, settings: Settings, *, read_only: bool) -> tuple[Any, bool]:
        driver: Any = importlib.import_module("psycopg2")
        try:
            backend = PostgresqlBackend(_uri(settings), default_migration_table)
        except driver.ProgrammingError as exc:  # libpq rejected the connection string itself
            raise ConfigurationError(
                "DATABASE_URL is not accepted by the PostgreSQL driver: " + scrub(str(exc)),
                variable="DATABASE_URL",
            ) from exc
        except driver.Error as exc:
            reason = scrub(str(exc).strip())
            raise ConnectionFailed(
                f"cannot connect to {settings.display_url()} "
                f"(connect timeout {math.ceil(settings.connect_timeout)} s): {reason}",
                dialect=NAME,
            ) from exc
        return backend, True

    def owns(self, connection: Any) -> bool:
        return type(connection).__module__.startswith(("psycopg2", "psycopg"))

    def is_driver_error(self, exc: BaseException) -> bool:
        return type(exc).__module__.startswith(("psycopg2", "psycopg"))

    def drop_everything(self, backend: Any, *, keep: frozenset[str]) -> list[str]:
        objects = backend.execute(_OBJECTS).fetchall()
        return drop_listed(
            backend,
            (
                (kind, name.strip('"'), f"DROP {kind} IF EXISTS {name} CASCADE")
                for kind, name in objects
            ),
            keep=keep,
        )

    def introspect(self, backend: Any) -> Schema:
        return introspect(backend)

    def logical_type(self, declared: str) -> str:
        return logical_type(declared)


# Everything in the current schema that does not belong to an extension, in drop order.
_OBJECTS = """
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
