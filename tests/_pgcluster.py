"""A throwaway PostgreSQL server for the dualdb test-suite.

``start_server()`` returns a :class:`PgServer`:

* If ``DUALDB_TEST_DATABASE_URL`` is set (a ``postgresql://`` URL of an existing server whose
  user may ``CREATE DATABASE``), that server is used and nothing is started.
* Otherwise a private cluster is created with ``initdb`` in a temporary directory and started
  with ``pg_ctl`` on a free port on 127.0.0.1, with durability switched off (it is thrown away).
  As root, ``initdb``/``pg_ctl`` run as the ``postgres`` system user (they refuse to run as
  root); if PostgreSQL is not installed and we are root on a Debian-like system, it is installed
  with ``apt-get`` first.

The managed server is stopped and its directory removed by :meth:`PgServer.stop`, by an
``atexit`` hook, and, should the Python process be killed outright (SIGKILL, CI timeout), by a
small watchdog process that notices its parent is gone.

The module is also a script: ``python tests/_pgcluster.py ensure-binaries`` installs the server
binaries if needed and prints their directory (used by ``scripts/test``).

No message produced here contains a password: URLs are redacted and server logs are scrubbed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = [
    "CERT_USER",
    "ENV_DATABASE_URL",
    "PASSWORD",
    "SUPERUSER",
    "PgClusterError",
    "PgServer",
    "dbname_from_url",
    "ensure_bindir",
    "find_bindir",
    "make_certificates",
    "redact_url",
    "start_server",
]

ENV_DATABASE_URL = "DUALDB_TEST_DATABASE_URL"
SUPERUSER = "dualdb"
PASSWORD = "dualdb-test-pw"

#: Settings for a server whose data nobody wants back.
SERVER_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "400",
    "shared_buffers": "128MB",
}

_FALLBACK_SYSTEM_USER = "dualdb-pg"
_PG_LIB_ROOT = Path("/usr/lib/postgresql")
_PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1"})
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 40


class PgClusterError(RuntimeError):
    """The test PostgreSQL server could not be found, started, or used."""


# --------------------------------------------------------------------------------------------
# URL helpers
# --------------------------------------------------------------------------------------------

_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&\s]*")


def redact_url(url: str) -> str:
    """Return *url* with any password (userinfo or ``password=`` parameter) replaced by ``***``."""
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


def _redact_text(text: str, secrets: Sequence[str] = ()) -> str:
    """Scrub passwords (URL or literal) out of free text such as a server log."""
    for secret in (PASSWORD, *secrets):
        if secret:
            text = text.replace(secret, "***")
    return _PASSWORD_PARAM.sub(r"\1***", text)


def _url_password(url: str) -> str:
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def _with_database(url: str, dbname: str) -> str:
    """Return *url* pointing at database *dbname* (same server, user and options)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


def dbname_from_url(url: str) -> str:
    """The database name of a ``postgresql://`` URL."""
    name = unquote(urlsplit(url).path.lstrip("/"))
    if not name:
        raise ValueError(f"URL has no database name: {redact_url(url)}")
    return name


# --------------------------------------------------------------------------------------------
# Finding / installing the server binaries
# --------------------------------------------------------------------------------------------


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file()


def _version_key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (-1,)


def find_bindir() -> Path | None:
    """Directory holding ``initdb``/``pg_ctl``, or ``None`` if PostgreSQL is not installed.

    Looks at ``pg_config --bindir``, then the newest ``/usr/lib/postgresql/*/bin``, then PATH.
    """
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_server(Path(out)):
            return Path(out)
    candidates = [d for d in _PG_LIB_ROOT.glob("*/bin") if _has_server(d)]
    if candidates:
        return max(candidates, key=lambda d: _version_key(d.parent.name))
    initdb = shutil.which("initdb")
    if initdb and _has_server(Path(initdb).parent):
        return Path(initdb).parent
    return None


def _log(message: str) -> None:
    print(f"[dualdb tests] {message}", file=sys.stderr, flush=True)


def _apt_install_postgresql() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    commands = [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ]
    for cmd in commands:
        _log(f"PostgreSQL server not found; running as root: {' '.join(cmd)}")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            output = (proc.stdout + proc.stderr).strip().splitlines()[-_LOG_TAIL_LINES:]
            raise PgClusterError(
                f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n" + "\n".join(output)
            )


