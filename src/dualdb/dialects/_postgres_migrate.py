"""PostgreSQL for the migration tooling: yoyo's psycopg2 backend, introspection, drop-all.

yoyo's plain ``postgresql://`` URLs use psycopg2, so the CLI does too: ``dualdb migrate``
and ``yoyo apply`` then behave alike on one database. Introspection reads the current
schema's catalogs; types come back by their canonical names (``format_type``).
"""

from __future__ import annotations

import importlib
import math
from collections import defaultdict
from typing import Any, ClassVar

from yoyo.backends.core.postgresql import PostgresqlBackend as _YoyoPostgresqlBackend
from yoyo.connections import DatabaseURI, parse_uri
from yoyo.migrations import default_migration_table

from dualdb.dialects.base import MigrationBackend
from dualdb.errors import ConfigurationError, ConnectionFailed
from dualdb.migrate.backends import AfterChange, AtomicMigrations
from dualdb.migrate.connection import scrub
from dualdb.migrate.introspect import is_bookkeeping
from dualdb.migrate.schema import (
    Column,
    ForeignKey,
    Index,
    Schema,
    Table,
    normalize_default,
    normalize_expression,
)
from dualdb.settings import Settings

__all__ = ["PostgresMigrations", "PostgresqlBackend"]

NAME = "postgresql"


class PostgresqlBackend(AtomicMigrations, _YoyoPostgresqlBackend):  # type: ignore[misc]
    """yoyo's psycopg2 backend with atomic migrations (see :mod:`dualdb.migrate.backends`)."""

    dialect = NAME
    after_change: AfterChange | None = None

    def _check_transactional_ddl(self) -> bool:
        return True


# libpq connection keywords; any other ``?key=value`` of the URL is a server setting and is
# passed as ``options=-c key=value`` (as the core passes them to asyncpg's server_settings).
_LIBPQ_KEYWORDS = frozenset(
    {
        "application_name",
        "channel_binding",
        "client_encoding",
        "connect_timeout",
        "fallback_application_name",
        "gssencmode",
        "keepalives",
        "keepalives_count",
        "keepalives_idle",
        "keepalives_interval",
        "krbsrvname",
        "options",
        "passfile",
        "requirepeer",
        "service",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslcert",
        "sslcompression",
        "sslcrl",
        "sslkey",
        "sslmode",
        "sslpassword",
        "sslrootcert",
        "sslsni",
        "target_session_attrs",
        "tcp_user_timeout",
        "schema",  # yoyo's own option: sets search_path
    }
)


def _escape_option(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _uri(settings: Settings) -> DatabaseURI:
    uri = parse_uri(settings.postgres_url())
    args: dict[str, str] = {}
    server_settings: list[str] = []
    for key, value in uri.args.items():
        if key in _LIBPQ_KEYWORDS:
            args[key] = value
        else:
            server_settings.append(f"-c {key}={_escape_option(value)}")
    if server_settings:
        args["options"] = " ".join([args.get("options", ""), *server_settings]).strip()
    # libpq counts whole seconds (and treats anything below 2 as 2).
    args["connect_timeout"] = str(max(1, math.ceil(settings.connect_timeout)))
    return uri._replace(args=args)


class PostgresMigrations(MigrationBackend):
    name: ClassVar[str] = NAME

    def open(self, settings: Settings, *, read_only: bool) -> tuple[Any, bool]:
        driver: Any = importlib.import_module("psycopg2")
        try:
            backend = PostgresqlBackend(_uri(settings), default_migration_table)
        except driver.ProgrammingError as exc:  # libpq rejected the connection string itself
            raise ConfigurationError(
                "DATABASE_URL is not accepted by the PostgreSQL driver: "
                + scrub(str(exc), settings),
                variable="DATABASE_URL",
            ) from exc
        except driver.Error as exc:
            reason = scrub(str(exc).strip(), settings)
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
        dropped: list[str] = []
        with backend.transaction():
            for kind, name in objects:
                if name.strip('"') in keep:
                    continue
                backend.execute(f"DROP {kind} IF EXISTS {name} CASCADE")
                dropped.append(f"{kind.lower()} {name}")
        return dropped

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


# PostgreSQL reports types by their canonical names (format_type), not as written.
_CANONICAL = {
    "uuid": "uuid",
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "boolean": "boolean",
    "timestamp with time zone": "timestamptz",
    "double precision": "float",
    "date": "date",
    "jsonb": "json",
    "numeric": "decimal",
    "bytea": "bytes",
}


def logical_type(declared: str) -> str:
    normalized = " ".join(declared.split())
    found = _CANONICAL.get(normalized.lower())
    return found if found is not None else f"{NAME}:{normalized.lower()}"


_PG_COLUMNS = """
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_get_expr(d.adbin, d.adrelid)
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum
"""

_PG_CONSTRAINTS = """
    SELECT c.relname, con.contype,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                 ORDER BY k.ord),
           rc.relname,
           ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                 ORDER BY k.ord),
           con.confdeltype
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_class rc ON rc.oid = con.confrelid
    WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f')
"""

# Indexes created with CREATE INDEX, not those backing a primary key or unique constraint.
_PG_INDEXES = """
    SELECT c.relname, ic.relname, i.indisunique,
           ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                 FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k),
           pg_get_expr(i.indpred, i.indrelid)
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      AND NOT EXISTS (
          SELECT 1 FROM pg_constraint con
          WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
            AND con.contype IN ('p', 'u', 'x'))
"""

_ON_DELETE = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}


def introspect(backend: Any) -> Schema:
    columns: dict[str, dict[str, Column]] = defaultdict(dict)
    for table, name, declared, notnull, default in backend.execute(_PG_COLUMNS).fetchall():
        columns[table][name] = Column(
            type=logical_type(declared),
            nullable=not notnull,
            default=normalize_default(default),
        )
    primary: dict[str, tuple[str, ...]] = {}
    unique: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    foreign: dict[str, list[ForeignKey]] = defaultdict(list)
    for table, kind, cols, parent, parent_cols, on_delete in backend.execute(
        _PG_CONSTRAINTS
    ).fetchall():
        if kind == "p":
            primary[table] = tuple(cols)
        elif kind == "u":
            unique[table].append(tuple(cols))
        else:
            foreign[table].append(
                ForeignKey(tuple(cols), parent, tuple(parent_cols), _ON_DELETE[on_delete])
            )
    indexes: dict[str, dict[str, Index]] = defaultdict(dict)
    for table, index, is_unique, keys, where in backend.execute(_PG_INDEXES).fetchall():
        indexes[table][index] = Index(
            tuple(normalize_expression(key) for key in keys),
            bool(is_unique),
            normalize_expression(where) if where else None,
        )
    tables = {
        name: Table(
            columns=cols,
            primary_key=primary.get(name, ()),
            foreign_keys=tuple(foreign.get(name, ())),
            unique_constraints=tuple(unique.get(name, ())),
            indexes=indexes.get(name, {}),
        )
        for name, cols in columns.items()
        if not is_bookkeeping(name)
    }
    return Schema(dict(sorted(tables.items())))
