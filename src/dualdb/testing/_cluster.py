"""A throwaway PostgreSQL server: a private cluster in a temporary directory.

Tests want a real server they may break, not a shared one: :func:`start_postgres` runs
``initdb`` and ``pg_ctl`` on a free port of 127.0.0.1 (and a Unix socket in the same
temporary directory), with durability off, since the data is thrown away. As root, the
tools run as the ``postgres`` system user (they refuse to run as root).

The server is stopped and its directory removed by :meth:`PostgresServer.stop`, by an
``atexit`` hook, and, should the process be killed outright (SIGKILL, a CI timeout), by a
small watchdog process that notices its parent is gone: a crashed test run leaves no
server behind.

Installing PostgreSQL is left to the user (the message says what to install): a library
does not run a package manager. No message here contains a password.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from dualdb.errors import HarnessError

__all__ = [
    "SERVER_SETTINGS",
    "Cluster",
    "PostgresServer",
    "dbname_from_url",
    "find_bindir",
    "redact_url",
    "server_user",
    "start_postgres",
]

#: The role the cluster's superuser is created as.
SUPERUSER = "dualdb"

#: Settings for a server whose data nobody wants back.
SERVER_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "400",
    "shared_buffers": "128MB",
}

PG_LIB_ROOT = Path("/usr/lib/postgresql")
_PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1"})
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 40

# --------------------------------------------------------------------------------------------
# URLs and secrets
# --------------------------------------------------------------------------------------------

_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&\s]*")


def redact_url(url: str) -> str:
    """``url`` with any password (userinfo or ``password=`` parameter) shown as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostinfo}" if sep else netloc
    query = _PASSWORD_PARAM.sub(r"\1***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str, secrets: Sequence[str] = ()) -> str:
    """Free text (a server log, a driver message) with the given secrets and any
    ``password=`` value shown as ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _PASSWORD_PARAM.sub(r"\1***", text)


def url_password(url: str) -> str:
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname`` (same server, user and options)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


def dbname_from_url(url: str) -> str:
    """The database name of a ``postgresql://`` URL."""
    name = unquote(urlsplit(url).path.lstrip("/"))
    if not name:
        raise HarnessError(f"URL has no database name: {redact_url(url)}")
    return name


# --------------------------------------------------------------------------------------------
# Finding the server binaries
# --------------------------------------------------------------------------------------------


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file()


def _version_key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (-1,)


def find_bindir() -> Path | None:
    """The directory holding ``initdb``/``pg_ctl``, or None if the server is not installed.

    Debian keeps them off PATH, so ``pg_config --bindir`` and the newest
    ``/usr/lib/postgresql/*/bin`` are asked first, then PATH.
    """
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(  # noqa: S603 - pg_config found on PATH, fixed arguments
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_server(Path(out)):
            return Path(out)
    candidates = [d for d in PG_LIB_ROOT.glob("*/bin") if _has_server(d)]
    if candidates:
        return max(candidates, key=lambda d: _version_key(d.parent.name))
    initdb = shutil.which("initdb")
    if initdb and _has_server(Path(initdb).parent):
        return Path(initdb).parent
    return None


MISSING_BINARIES = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: looked at pg_config --bindir, "
    f"{PG_LIB_ROOT}/*/bin and PATH. Install the PostgreSQL server (Debian/Ubuntu: "
    "`apt-get install postgresql`; Fedora: `dnf install postgresql-server`; macOS: "
    "`brew install postgresql`), or give the URL of a server whose user may CREATE DATABASE "
    "(--dualdb-postgresql-url / DUALDB_TEST_POSTGRESQL_URL)."
)


def require_bindir() -> Path:
    bindir = find_bindir()
    if bindir is None:
        raise HarnessError(MISSING_BINARIES)
    return bindir


def server_user() -> str | None:
    """The system user to run initdb/pg_ctl as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        pwd.getpwnam("postgres")
        return "postgres"
    raise HarnessError(
        "running as root, and PostgreSQL's tools refuse to run as root: there is no "
        "`postgres` system user to run them as. Install the PostgreSQL server package (it "
        "creates that user) or run the tests as another user."
    )


# --------------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    """Our environment without PG* variables (PGPORT, PGDATA... would confuse the tools)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _usable_temp_root(user: str | None) -> str | None:
    """The directory for mkdtemp: the default one, unless the server user cannot reach it
    or the Unix socket path would get too long (the limit is about 107 bytes)."""
    root = tempfile.gettempdir()
    if len(root) > 60:
        return "/tmp"  # noqa: S108 - a short, world-reachable root; mkdtemp makes it private
    if user is not None:
        path = Path(root).resolve()
        for directory in (path, *path.parents):
            if not os.stat(directory).st_mode & 0o001:
                return "/tmp"  # noqa: S108
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A private PostgreSQL cluster in a temporary directory (subclass to add settings:
    override :meth:`initdb` and :meth:`server_options`)."""

    def __init__(
        self,
        bindir: Path,
        user: str | None,
        *,
        password: str,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.bindir = bindir
        self.user = user
        self.password = password
        self.settings = dict(SERVER_SETTINGS if settings is None else settings)
        self.base = Path(tempfile.mkdtemp(prefix="dualdb-pg-", dir=_usable_temp_root(user)))
        self.datadir = self.base / "data"
        self.logfile = self.base / "server.log"
        self.port = 0
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._destroyed = False
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self._start_watchdog()

    # -- plumbing ------------------------------------------------------------------------

    def _cmd(self, tool: str, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user is not None else []
        return [*prefix, str(self.bindir / tool), *args]

    def _run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = self._cmd(tool, *args)
        try:
            return subprocess.run(  # noqa: S603 - our own arguments, no shell
                cmd,
                capture_output=True,
                text=True,
                check=False,
                cwd=self.base,  # the server user may not be able to enter our cwd
                env=_clean_env(),
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(
                f"`{tool} {' '.join(args)}` timed out after {timeout:.0f}s{self.log_tail()}"
            ) from exc

    def redact(self, text: str) -> str:
        return redact_text(text, [self.password])

    def log_tail(self) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        except OSError:
            return ""
        if not lines:
            return ""
        return f"\n--- last lines of {self.logfile} ---\n" + self.redact("\n".join(lines))

    def server_options(self) -> list[str]:
        """The server's command-line options (``-c name=value`` pairs)."""
        opts = [
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.base}",
        ]
        for key, value in self.settings.items():
            opts += ["-c", f"{key}={value}"]
        return opts

    def _server_options(self) -> str:
        return " ".join(shlex.quote(o) for o in self.server_options())  # pg_ctl runs /bin/sh

    @property
    def url(self) -> str:
        password = quote(self.password, safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/postgres"

    # -- the watchdog: cleans up if this process dies without running atexit ---------------

    def _start_watchdog(self) -> None:
        spec = {"stop": self._cmd("pg_ctl", *self._stop_args("immediate")), "base": str(self.base)}
        self._watchdog = subprocess.Popen(  # noqa: S603
            [sys.executable, "-I", str(Path(__file__).resolve()), "_watchdog", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,  # Ctrl+C in the terminal must not kill it first
        )

    def _dismiss_watchdog(self) -> None:
        proc, self._watchdog = self._watchdog, None
        if proc is None or proc.stdin is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.write(b"done")
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # -- lifecycle -----------------------------------------------------------------------

    def initdb(self) -> None:
        pwfile = self.base / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.password + "\n")
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        common = [
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
        try:
            proc = self._run("initdb", *common, "--locale=C.UTF-8")
            if proc.returncode != 0:
                shutil.rmtree(self.datadir, ignore_errors=True)
                first = proc
                proc = self._run("initdb", *common, "--no-locale")
                if proc.returncode != 0:
                    raise HarnessError(
                        f"initdb failed (exit code {proc.returncode}) with --locale=C.UTF-8:\n"
                        f"{self.redact(first.stdout + first.stderr).strip()}\n"
                        f"and with --no-locale:\n{self.redact(proc.stdout + proc.stderr).strip()}"
                    )
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> None:
        last_error = ""
        for _attempt in range(_START_ATTEMPTS):
            self.port = free_port()
            proc = self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-o",
                self._server_options(),
            )
            if proc.returncode == 0:
                return
            last_error = self.redact(proc.stdout + proc.stderr).strip()
            log = self.log_tail()
            if "could not bind" not in log and "already in use" not in log:
                break  # not a port race: retrying will not help
            self.logfile.unlink(missing_ok=True)
        raise HarnessError(
            f"PostgreSQL server did not start (pg_ctl start, port {self.port}, "
            f"data in {self.datadir}): {last_error}{self.log_tail()}"
        )

    def restart(self) -> None:
        proc = self._run(
            "pg_ctl",
            "restart",
            "-w",
            "-t",
            "60",
            "-m",
            "fast",
            "-D",
            str(self.datadir),
            "-l",  # without -l the server would write to our (captured) stdout
            str(self.logfile),
            "-o",
            self._server_options(),
        )
        if proc.returncode != 0:
            raise HarnessError(
                f"pg_ctl restart failed: {self.redact(proc.stdout + proc.stderr).strip()}"
                f"{self.log_tail()}"
            )

    def _stop_args(self, mode: str) -> list[str]:
        return ["stop", "-w", "-t", "60", "-m", mode, "-D", str(self.datadir)]

    def destroy(self) -> None:
        """Stop the server (if running) and remove the directory. Idempotent."""
        if self._destroyed:
            return
        self._destroyed = True
        try:
            if (self.datadir / "postmaster.pid").exists():
                proc = self._run("pg_ctl", *self._stop_args("fast"), timeout=90)
                if proc.returncode != 0 and (self.datadir / "postmaster.pid").exists():
                    self._run("pg_ctl", *self._stop_args("immediate"), timeout=90)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self._dismiss_watchdog()


# --------------------------------------------------------------------------------------------
# The public object
# --------------------------------------------------------------------------------------------


class PostgresServer:
    """A PostgreSQL server for tests: a throwaway cluster (``managed``) or one given by URL.

    ``url`` is the admin URL (the superuser of a managed cluster, database ``postgres``).
    It holds the password: show it with :func:`redact_url`.
    """

    def __init__(self, url: str, *, cluster: Cluster | None = None) -> None:
        self.url = url
        self._cluster = cluster
        self._stopped = False

    def __repr__(self) -> str:
        kind = "managed" if self.managed else "external"
        return f"{type(self).__name__}({redact_url(self.url)!r}, {kind})"

    @property
    def managed(self) -> bool:
        """True if :func:`start_postgres` started the server (so it may be restarted)."""
        return self._cluster is not None

    @property
    def socket_folder(self) -> Path:
        """The folder of a managed cluster's Unix socket."""
        if self._cluster is None:
            raise HarnessError("an external server has no socket folder of ours")
        return self._cluster.base

    @property
    def log_tail(self) -> str:
        """The last lines of a managed server's log (empty for an external server)."""
        return self._cluster.log_tail() if self._cluster is not None else ""

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server, with the admin credentials."""
        return with_database(self.url, name)

    # -- admin SQL ------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact_text(text, [url_password(self.url)])

    @contextlib.contextmanager
    def _admin_cursor(self) -> Iterator[Any]:
        import psycopg2  # type: ignore[import-untyped, unused-ignore]

        try:
            conn = psycopg2.connect(self.url, connect_timeout=10)
        except psycopg2.Error as exc:
            raise HarnessError(
                f"cannot connect to PostgreSQL at {redact_url(self.url)}: "
                f"{self._redact(str(exc)).strip()}"
            ) from None
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                try:
                    yield cur
                except psycopg2.Error as exc:
                    raise HarnessError(
                        f"PostgreSQL at {redact_url(self.url)}: {self._redact(str(exc)).strip()}"
                    ) from None
        finally:
            conn.close()

    def execute(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """Run one admin statement (autocommit) and return its rows (``[]`` if none)."""
        with self._admin_cursor() as cur:
            cur.execute(sql, params)
            rows: list[tuple[Any, ...]] = cur.fetchall() if cur.description is not None else []
            return rows

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template``, if given) and return its URL."""
        from psycopg2 import sql  # type: ignore[import-untyped, unused-ignore]

        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            stmt = sql.SQL("{} TEMPLATE {}").format(stmt, sql.Identifier(template))
        with self._admin_cursor() as cur:
            cur.execute(stmt)
        return self.database_url(name)

    def terminate_backends(self, dbname: str, *, wait: float = 10.0) -> int:
        """End every other connection to ``dbname`` and wait (at most ``wait`` seconds)
        until they are gone; return how many there were."""
        with self._admin_cursor() as cur:
            cur.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
            count = int(cur.fetchone()[0])
            deadline = time.monotonic() + wait
            while count and time.monotonic() < deadline:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (dbname,),
                )
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.02)
        return count

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, ending its connections first."""
        from psycopg2 import sql  # type: ignore[import-untyped, unused-ignore]

        if name in _PROTECTED_DATABASES | {dbname_from_url(self.url)}:
            raise HarnessError(f"refusing to drop database {name!r}")
        self.terminate_backends(name)
        with self._admin_cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- lifecycle (managed server only) ----------------------------------------------------

    def restart(self) -> None:
        """Restart the managed server on the same port; every connection is dropped."""
        if self._cluster is None:
            raise HarnessError("restart() needs a managed server; this one is external")
        if self._stopped:
            raise HarnessError("server already stopped")
        self._cluster.restart()

    def stop(self) -> None:
        """Stop a managed server and delete its files. Idempotent; nothing when external."""
        if self._stopped:
            return
        self._stopped = True
        _live_servers.discard(self)
        if self._cluster is not None:
            self._cluster.destroy()


_live_servers: set[PostgresServer] = set()


def _stop_all() -> None:
    for server in list(_live_servers):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all)


def start_postgres(
    *,
    password: str | None = None,
    settings: Mapping[str, str] | None = None,
    bindir: Path | None = None,
    user: str | None = None,
    cluster_class: type[Cluster] = Cluster,
) -> PostgresServer:
    """Start a throwaway PostgreSQL cluster and return it; ``stop()`` it when done (an
    ``atexit`` hook and a watchdog do, otherwise). ``settings`` replace
    :data:`SERVER_SETTINGS`; ``password`` (random by default) is the superuser's."""
    found = bindir if bindir is not None else require_bindir()
    cluster = cluster_class(
        found,
        user if user is not None else server_user(),
        password=password or secrets.token_urlsafe(16),
        settings=settings,
    )
    try:
        cluster.initdb()
        cluster.start()
    except BaseException:
        cluster.destroy()
        raise
    server = PostgresServer(cluster.url, cluster=cluster)
    _live_servers.add(server)
    return server


# --------------------------------------------------------------------------------------------
# The watchdog process
# --------------------------------------------------------------------------------------------


def watchdog_main(spec_json: str) -> int:
    """Wait for our parent to go away; if it did not say ``done`` first, clean up after it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data = sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe, or died
    if data == b"done":
        return 0
    spec = json.loads(spec_json)
    base = Path(spec["base"])
    # The file that says the process still runs (a caller's spec may name its own).
    if (base / spec.get("running", "data/postmaster.pid")).exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(spec["stop"], cwd=base, capture_output=True, timeout=90, check=False)  # noqa: S603
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_watchdog":
        sys.exit(watchdog_main(sys.argv[2]))
    sys.exit("usage: _cluster.py _watchdog SPEC (started by dualdb.testing itself)")
