"""PostgreSQL backups with the server's client tools: ``pg_dump -Fc`` and ``pg_restore``.

The tools are found on ``PATH``, then in ``pg_config --bindir``, then in the newest
``/usr/lib/postgresql/*/bin`` (Debian keeps them there); ``DUALDB_PG_BINDIR`` names the
one folder to use instead. A ``pg_dump`` older than the server refuses to dump it, so
that is checked first and said plainly.

Every connection parameter reaches the tools through libpq's ``PG*`` environment
variables and the password through a passfile in a private temporary folder: never on
the command line (``ps`` shows it to every user) nor in a message. The tools' stderr is
shown scrubbed of passwords.

The dump runs in a snapshot exported by a repeatable-read transaction of dualdb's own
(``pg_dump --snapshot``), which also counts each table's rows: the counts in the
manifest are those of the dump, however busy the writers are.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from dualdb.dialects.base import Backups
from dualdb.dialects.postgres.dialect import NAME, require_driver
from dualdb.errors import BackupError, BackupToolMissing, ConfigurationError, ConnectionFailed
from dualdb.migrate.connection import scrub
from dualdb.settings import Settings

__all__ = ["BINDIR_VARIABLE", "PostgresBackups", "dump_command", "restore_command", "tool_env"]

#: The one folder to take ``pg_dump``/``pg_restore`` from, instead of searching.
BINDIR_VARIABLE = "DUALDB_PG_BINDIR"
_LIB_ROOT = Path("/usr/lib/postgresql")
_TOOL_TIMEOUT = 24 * 3600.0

#: libpq connection parameter → its environment variable (``sslpassword`` has none).
_ENVIRONMENT = {
    "host": "PGHOST",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "passfile": "PGPASSFILE",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslsni": "PGSSLSNI",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "krbsrvname": "PGKRBSRVNAME",
    "gsslib": "PGGSSLIB",
}


def _escape_option(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


def connection_parameters(settings: Settings) -> dict[str, str]:
    """libpq's parameters for ``settings``, the password left out."""
    if settings.pgbouncer:
        raise ConfigurationError(
            "backups need the PostgreSQL server itself (pg_dump keeps a session and a "
            "snapshot), not PgBouncer in transaction mode: give the server's URL",
            variable="DATABASE_URL",
        )
    params = dict(settings.connect_options)
    if "sslpassword" in params:
        raise ConfigurationError(
            "backups cannot pass sslpassword to pg_dump without the command line: use a "
            "client key without a passphrase for the backup role",
            variable="DATABASE_URL",
        )
    endpoints = settings.endpoints()
    params["host"] = ",".join(host for host, _ in endpoints)
    params["port"] = ",".join(str(port) for _, port in endpoints)
    if len(endpoints) > 1:
        params.setdefault("target_session_attrs", "read-write")  # the primary
    params["dbname"] = settings.database or ""
    if settings.user:
        params["user"] = settings.user
    if settings.sslmode:
        params["sslmode"] = settings.sslmode
    server_settings = [f"-c {key}={_escape_option(value)}" for key, value in settings.url_options]
    if server_settings:
        params["options"] = " ".join(server_settings)
    params["connect_timeout"] = str(max(2, math.ceil(settings.connect_timeout)))
    return params


def tool_env(params: Mapping[str, str], passfile: Path | None) -> dict[str, str]:
    """The tools' environment: this process's, without any inherited ``PG*`` variable,
    plus the connection parameters as ``PG*`` variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for key, value in params.items():
        env[_ENVIRONMENT[key]] = value
    if passfile is not None:
        env["PGPASSFILE"] = str(passfile)
    return env


def dump_command(pg_dump: Path, path: Path, snapshot: str | None) -> list[str]:
    """``pg_dump``'s argv: no connection parameter, no password (they are in the env)."""
    argv = [str(pg_dump), "--format=custom", "--no-password", f"--file={path}"]
    if snapshot is not None:
        argv.append(f"--snapshot={snapshot}")
    return argv


def restore_command(pg_restore: Path, path: Path, database: str, *, replace: bool) -> list[str]:
    """``pg_restore``'s argv: all or nothing (one transaction, stop at the first error)."""
    # -d takes a connection string; one holding only the name keeps a name with "=" a name.
    quoted = database.replace("\\", "\\\\").replace("'", "\\'")
    argv = [
        str(pg_restore),
        "--no-password",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname=dbname='{quoted}'",
    ]
    if replace:
        argv += ["--clean", "--if-exists"]
    return [*argv, str(path)]


@contextmanager
def _passfile(password: str | None) -> Iterator[Path | None]:
    if password is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="dualdb-pg-") as folder:
        path = Path(folder) / "pgpass"
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(f"*:*:*:*:{escaped}\n")
        yield path


