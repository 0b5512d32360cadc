"""The dualdb test-suite's PostgreSQL servers, on top of :mod:`dualdb.testing._cluster`.

``start_server()`` returns a :class:`PgServer`:

* If ``DUALDB_TEST_DATABASE_URL`` is set (a ``postgresql://`` URL of an existing server whose
  user may ``CREATE DATABASE``), that server is used and nothing is started.
* Otherwise the throwaway cluster of ``dualdb.testing`` (a temporary directory, a free port,
  durability off, stopped even if the run is killed), with what the suite adds: the fixed
  password ``PASSWORD`` (tests check it is never printed), a TLS variant with test
  certificates, a system user created when root has no ``postgres`` user, and PostgreSQL
  installed with ``apt-get`` when we are root on a Debian-like system.

The module is also a script: ``python tests/_pgcluster.py ensure-binaries`` installs the server
binaries if needed and prints their directory (used by ``scripts/test``).

No message produced here contains a password: URLs are redacted and server logs are scrubbed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from dualdb.errors import HarnessError
from dualdb.testing._cluster import (
    PG_LIB_ROOT,
    SERVER_SETTINGS,
    SUPERUSER,
    Cluster,
    PostgresServer,
    _live_servers,
    dbname_from_url,
    find_bindir,
    free_port,
    redact_text,
    redact_url,
    server_user,
    start_postgres,
    watchdog_main,
)
from dualdb.testing._cluster import (
    _usable_temp_root as _usable_temp_root,  # tests/_pgbouncer.py's too
)

__all__ = [
    "CERT_USER",
    "ENV_DATABASE_URL",
    "PASSWORD",
    "SERVER_SETTINGS",
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
PASSWORD = "dualdb-test-pw"

#: The errors of the harness are dualdb.testing's.
PgClusterError = HarnessError

_FALLBACK_SYSTEM_USER = "dualdb-pg"
_LOG_TAIL_LINES = 40

#: The PgBouncer harness (tests/_pgbouncer.py) takes its ports from here too.
_free_port = free_port


def _redact_text(text: str, secrets: Sequence[str] = ()) -> str:
    """Scrub passwords (URL or literal) out of free text such as a server log."""
    return redact_text(text, [PASSWORD, *secrets])


def _log(message: str) -> None:
    print(f"[dualdb tests] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Installing the server binaries (the suite's own convenience; the library never does)
# --------------------------------------------------------------------------------------------


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
            f"(looked at pg_config --bindir, {PG_LIB_ROOT}/*/bin and PATH)."
        )
    raise PgClusterError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: looked at pg_config --bindir, "
        f"{PG_LIB_ROOT}/*/bin and PATH. Install the PostgreSQL server (Debian/Ubuntu: "
        "`apt-get install postgresql`; run the tests as root to have it done automatically), "
        f"or set {ENV_DATABASE_URL} to a postgresql:// URL of a server whose user may "
        "CREATE DATABASE."
    )


def _server_user() -> str | None:
    """System user to run initdb/pg_ctl as, or ``None`` to run them as ourselves: the
    library's choice, else (root without a ``postgres`` user, which the library refuses) a
    system user of the suite's own, made if need be."""
    with contextlib.suppress(HarnessError):
        return server_user()
    with contextlib.suppress(KeyError):
        pwd.getpwnam(_FALLBACK_SYSTEM_USER)
        return _FALLBACK_SYSTEM_USER
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


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------

#: The role a TLS cluster's client certificate (``client.crt``) logs in as.
CERT_USER = "dualdb_cert"


class _TlsCluster(Cluster):
    """The cluster, also taking TLS connections with the certificates of
    :func:`make_certificates` (in ``base/tls``)."""

    def initdb(self) -> None:
        super().initdb()
        make_certificates(self.base / "tls", owner=self.user)
        # A client certificate signed by the CA logs CERT_USER in without a password.
        hba = self.datadir / "pg_hba.conf"
        hba.write_text(f"hostssl all {CERT_USER} 127.0.0.1/32 cert\n" + hba.read_text())

    def server_options(self) -> list[str]:
        tls = self.base / "tls"
        return [
            *super().server_options(),
            *("-c", "ssl=on", "-c", f"ssl_cert_file={tls / 'server.crt'}"),
            *("-c", f"ssl_key_file={tls / 'server.key'}", "-c", f"ssl_ca_file={tls / 'ca.crt'}"),
        ]


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

    # The extensions a real CA's certificates carry: Python 3.13 verifies with
    # VERIFY_X509_STRICT, which refuses a CA without key usage and a server certificate
    # without an authority key identifier.
    for ca in ("ca", "other-ca"):
        openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN=dualdb test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=DNS:localhost\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectKeyIdentifier=hash\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
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


# --------------------------------------------------------------------------------------------
# The suite's server object
# --------------------------------------------------------------------------------------------


class PgServer(PostgresServer):
    """dualdb.testing's server, plus the TLS cluster's certificate folder."""

    @property
    def tls_folder(self) -> Path:
        """The certificates of a TLS cluster (see :func:`make_certificates`)."""
        assert isinstance(self._cluster, _TlsCluster), "start_server(tls=True)"
        return self._cluster.base / "tls"

    def restart(self) -> None:
        if self._cluster is None:
            raise PgClusterError(
                f"restart() needs the managed test server, but {ENV_DATABASE_URL} points at an "
                "external one"
            )
        super().restart()


def start_server(*, tls: bool = False) -> PgServer:
    """Return a usable PostgreSQL server (see module docstring). Call ``stop()`` when done.

    With ``tls``, always a cluster of our own that also takes TLS connections, with the
    certificates of :func:`make_certificates` in ``server.tls_folder``.
    """
    external = os.environ.get(ENV_DATABASE_URL, "").strip()
    if external and not tls:
        if urlsplit(external).scheme not in ("postgresql", "postgres"):
            raise PgClusterError(
                f"{ENV_DATABASE_URL} must be a postgresql:// URL, got {redact_url(external)!r}"
            )
        server = PgServer(external)
        server.execute("SELECT 1")  # fail now, clearly, rather than in every test
        return server
    started = start_postgres(
        password=PASSWORD,
        bindir=ensure_bindir(),
        user=_server_user(),
        cluster_class=_TlsCluster if tls else Cluster,
    )
    # The suite's own class over the same cluster (the atexit hook stops it either way).
    _live_servers.discard(started)
    server = PgServer(started.url, cluster=started._cluster)
    _live_servers.add(server)
    return server


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "_watchdog":
        return watchdog_main(argv[1])
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
