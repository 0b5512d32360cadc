"""PostgreSQL connection parameters as libpq has them, against real servers: TLS with a
CA the harness made (verify-full, a wrong CA, a client certificate), Unix sockets, a
multi-host URL whose first host is down, libpq's environment variables.

Before, dualdb passed every ``?key=value`` of the URL to the server as a setting, so
``sslrootcert``, ``target_session_attrs``, ``connect_timeout`` and ``host`` failed with
"unrecognized configuration parameter", and a two-host URL with "invalid port".
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import dualdb
from _network import free_port
from _pgcluster import CERT_USER, PASSWORD, SUPERUSER, PgServer
from dualdb import raw

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tls_database(pg_tls_server: PgServer) -> Iterator[str]:
    """A fresh database on the TLS cluster: its name."""
    name = f"c_{uuid.uuid4().hex[:12]}"
    pg_tls_server.create_database(name)
    try:
        yield name
    finally:
        pg_tls_server.drop_database(name)


def _port(server: PgServer) -> int:
    port = server.url.rsplit(":", 1)[1].split("/", 1)[0]
    return int(port)


def _url(server: PgServer, database: str, host: str = "localhost", query: str = "") -> str:
    auth = f"{SUPERUSER}:{quote(PASSWORD, safe='')}"
    return f"postgresql://{auth}@{host}:{_port(server)}/{database}{query}"


async def _uses_tls(db: dualdb.Database) -> bool:
    return bool(await db.fetch_val(raw("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")))


async def test_verify_full_with_the_servers_ca_connects_over_tls(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    ca = pg_tls_server.tls_folder / "ca.crt"
    url = _url(pg_tls_server, tls_database, query=f"?sslmode=verify-full&sslrootcert={ca}")
    async with dualdb.connect(url) as db:
        assert await _uses_tls(db)


async def test_a_wrong_ca_fails_clearly_and_without_the_password(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    other = pg_tls_server.tls_folder / "other-ca.crt"
    url = _url(pg_tls_server, tls_database, query=f"?sslmode=verify-full&sslrootcert={other}")
    with pytest.raises(dualdb.ConnectionFailed, match="certificate") as caught:
        await dualdb.connect(url)
    assert "TLS" in str(caught.value)
    assert PASSWORD not in str(caught.value)


async def test_verify_full_refuses_a_host_the_certificate_does_not_name(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    """The certificate names localhost only: at 127.0.0.1 (the same server) verify-ca
    accepts it, verify-full does not."""
    ca = pg_tls_server.tls_folder / "ca.crt"
    ca_only = _url(pg_tls_server, tls_database, "127.0.0.1", f"?sslmode=verify-ca&sslrootcert={ca}")
    async with dualdb.connect(ca_only) as db:
        assert await _uses_tls(db)
    with pytest.raises(dualdb.ConnectionFailed, match="certificate"):
        await dualdb.connect(ca_only.replace("verify-ca", "verify-full"))


async def test_a_client_certificate_logs_in_without_a_password(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    folder = pg_tls_server.tls_folder
    pg_tls_server.execute(f"DO $$ BEGIN CREATE ROLE {CERT_USER} LOGIN; EXCEPTION "
                          "WHEN duplicate_object THEN NULL; END $$")  # fmt: skip
    url = (
        f"postgresql://{CERT_USER}@localhost:{_port(pg_tls_server)}/{tls_database}"
        f"?sslmode=verify-full&sslrootcert={folder / 'ca.crt'}"
        f"&sslcert={folder / 'client.crt'}&sslkey={folder / 'client.key'}"
    )
    async with dualdb.connect(url) as db:
        assert await db.fetch_val(raw("SELECT current_user")) == CERT_USER
        assert await _uses_tls(db)


async def test_sslmode_disable_connects_without_tls(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    async with dualdb.connect(_url(pg_tls_server, tls_database, query="?sslmode=disable")) as db:
        assert not await _uses_tls(db)


@pytest.mark.parametrize("spelling", ["host parameter", "percent-encoded host"])
async def test_a_unix_socket_in_the_url_connects(
    backend: str, pg_tls_server: PgServer, tls_database: str, spelling: str
) -> None:
    folder = str(pg_tls_server.socket_folder)
    auth = f"{SUPERUSER}:{quote(PASSWORD, safe='')}"
    port = _port(pg_tls_server)
    if spelling == "host parameter":
        url = f"postgresql://{auth}@/{tls_database}?host={folder}&port={port}"
    else:
        url = f"postgresql://{auth}@{quote(folder, safe='')}:{port}/{tls_database}"
    async with dualdb.connect(url) as db:
        # Over a socket the server has no client address.
        assert await db.fetch_val(raw("SELECT inet_client_addr() IS NULL")) is True
        assert quote(folder, safe="") in db.settings.display_url()


async def test_a_multi_host_url_whose_first_host_is_down_connects_to_the_next(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    down = free_port()
    auth = f"{SUPERUSER}:{quote(PASSWORD, safe='')}"
    url = (
        f"postgresql://{auth}@127.0.0.1:{down},127.0.0.1:{_port(pg_tls_server)}/{tls_database}"
        "?target_session_attrs=read-write&connect_timeout=5"
    )
    async with dualdb.connect(url) as db:
        assert db.settings.connect_timeout == 5
        assert await db.fetch_val(raw("SELECT inet_server_port()")) == _port(pg_tls_server)


async def test_a_libpq_options_parameter_sets_server_settings(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    query = "?options=" + quote("-c search_path=app,public -c application_name=billing")
    async with dualdb.connect(_url(pg_tls_server, tls_database, query=query)) as db:
        assert await db.fetch_val(raw("SHOW search_path")) == "app,public"
        assert await db.fetch_val(raw("SHOW application_name")) == "billing"


async def test_libpqs_environment_variables_configure_postgresql(
    backend: str, pg_tls_server: PgServer, tls_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``DB_TYPE=postgresql`` with psql's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
    PGSSLMODE and PGSSLROOTCERT."""
    for name in ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME"):
        monkeypatch.delenv(name, raising=False)
    environment = {
        "DB_TYPE": "postgresql",
        "PGHOST": "localhost",
        "PGPORT": str(_port(pg_tls_server)),
        "PGUSER": SUPERUSER,
        "PGPASSWORD": PASSWORD,
        "PGDATABASE": tls_database,
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": str(pg_tls_server.tls_folder / "ca.crt"),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    async with dualdb.connect() as db:
        assert await _uses_tls(db)
        assert PASSWORD not in repr(db.settings)


async def test_the_migration_cli_connects_with_the_same_tls_url(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    """``dualdb migrate`` (libpq, through psycopg2) takes the URL the application uses."""
    ca = pg_tls_server.tls_folder / "ca.crt"
    url = _url(pg_tls_server, tls_database, query=f"?sslmode=verify-full&sslrootcert={ca}")
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dualdb", "migrate", "--database", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    async with dualdb.connect(url) as db:
        assert await db.fetch_val(raw("SELECT to_regclass('users') IS NOT NULL")) is True


@pytest.mark.parametrize("sslmode", ["", "&sslmode=verify-full"])
async def test_sslrootcert_system_trusts_the_systems_certificate_authorities(
    backend: str,
    pg_tls_server: PgServer,
    tls_database: str,
    monkeypatch: pytest.MonkeyPatch,
    sslmode: str,
) -> None:
    """libpq's ``sslrootcert=system`` (a managed database with a publicly signed
    certificate): asyncpg read it as a file named "system". The system's store is the
    test CA here (OpenSSL's SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pg_tls_server.tls_folder / "ca.crt"))
    url = _url(pg_tls_server, tls_database, query=f"?sslrootcert=system{sslmode}")
    async with dualdb.connect(url) as db:
        assert await _uses_tls(db)


@pytest.mark.parametrize(
    ("host", "store"), [("localhost", "other-ca.crt"), ("127.0.0.1", "ca.crt")]
)
async def test_sslrootcert_system_verifies_the_certificate_and_the_host_name(
    backend: str,
    pg_tls_server: PgServer,
    tls_database: str,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    store: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pg_tls_server.tls_folder / store))
    url = _url(pg_tls_server, tls_database, host=host, query="?sslrootcert=system")
    with pytest.raises(dualdb.ConnectionFailed, match="TLS certificate verification"):
        await dualdb.connect(url)


def test_sslrootcert_system_with_a_weaker_sslmode_is_refused(backend: str) -> None:
    url = "postgresql://u:p@db.example.com/app?sslrootcert=system&sslmode=require"
    with pytest.raises(dualdb.ConfigurationError, match="verify-full"):
        dualdb.load_settings({"DATABASE_URL": url}, env_file=None)


async def test_the_migration_cli_takes_sslrootcert_system_too(
    backend: str, pg_tls_server: PgServer, tls_database: str
) -> None:
    url = _url(pg_tls_server, tls_database, query="?sslrootcert=system")
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dualdb", "migrate", "--database", url],
        cwd=ROOT,
        env={**os.environ, "SSL_CERT_FILE": str(pg_tls_server.tls_folder / "ca.crt")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
