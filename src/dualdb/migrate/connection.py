"""Settings → an open yoyo backend, with dualdb's timeouts and error messages.

The CLI's commands are synchronous and use yoyo's DB-API connections (``sqlite3``,
``psycopg2``), so this is all the connection handling the migration tooling needs. Every
message is built from :meth:`Settings.display_url` and scrubbed of the password: the full
URL (:meth:`Settings.postgres_url`) only ever reaches the driver.
"""

from __future__ import annotations

import importlib
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from yoyo.connections import DatabaseURI, parse_uri
from yoyo.migrations import default_migration_table

from dualdb.errors import ConfigurationError, ConnectionFailed
from dualdb.migrate.backends import PostgresqlBackend, SQLiteBackend
from dualdb.migrate.logical_types import Backend
from dualdb.settings import Settings

__all__ = ["Target", "describe_error", "open_target", "scrub"]

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


def scrub(text: str, settings: Settings) -> str:
    """``text`` with the password (raw and URL-quoted) replaced by ``***``."""
    password = settings.password
    if password:
        for form in {password, quote(password, safe="")}:
            text = text.replace(form, "***")
    return text


def describe_error(exc: BaseException) -> str:
    """A one-message description of ``exc``: the database's own text for driver errors,
    ``Type: message`` otherwise. Callers still :func:`scrub` it."""
    text = str(exc).strip()
    if type(exc).__module__.startswith(("sqlite3", "psycopg2", "psycopg")):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _escape_option(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def _postgres_uri(settings: Settings) -> DatabaseURI:
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


@dataclass
class Target:
    """An open connection to the database being migrated, through a yoyo backend.

    ``existed`` is false when a read-only command found no SQLite file: the backend then
    holds a private in-memory database, so that "nothing applied" needs no special case
    and the missing file is not created.
    """

    settings: Settings
    backend: Any
    existed: bool = True

    @property
    def dialect(self) -> Backend:
        return self.settings.backend

    @property
    def display_url(self) -> str:
        return self.settings.display_url()

    def scrub(self, text: str) -> str:
        return scrub(text, self.settings)

    def close(self) -> None:
        self.backend.connection.close()

    def __enter__(self) -> Target:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _sqlite_target(settings: Settings, *, read_only: bool) -> Target:
    path = settings.sqlite_file
    if path == ":memory:":
        raise ConfigurationError(
            "migrations need a SQLite database file; ':memory:' would vanish when the "
            "command exits (set SQLITE_FILE or --database sqlite:///path/to/app.db)",
            variable="SQLITE_FILE",
        )
    existed = Path(path).exists()
    if read_only and not existed:
        path = ":memory:"
    elif not existed:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConnectionFailed(
                f"cannot create the folder of {settings.display_url()}: {exc.strerror}",
                dialect="sqlite",
            ) from exc
    uri = DatabaseURI(
        scheme="sqlite",
        username=None,
        password=None,
        hostname=None,
        port=None,
        database=path,
        args={"timeout": str(settings.sqlite_busy_timeout)},
    )
    try:
        backend = SQLiteBackend(uri, default_migration_table)
    except sqlite3.Error as exc:
        raise ConnectionFailed(
            f"cannot open {settings.display_url()}: {exc}", dialect="sqlite"
        ) from exc
    try:
        backend.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error as exc:
        backend.connection.close()
        raise ConnectionFailed(
            f"cannot use {settings.display_url()}: {exc}", dialect="sqlite"
        ) from exc
    return Target(settings, backend, existed=existed)


def _postgres_target(settings: Settings) -> Target:
    driver: Any = importlib.import_module("psycopg2")
    try:
        backend = PostgresqlBackend(_postgres_uri(settings), default_migration_table)
    except driver.ProgrammingError as exc:  # libpq rejected the connection string itself
        raise ConfigurationError(
            f"DATABASE_URL is not accepted by the PostgreSQL driver: {scrub(str(exc), settings)}",
            variable="DATABASE_URL",
        ) from exc
    except driver.Error as exc:
        reason = scrub(str(exc).strip(), settings)
        raise ConnectionFailed(
            f"cannot connect to {settings.display_url()} "
            f"(connect timeout {math.ceil(settings.connect_timeout)} s): {reason}",
            dialect="postgresql",
        ) from exc
    return Target(settings, backend)


def open_target(settings: Settings, *, read_only: bool = False) -> Target:
    """Connect to the configured database.

    ``read_only`` commands (status, check, dry runs) create nothing: no SQLite file or
    folder, no yoyo tables. Otherwise yoyo's lock table is created if missing, as yoyo does.
    Raises :class:`ConnectionFailed` (unreachable, refused, not a database) or
    :class:`ConfigurationError` (unusable settings), never with the password in the message.
    """
    if settings.backend == "sqlite":
        target = _sqlite_target(settings, read_only=read_only)
    else:
        target = _postgres_target(settings)
    if not read_only:
        target.backend.init_database()
    return target