def _version(tool: Path) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 - a found tool, fixed arguments
            [str(tool), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\)\s*(\d+)", out)
    return int(found.group(1)) if found else None


def _candidates(name: str) -> tuple[list[Path], str]:
    """Where ``name`` may be, in the order searched, and how to say where we looked."""
    chosen = os.environ.get(BINDIR_VARIABLE, "").strip()
    if chosen:
        tool = Path(chosen) / name
        return ([tool] if tool.is_file() else []), f"{BINDIR_VARIABLE}={chosen}"
    found: list[Path] = []
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            bindir = subprocess.run(  # noqa: S603 - pg_config found on PATH, fixed arguments
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=False
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            bindir = ""
        if bindir and (Path(bindir) / name).is_file():
            found.append(Path(bindir) / name)
    versions = sorted(
        _LIB_ROOT.glob(f"*/bin/{name}"),
        key=lambda p: [int(part) for part in re.findall(r"\d+", p.parent.parent.name)],
        reverse=True,
    )
    found.extend(versions)
    return found, f"PATH, pg_config --bindir and {_LIB_ROOT}/*/bin"


def find_tool(name: str, server_major: int) -> Path:
    """The first ``name`` found that is at least as new as the server."""
    candidates, where = _candidates(name)
    older: list[str] = []
    for tool in candidates:
        version = _version(tool)
        if version is not None and version >= server_major:
            return tool
        older.append(f"{tool} ({'unknown version' if version is None else version})")
    install = (
        f"install the PostgreSQL {server_major} client tools (Debian/Ubuntu: apt-get install "
        f"postgresql-client-{server_major}) or set {BINDIR_VARIABLE} to their folder"
    )
    if older:
        raise BackupToolMissing(
            f"{name} is older than the server (PostgreSQL {server_major}), which it cannot "
            f"handle: found {', '.join(older)}; {install}",
            dialect=NAME,
        )
    raise BackupToolMissing(f"{name} not found (looked in {where}): {install}", dialect=NAME)


@contextmanager
def _connection(settings: Settings, params: Mapping[str, str]) -> Iterator[Any]:
    driver: Any = require_driver("psycopg2", "Backups of PostgreSQL")
    try:
        conn = driver.connect(password=settings.password, **params)
    except driver.Error as exc:
        raise ConnectionFailed(
            f"cannot connect to {settings.display_url()}: {scrub(str(exc).strip())}",
            dialect=NAME,
        ) from None
    with closing(conn):
        yield conn


def _counts(cursor: Any) -> dict[str, int]:
    cursor.execute(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN "
        "('pg_catalog', 'information_schema') ORDER BY schemaname, tablename"
    )
    counts: dict[str, int] = {}
    for schema, table in cursor.fetchall():
        cursor.execute(
            "SELECT count(*) FROM "
            + ".".join('"' + str(part).replace('"', '""') + '"' for part in (schema, table))
        )
        counts[table if schema == "public" else f"{schema}.{table}"] = int(cursor.fetchone()[0])
    return counts


def _run(argv: Sequence[str], env: Mapping[str, str], action: str) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - a found tool; no shell, no secret in argv
            list(argv), env=dict(env), capture_output=True, text=True, timeout=_TOOL_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{action} could not run: {type(exc).__name__}", dialect=NAME) from None
    if result.returncode != 0:
        output = scrub(result.stderr.strip()) or f"exit status {result.returncode}"
        raise BackupError(f"{action} failed: {output}", dialect=NAME)


class PostgresBackups(Backups):
    suffix: ClassVar[str] = "dump"

    def dump(self, settings: Settings, path: Path) -> dict[str, int]:
        params = connection_parameters(settings)
        with _connection(settings, params) as conn, _passfile(settings.password) as passfile:
            pg_dump = find_tool("pg_dump", conn.server_version // 10000)
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = str(cursor.fetchone()[0])
                counts = _counts(cursor)
            _run(dump_command(pg_dump, path, snapshot), tool_env(params, passfile), "pg_dump")
            conn.rollback()
        return counts

    def restore(self, settings: Settings, path: Path, *, replace: bool) -> None:
        params = connection_parameters(settings)
        with _connection(settings, params) as conn:
            pg_restore = find_tool("pg_restore", conn.server_version // 10000)
        argv = restore_command(pg_restore, path, params["dbname"], replace=replace)
        with _passfile(settings.password) as passfile:
            _run(argv, tool_env(params, passfile), "pg_restore")

    def row_counts(self, settings: Settings) -> dict[str, int]:
        with _connection(settings, connection_parameters(settings)) as conn:
            conn.set_session(readonly=True, autocommit=True)
            with conn.cursor() as cursor:
                return _counts(cursor)