def ensure_bindir(*, install: bool = True) -> Path:
    """Like :func:`find_bindir`, but installs PostgreSQL (root + apt-get only) or raises."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install_postgresql()
        bindir = find_bindir()
        if bindir is not None:
            _log(f"PostgreSQL server installed in {bindir}")
            return bindir
        raise PgClusterError(
            "apt-get installed `postgresql`, but initdb/pg_ctl are still not found "
            f"(looked at pg_config --bindir, {_PG_LIB_ROOT}/*/bin and PATH)."
        )
    raise PgClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: looked at pg_config --bindir, "
        f"{_PG_LIB_ROOT}/*/bin and PATH. Install the PostgreSQL server (Debian/Ubuntu: "
        "`apt-get install postgresql`; run the tests as root to have it done automatically), "
        f"or set {ENV_DATABASE_URL} to a postgresql:// URL of a server whose user may "
        "CREATE DATABASE."
    )


# --------------------------------------------------------------------------------------------
# Running the server tools (as another user when we are root)
# --------------------------------------------------------------------------------------------


def _server_user() -> str | None:
    """System user to run initdb/pg_ctl as, or ``None`` to run them as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", _FALLBACK_SYSTEM_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    _log(f"running as root and no `postgres` user: creating system user {_FALLBACK_SYSTEM_USER}")
    proc = subprocess.run(
        ["useradd", "--system", "--no-create-home", _FALLBACK_SYSTEM_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise PgClusterError(
            f"could not create system user {_FALLBACK_SYSTEM_USER}: {proc.stderr.strip()}"
        )
    return _FALLBACK_SYSTEM_USER


def _clean_env() -> dict[str, str]:
    """Our environment without PG* variables (PGPORT, PGDATA... would confuse the tools)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _usable_temp_root(user: str | None) -> str | None:
    """Directory for mkdtemp: the default one, unless the server user cannot reach it or the
    unix socket path would get too long (limit ~107 bytes)."""
    root = tempfile.gettempdir()
    if len(root) > 60:
        return "/tmp"
    if user is not None:
        path = Path(root).resolve()
        for directory in (path, *path.parents):
            if not os.stat(directory).st_mode & 0o001:
                return "/tmp"
    return None


class _Cluster:
    """A private PostgreSQL cluster in a temporary directory."""

    def __init__(self, bindir: Path, user: str | None, *, tls: bool = False) -> None:
        self.bindir = bindir
        self.user = user
        self.tls = tls
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
            return subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                check=False,
                cwd=self.base,  # the server user may not be able to enter our cwd
                env=_clean_env(),
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise PgClusterError(
                f"`{tool} {' '.join(args)}` timed out after {timeout:.0f}s{self.log_tail()}"
            ) from exc

    def log_tail(self) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        except OSError:
            return ""
        if not lines:
            return ""
        return f"\n--- last lines of {self.logfile} ---\n" + _redact_text("\n".join(lines))

    def _server_options(self) -> str:
        opts = [
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.base}",
        ]
        for key, value in SERVER_SETTINGS.items():
            opts += ["-c", f"{key}={value}"]
        if self.tls:
            tls = self.base / "tls"
            opts += ["-c", "ssl=on", "-c", f"ssl_cert_file={tls / 'server.crt'}"]
            opts += ["-c", f"ssl_key_file={tls / 'server.key'}"]
            opts += ["-c", f"ssl_ca_file={tls / 'ca.crt'}"]
        return " ".join(shlex.quote(o) for o in opts)  # pg_ctl hands this to /bin/sh

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/postgres"

    # -- watchdog: cleans up if this process dies without running atexit ------------------

    def _start_watchdog(self) -> None:
        spec = {"stop": self._cmd("pg_ctl", *self._stop_args("immediate")), "base": str(self.base)}
        self._watchdog = subprocess.Popen(
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
            fh.write(PASSWORD + "\n")
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
                    raise PgClusterError(
                        f"initdb failed (exit code {proc.returncode}) with --locale=C.UTF-8:\n"
                        f"{_redact_text(first.stdout + first.stderr).strip()}\n"
                        f"and with --no-locale:\n{_redact_text(proc.stdout + proc.stderr).strip()}"
                    )
        finally:
            pwfile.unlink(missing_ok=True)
        if self.tls:
            make_certificates(self.base / "tls", owner=self.user)
            # A client certificate signed by the CA logs CERT_USER in without a password.
            hba = self.datadir / "pg_hba.conf"
            hba.write_text(f"hostssl all {CERT_USER} 127.0.0.1/32 cert\n" + hba.read_text())

    def start(self) -> None:
        last_error = ""
        for _attempt in range(_START_ATTEMPTS):
            self.port = _free_port()
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
            last_error = _redact_text(proc.stdout + proc.stderr).strip()
            log = self.log_tail()
            if "could not bind" not in log and "already in use" not in log:
                break  # not a port race: retrying will not help
            self.logfile.unlink(missing_ok=True)
        raise PgClusterError(
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
            raise PgClusterError(
                f"pg_ctl restart failed: {_redact_text(proc.stdout + proc.stderr).strip()}"
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


#: The role a TLS cluster's client certificate (``client.crt``) logs in as.
CERT_USER = "dualdb_cert"


def make_certificates(folder: Path, *, owner: str | None = None) -> None:
    """A CA (``ca.crt``); a server certificate it signed for ``localhost`` only, not for
    127.0.0.1, so that verify-full can be seen refusing a name (``server.crt``/``.key``);
    a client certificate for ``CERT_USER`` (``client.crt``/``.key``); and a second CA that
    signed neither (``other-ca.crt``). Made with openssl (installed when missing)."""
    if shutil.which("openssl") is None:
        _log("openssl not found; installing it with apt-get")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "openssl"], check=True, capture_output=True
        )
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        proc = subprocess.run(
            ["openssl", *args], cwd=folder, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise PgClusterError(f"openssl {args[0]} failed: {proc.stderr.strip()}")

    for ca in ("ca", "other-ca"):
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN=dualdb test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
        )  # fmt: skip
    (folder / "server.ext").write_text("subjectAltName=DNS:localhost\n")
    for name, subject, extensions in (
        ("server", "/CN=localhost", ["-extfile", "server.ext"]),
        ("client", f"/CN={CERT_USER}", []),
    ):
        openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
            "-keyout", f"{name}.key", "-out", f"{name}.csr",
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", *extensions,
        )  # fmt: skip
    for key in folder.glob("*.key"):
        key.chmod(0o600)
    if owner is not None:
        entry = pwd.getpwnam(owner)
        for path in (folder, *folder.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------------------------
# The public object
# --------------------------------------------------------------------------------------------


class PgServer:
    """A PostgreSQL server for tests: either our throwaway cluster or an external one.

    ``url`` is the admin URL (superuser on the managed server; the user of
    ``DUALDB_TEST_DATABASE_URL`` otherwise). It contains the password: never print it, use
    :func:`redact_url`.
    """

    def __init__(self, url: str, *, cluster: _Cluster | None = None) -> None:
        self.url = url
        self._cluster = cluster
        self._stopped = False

    def __repr__(self) -> str:
        kind = "managed" if self.managed else "external"
        return f"PgServer({redact_url(self.url)!r}, {kind})"

    @property
    def managed(self) -> bool:
        """True if this module started the server (so it may be restarted/stopped)."""
        return self._cluster is not None

    @property
    def tls_folder(self) -> Path:
        """The certificates of a TLS cluster (see :func:`make_certificates`)."""
        assert self._cluster is not None and self._cluster.tls, "start_server(tls=True)"
        return self._cluster.base / "tls"

    @property
    def socket_folder(self) -> Path:
        """The folder of a managed cluster's Unix socket."""
        assert self._cluster is not None, "a managed cluster"
        return self._cluster.base

    @property
    def log_tail(self) -> str:
        """Last lines of the managed server's log (empty for an external server)."""
        return self._cluster.log_tail() if self._cluster is not None else ""

    def database_url(self, name: str) -> str:
        """URL of database *name* on this server, with the admin credentials."""
        return _with_database(self.url, name)

    # -- admin SQL ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _admin_cursor(self) -> Iterator[Any]:
        import psycopg2  # type: ignore[import-untyped, unused-ignore]

        try:
            conn = psycopg2.connect(self.url, connect_timeout=10)
        except psycopg2.Error as exc:
            raise PgClusterError(
                f"cannot connect to PostgreSQL at {redact_url(self.url)}: "
                f"{_redact_text(str(exc), [_url_password(self.url)]).strip()}"
            ) from None
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    def execute(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """Run one admin statement (autocommit) and return its rows (``[]`` if none)."""
        with self._admin_cursor() as cur:
            cur.execute(sql, params)
            rows: list[tuple[Any, ...]] = cur.fetchall() if cur.description is not None else []
            return rows

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database *name* (optionally from *template*) and return its URL."""
        from psycopg2 import sql  # type: ignore[import-untyped, unused-ignore]

        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            stmt = sql.SQL("{} TEMPLATE {}").format(stmt, sql.Identifier(template))
        with self._admin_cursor() as cur:
            cur.execute(stmt)
        return self.database_url(name)

    def terminate_backends(self, dbname: str, *, wait: float = 10.0) -> int:
        """Kill every other connection to *dbname*; return how many were signalled.

        Waits (up to *wait* seconds) until they are gone, so the caller can rely on it.
        """
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
        """Drop database *name* if it exists, kicking out its connections first."""
        from psycopg2 import sql  # type: ignore[import-untyped, unused-ignore]

        protected = _PROTECTED_DATABASES | {dbname_from_url(self.url)}
        if name in protected:
            raise PgClusterError(f"refusing to drop database {name!r}")
        self.terminate_backends(name)
        ident = sql.Identifier(name)
        with self._admin_cursor() as cur:
            if self._server_version(cur) >= 130000:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            else:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))

    @staticmethod
    def _server_version(cur: Any) -> int:
        version: int = cur.connection.server_version
        return version

    # -- lifecycle (managed server only) ----------------------------------------------------

    def restart(self) -> None:
        """Restart the managed server on the same port (``pg_ctl restart -m fast``).

        Every open connection is dropped. Not possible for an external server.
        """
        if self._cluster is None:
            raise PgClusterError(
                f"restart() needs the managed test server, but {ENV_DATABASE_URL} points at an "
                "external one"
            )
        if self._stopped:
            raise PgClusterError("server already stopped")
        self._cluster.restart()

    def stop(self) -> None:
        """Stop the managed server and delete its files. Idempotent; no-op when external."""
        if self._stopped:
            return
        self._stopped = True
        _live_servers.discard(self)
        if self._cluster is not None:
            self._cluster.destroy()


_live_servers: set[PgServer] = set()


def _stop_all() -> None:
    for server in list(_live_servers):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_stop_all)


def start_server(*, tls: bool = False) -> PgServer:
    """Return a usable PostgreSQL server (see module docstring). Call ``stop()`` when done.

    With ``tls``, always a cluster of our own that also takes TLS connections, with the
    certificates of :func:`make_certificates` in ``server.tls_folder``.
    """
    external = os.environ.get(ENV_DATABASE_URL, "").strip()
    if external and not tls:
        scheme = urlsplit(external).scheme
        if scheme not in ("postgresql", "postgres"):
            raise PgClusterError(
                f"{ENV_DATABASE_URL} must be a postgresql:// URL, got {redact_url(external)!r}"
            )
        server = PgServer(external)
        server.execute("SELECT 1")  # fail now, clearly, rather than in every test
        return server

    bindir = ensure_bindir()
    cluster = _Cluster(bindir, _server_user(), tls=tls)
    try:
        cluster.initdb()
        cluster.start()
    except BaseException:
        cluster.destroy()
        raise
    server = PgServer(cluster.url, cluster=cluster)
    _live_servers.add(server)
    return server


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _watchdog_main(spec_json: str) -> int:
    """Wait for our parent to go away; if it did not say ``done`` first, clean up after it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data = sys.stdin.buffer.read()  # returns at EOF: parent closed the pipe, or died
    if data == b"done":
        return 0
    spec = json.loads(spec_json)
    base = Path(spec["base"])
    # The file that says the process is still running (a PgBouncer's spec names its own).
    if (base / spec.get("running", "data/postmaster.pid")).exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(spec["stop"], cwd=base, capture_output=True, timeout=90, check=False)
    shutil.rmtree(base, ignore_errors=True)
    return 0


def main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "_watchdog":
        return _watchdog_main(argv[1])
    if list(argv) == ["ensure-binaries"]:
        try:
            print(ensure_bindir())
        except PgClusterError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    print("usage: python tests/_pgcluster.py ensure-binaries", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
