"""Tests of the test harness itself (tests/_pgcluster.py and the conftest fixtures).

They use the raw drivers (asyncpg, aiosqlite), not dualdb, so they pass before dualdb exists.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import aiosqlite
import asyncpg
import pytest

from _pgcluster import PASSWORD, PgClusterError, PgServer, dbname_from_url, redact_url

# URLs seen by test_each_test_gets_its_own_database, to prove no two tests share one.
_seen_urls: set[str] = set()


def _sqlite_path(url: str) -> Path:
    assert url.startswith("sqlite:///")
    return Path(url.removeprefix("sqlite:///"))


async def _user_tables(backend: str, url: str) -> list[str]:
    """Names of the user tables in the database at *url*."""
    conn: aiosqlite.Connection | asyncpg.Connection[asyncpg.Record]
    if backend == "sqlite":
        async with aiosqlite.connect(_sqlite_path(url)) as conn:
            cursor = await conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
            return [row[0] for row in await cursor.fetchall()]
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' ORDER BY table_name"
        )
        return [row["table_name"] for row in rows]
    finally:
        await conn.close()


async def _create_marker_table(backend: str, url: str) -> None:
    conn: aiosqlite.Connection | asyncpg.Connection[asyncpg.Record]
    if backend == "sqlite":
        async with aiosqlite.connect(_sqlite_path(url)) as conn:
            await conn.execute("CREATE TABLE marker (id INTEGER PRIMARY KEY)")
            await conn.commit()
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE marker (id INTEGER PRIMARY KEY)")
    finally:
        await conn.close()


# ---- the PostgreSQL server ------------------------------------------------------------------


async def test_server_accepts_asyncpg_connection(pg_admin_url: str) -> None:
    conn = await asyncpg.connect(pg_admin_url)
    try:
        version = await conn.fetchval("SELECT version()")
        encoding = await conn.fetchval("SHOW server_encoding")
    finally:
        await conn.close()
    assert version.startswith("PostgreSQL ")
    assert encoding == "UTF8"


async def test_wrong_password_is_rejected_cleanly(pg_server: PgServer) -> None:
    """Password auth is really on (scram-sha-256), and the error does not echo the password."""
    bad_password = "not-the-" + uuid.uuid4().hex
    user, _, rest = pg_server.url.partition("://")[2].partition("@")
    user = user.partition(":")[0]
    with pytest.raises(asyncpg.InvalidPasswordError) as excinfo:
        await asyncpg.connect(f"postgresql://{user}:{bad_password}@{rest}")
    assert bad_password not in str(excinfo.value)


def test_urls_are_redacted(pg_server: PgServer) -> None:
    assert PASSWORD not in repr(pg_server)
    assert PASSWORD not in redact_url(pg_server.url)
    assert redact_url("postgresql://u:secret@h:5/db?password=x&sslmode=off") == (
        "postgresql://u:***@h:5/db?password=***&sslmode=off"
    )


def test_create_and_drop_database(pg_server: PgServer) -> None:
    name = f"h_{uuid.uuid4().hex[:12]}"
    exists = "SELECT count(*) FROM pg_database WHERE datname = %s"
    url = pg_server.create_database(name)
    try:
        assert dbname_from_url(url) == name
        assert pg_server.execute(exists, [name]) == [(1,)]
        copy = f"{name}_copy"
        copy_url = pg_server.create_database(copy, template=name)
        assert dbname_from_url(copy_url) == copy
        pg_server.drop_database(copy)
        assert pg_server.execute(exists, [copy]) == [(0,)]
    finally:
        pg_server.drop_database(name)
    assert pg_server.execute(exists, [name]) == [(0,)]
    pg_server.drop_database(name)  # dropping a missing database is fine
    with pytest.raises(PgClusterError):
        pg_server.drop_database("postgres")


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_terminate_backends(database_url: str, pg_server: PgServer) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert pg_server.terminate_backends(dbname_from_url(database_url)) == 1
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await conn.fetchval("SELECT 1")
    finally:
        conn.terminate()
    conn = await asyncpg.connect(database_url)  # new connections still work
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


async def test_restart_keeps_url_and_drops_connections(pg_server: PgServer) -> None:
    if not pg_server.managed:
        # DUALDB_TEST_DATABASE_URL: we do not own that server, restart must refuse clearly.
        with pytest.raises(PgClusterError, match="restart"):
            pg_server.restart()
        return
    conn = await asyncpg.connect(pg_server.url)
    try:
        pg_server.restart()
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await conn.fetchval("SELECT 1")
    finally:
        conn.terminate()
    conn = await asyncpg.connect(pg_server.url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


# ---- per-test databases, on every backend -------------------------------------------------


async def test_database_url_is_fresh_and_empty(backend: str, database_url: str) -> None:
    if backend == "sqlite":
        path = _sqlite_path(database_url)
        assert path.is_absolute()
        assert path.parent.is_dir()
        assert not path.exists()
    else:
        assert database_url.startswith("postgresql://")
        assert dbname_from_url(database_url).startswith("t_")
    assert await _user_tables(backend, database_url) == []


@pytest.mark.parametrize("run", ["first", "second"])
async def test_each_test_gets_its_own_database(backend: str, database_url: str, run: str) -> None:
    # Both runs write a table; if they shared a database, the second would find the first's.
    assert database_url not in _seen_urls
    _seen_urls.add(database_url)
    assert await _user_tables(backend, database_url) == []
    await _create_marker_table(backend, database_url)
    assert await _user_tables(backend, database_url) == ["marker"]
