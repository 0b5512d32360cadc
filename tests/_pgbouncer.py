"""A throwaway PgBouncer in front of the test PostgreSQL server.

``start_pgbouncer(server)`` starts Debian's ``pgbouncer`` (installed with ``apt-get`` when
missing and we are root) in **transaction** pooling mode on a free port of 127.0.0.1, with
SCRAM authentication against a user list of its own, forwarding every database name to
``server``. It is what production setups put between an application and PostgreSQL, so the
tests meet what they meet: server connections shared between clients between
transactions, startup parameters refused, cancel requests relayed.

Stopped by :meth:`PgBouncer.stop`, an ``atexit`` hook, and a watchdog process should the
test process be killed (the one of :mod:`_pgcluster`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from _pgcluster import (
    PASSWORD,
    SUPERUSER,
    PgClusterError,
    PgServer,
    _free_port,
    _log,
    _redact_text,
    _server_user,
    _usable_temp_root,
)

__all__ = ["PgBouncer", "driver_url", "ensure_pgbouncer", "start_pgbouncer"]

_START_ATTEMPTS = 3
_READY_TIMEOUT = 20.0


def _find() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).is_file()), None
    )


def ensure_pgbouncer() -> str:
    """The path of the ``pgbouncer`` binary, installing Debian's package (as root) if needed."""
    found = _find()
    if found is not None:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "pgbouncer"],
        ):
            _log(f"pgbouncer not found; running as root: {' '.join(cmd)}")
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
                raise PgClusterError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{tail}")
        found = _find()
        if found is not None:
            return found
    raise PgClusterError(
        "pgbouncer not found (Debian/Ubuntu: `apt-get install pgbouncer`; run the tests as "
        "root to have it done automatically)"
    )


