"""PostgreSQL for the migration tooling: yoyo's psycopg2 backend, connecting, drop-all.

yoyo's plain ``postgresql://`` URLs use psycopg2, so the CLI does too: ``dualdb migrate``
and ``yoyo apply`` then behave alike on one database.
"""

from __future__ import annotations

import importlib
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from yoyo.backends.core.postgresql import PostgresqlBackend as _YoyoPostgresqlBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import default_migration_table

from dualdb.dialects.base import MigrationBackend
from dualdb.dialects.postgres.dialect import NAME, require_driver
from dualdb.dialects.postgres.introspect import introspect, logical_type
from dualdb.errors import ConfigurationError, ConnectionFailed
from dualdb.migrate.backends import AfterChange, AtomicMigrations, drop_listed
from dualdb.migrate.connection import scrub
from dualdb.migrate.locking import LockInfo, held, lock_holder
from dualdb.migrate.schema import Schema
from dualdb.settings import Settings

__all__ = ["PostgresMigrations", "PostgresqlBackend"]


class PostgresqlBackend(AtomicMigrations, _YoyoPostgresqlBackend):  # type: ignore[misc]
    """yoyo's psycopg2 backend with atomic migrations (see :mod:`dualdb.migrate.backends`)."""

    dialect = NAME
    after_change: AfterChange | None = None

    def _check_transactional_ddl(self) -> bool:
        return True


#: The application_name of the connection holding a dualdb run's migration lock (with
#: the run's pid after it): how another run names the holder.
_LOCK_APPLICATION = "dualdb migrate"


def _escape_option(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _uri(settings: Settings) -> DatabaseURI:
    """What yoyo's backend hands psycopg2 as keywords: libpq's host and port lists
    (several servers, socket folders) and connection parameters as they are, the
    server settings as ``options``."""
    args: dict[str, str] = dict(settings.connect_options)
    if settings.sslmode:
        args["sslmode"] = settings.sslmode
    if settings.pgbouncer:
        # PgBouncer refuses libpq's options parameter; the one setting it passes on
        # (see Settings) is a connection parameter of libpq's own.
        args.update(settings.url_options)
    else:
        server_settings = [
            f"-c {key}={_escape_option(value)}" for key, value in settings.url_options
        ]
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
        driver: Any = require_driver("psycopg2", "Running migrations on PostgreSQL")
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

    @contextmanager
    def migration_lock(
        self, backend: Any, *, timeout: float, break_lock: bool, echo: Callable[[str], None]
    ) -> Iterator[None]:
        """yoyo's lock row, inserted on a connection of its own in a transaction that
        stays open until the run ends and is then rolled back: a killed run's connection
        closes, the server rolls its transaction back, and the row is gone. Plain yoyo
        sees the uncommitted row's key and waits for it; another dualdb run waits here.
        A committed row (plain yoyo's) is waited for, or removed by ``break_lock``."""
        holder = lock_holder(backend)
        if holder is not None and break_lock:
            backend.break_lock()
            echo(f"Removed the migration lock held by {holder.describe()}.")
        lock = backend.connect(backend.uri)
        try:
            lock.autocommit = False
            self._take_row(backend, lock, timeout, echo)
            # What yoyo's own lock() sets while held: yoyo's internal-schema upgrade then
            # takes no lock row of its own (which would wait for ours forever).
            backend._is_locked = True
            try:
                yield
            finally:
                backend._is_locked = False
        finally:
            lock.close()  # (rolls the row back)

    def _take_row(
        self, backend: Any, lock: Any, timeout: float, echo: Callable[[str], None]
    ) -> None:
        driver: Any = importlib.import_module("psycopg2")
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                # Settings of the lock's transaction alone: behind PgBouncer the next
                # transaction may run on another server connection.
                lock.cursor().execute(
                    "SELECT set_config('application_name', %s, true), "
                    "set_config('lock_timeout', '200ms', true)",
                    (f"{_LOCK_APPLICATION} {os.getpid()}",),
                )
                lock.cursor().execute(
                    f"INSERT INTO {backend.lock_table_quoted} (locked, ctime, pid) "
                    "VALUES (1, now() AT TIME ZONE 'UTC', %s)",
                    (os.getpid(),),
                )
                return
            except driver.Error as exc:
                lock.rollback()
                if getattr(exc, "pgcode", None) not in ("23505", "55P03"):
                    raise  # not "taken" (unique violation) or "being taken" (lock timeout)
            running = self.running_migration(backend)
            holder = running or lock_holder(backend)
            if time.monotonic() >= deadline:
                raise held(holder, timeout, live=running is not None)
            if not waiting:
                who = holder.describe() if holder is not None else "another run"
                echo(f"Waiting up to {timeout:g} s for the migration lock held by {who}…")
                waiting = True
            time.sleep(0.2)

    def running_migration(self, backend: Any) -> LockInfo | None:
        row = backend.execute(
            "SELECT application_name, CAST(xact_start AT TIME ZONE 'UTC' AS TEXT) "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE :prefix AND application_name <> :mine "
            "ORDER BY xact_start LIMIT 1",
            {"prefix": f"{_LOCK_APPLICATION} %", "mine": f"{_LOCK_APPLICATION} {os.getpid()}"},
        ).fetchone()
        if row is None:
            return None
        pid = row[0].rsplit(" ", 1)[1]
        return LockInfo(int(pid) if pid.isdigit() else 0, row[1])

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