class PgBouncer:
    """A running PgBouncer. ``url(dbname)`` holds the password: never print it."""

    def __init__(self, server: PgServer, *, pool_size: int, options: dict[str, str]) -> None:
        self.server = server
        self.pool_size = pool_size
        self._binary = ensure_pgbouncer()
        self._user = _server_user()
        self.base = Path(tempfile.mkdtemp(prefix="dualdb-bouncer-", dir=_usable_temp_root(None)))
        self.logfile = self.base / "pgbouncer.log"
        self.port = 0
        self._options = options
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"PgBouncer(127.0.0.1:{self.port}, pool_size={self.pool_size})"

    # -- configuration ----------------------------------------------------------------------

    def _write_config(self) -> Path:
        target = urlsplit(self.server.url)
        (self.base / "userlist.txt").write_text(f'"{SUPERUSER}" "{PASSWORD}"\n')
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "scram-sha-256",
            "auth_file": str(self.base / "userlist.txt"),
            "pool_mode": "transaction",
            "default_pool_size": str(self.pool_size),
            "max_client_conn": "1000",
            "admin_users": SUPERUSER,
            "logfile": str(self.logfile),
            "pidfile": str(self.base / "pgbouncer.pid"),
            "server_login_retry": "1",
            **self._options,
        }
        lines = [
            "[databases]",
            f"* = host={target.hostname} port={target.port}",
            "",
            "[pgbouncer]",
            *(f"{key} = {value}" for key, value in settings.items()),
        ]
        config = self.base / "pgbouncer.ini"
        config.write_text("\n".join(lines) + "\n")
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            for path in (self.base, *self.base.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        for secret in ("userlist.txt",):
            (self.base / secret).chmod(0o600)
        return config

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        last = ""
        for _attempt in range(_START_ATTEMPTS):
            self.port = _free_port()
            config = self._write_config()
            # -q: it logs to its logfile only (a pipe nobody reads would fill and stall it).
            user = ["-u", self._user] if self._user else []
            cmd = [self._binary, "-q", *user, str(config)]
            with (self.base / "stderr.log").open("wb") as stderr:
                self._proc = subprocess.Popen(
                    cmd, cwd=self.base, stdout=subprocess.DEVNULL, stderr=stderr
                )
            if self._wait_ready():
                self._start_watchdog()
                return
            last = self.log_tail()
            self._kill()
            if "Address already in use" not in last:
                break
        shutil.rmtree(self.base, ignore_errors=True)
        raise PgClusterError(f"pgbouncer did not start on port {self.port}:{last}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _READY_TIMEOUT
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return True
            time.sleep(0.05)
        return False

    def _start_watchdog(self) -> None:
        assert self._proc is not None
        from _pgcluster import __file__ as cluster_script

        spec = {
            "stop": ["kill", "-TERM", str(self._proc.pid)],
            "base": str(self.base),
            "running": "pgbouncer.pid",
        }
        self._watchdog = subprocess.Popen(
            [sys.executable, "-I", cluster_script, "_watchdog", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,
        )

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        """Stop PgBouncer and delete its files. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        _live.discard(self)
        try:
            self._kill()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            watchdog, self._watchdog = self._watchdog, None
            if watchdog is not None and watchdog.stdin is not None:
                with contextlib.suppress(OSError):
                    watchdog.stdin.write(b"done")
                    watchdog.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    watchdog.wait(timeout=10)

    def log_tail(self) -> str:
        lines = []
        for name in ("pgbouncer.log", "stderr.log"):
            with contextlib.suppress(OSError):
                lines += (self.base / name).read_text(errors="replace").splitlines()[-20:]
        return ("\n--- pgbouncer ---\n" + _redact_text("\n".join(lines))) if lines else ""

    # -- use --------------------------------------------------------------------------------

    def url(self, dbname: str, *, user: str = SUPERUSER, password: str = PASSWORD) -> str:
        """A URL of database ``dbname`` through this PgBouncer."""
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{quote(dbname, safe='')}"

    @contextlib.contextmanager
    def _admin(self) -> Iterator[Any]:
        import psycopg2  # type: ignore[import-untyped, unused-ignore]

        conn = psycopg2.connect(self.url("pgbouncer"), connect_timeout=10)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    def show(self, what: str) -> list[dict[str, Any]]:
        """``SHOW POOLS`` / ``SHOW SERVERS`` … of the admin console, as dicts."""
        with self._admin() as cur:
            cur.execute(f"SHOW {what}")
            names = [column[0] for column in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def server_connections(self, dbname: str) -> int:
        """How many server connections PgBouncer holds to ``dbname``."""
        return sum(1 for row in self.show("SERVERS") if row["database"] == dbname)


def driver_url(url: str) -> str:
    """``url`` for a driver of its own (asyncpg, psycopg2, yoyo): without dualdb's
    ``pgbouncer`` parameter, which libpq and asyncpg do not know."""
    if "pgbouncer=" not in url:
        return url  # (urlunsplit would change a sqlite://// URL)
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "pgbouncer"]
    return urlunsplit(parts._replace(query=urlencode(query)))


_live: set[PgBouncer] = set()


@atexit.register
def _stop_all() -> None:
    for bouncer in list(_live):
        with contextlib.suppress(Exception):
            bouncer.stop()


def start_pgbouncer(
    server: PgServer, *, pool_size: int = 20, options: dict[str, str] | None = None
) -> PgBouncer:
    """Start a PgBouncer (transaction mode, ``pool_size`` server connections per database
    and user) in front of ``server``; ``options`` adds or overrides ``[pgbouncer]`` settings."""
    bouncer = PgBouncer(server, pool_size=pool_size, options=options or {})
    bouncer.start()
    _live.add(bouncer)
    return bouncer


if __name__ == "__main__":
    if sys.argv[1:] != ["ensure-binary"]:
        print("usage: python tests/_pgbouncer.py ensure-binary", file=sys.stderr)
        sys.exit(2)
    try:
        print(ensure_pgbouncer())
    except PgClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
