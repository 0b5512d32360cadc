"""PostgreSQL behind a real PgBouncer in transaction mode (Debian's ``pgbouncer``, started
by the harness: tests/_pgbouncer.py), two server connections shared by every client.

Before, asyncpg's statement cache failed as soon as a client's next statement landed on
another server connection (``prepared statement "__asyncpg_stmt_1__" does not exist``,
asyncpg's PgBouncer hint dropped), and ``DB_STATEMENT_TIMEOUT`` could not be used at all
(``unsupported startup parameter: statement_timeout``). One setting, ``DB_PGBOUNCER``
(or ``?pgbouncer=true``), now makes both work.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import dualdb
from _pgbouncer import PgBouncer
from _pgcluster import PASSWORD, PgServer
from dualdb import Param, Query, Table, raw

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

ROOT = Path(__file__).resolve().parents[2]
items = Table("items")


@pytest.fixture
def bouncer_database(pg_server: PgServer, pgbouncer: PgBouncer) -> Iterator[str]:
    """A fresh database reached through PgBouncer: its name."""
    name = f"b_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name)
    try:
        yield name
    finally:
        pg_server.drop_database(name)


def _sleeping(server: PgServer, database: str) -> int:
    rows = server.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE %s",
        (database, "SELECT pg_sleep%"),
    )
    return int(rows[0][0])


async def _pin_a_server_connection(url: str) -> tuple[dualdb.Database, dualdb.Transaction]:
    """Another client holding a transaction: PgBouncer gives it the server connection the
    previous statement ran on (it reuses the most recently freed one first)."""
    other = await dualdb.connect(url, pool_max_size=1)
    tx = other.transaction()
    await tx.__aenter__()
    await tx.fetch_val(raw("SELECT 1"))
    return other, tx


async def test_without_the_setting_a_cached_statement_fails_with_a_hint_naming_it(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    url = pgbouncer.url(bouncer_database)
    async with dualdb.connect(url, pool_max_size=1) as db:
        assert await db.fetch_val(raw("SELECT $1::int", 1)) == 1
        other, tx = await _pin_a_server_connection(url)
        try:
            with pytest.raises(dualdb.ProgrammingError) as caught:
                await db.fetch_val(raw("SELECT $1::int", 2))
        finally:
            await tx.__aexit__(None, None, None)
            await other.close()
    message = str(caught.value)
    assert "PgBouncer" in message
    assert "DB_PGBOUNCER" in message


async def test_with_the_setting_statements_move_between_server_connections(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    url = pgbouncer.url(bouncer_database) + "?pgbouncer=true"
    async with dualdb.connect(url, pool_max_size=1) as db:
        assert await db.fetch_val(raw("SELECT $1::int", 1)) == 1
        other, tx = await _pin_a_server_connection(url)
        try:
            assert await db.fetch_val(raw("SELECT $1::int", 2)) == 2
        finally:
            await tx.__aexit__(None, None, None)
            await other.close()


async def test_bulk_inserts_copy_through_pgbouncer_between_server_connections(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    """``execute_many``'s COPY learns its table and column types first (no statement
    cache behind PgBouncer): each step may land on another server connection."""
    url = pgbouncer.url(bouncer_database) + "?pgbouncer=true"
    insert = Query.into(items).columns(items.id, items.doc).insert(Param("id"), Param("doc"))
    async with dualdb.connect(url, pool_max_size=1) as db:
        await db.execute(raw("CREATE TABLE items (id bigint PRIMARY KEY, doc jsonb)"))
        await db.execute_many(insert, [{"id": n, "doc": {"n": [n]}} for n in range(3)])
        other, tx = await _pin_a_server_connection(url)
        try:
            await db.execute_many(insert, [{"id": n, "doc": {"n": [n]}} for n in range(3, 6)])
            async with db.transaction() as bulk:
                await bulk.execute_many(insert, [{"id": 6, "doc": None}, {"id": 7, "doc": []}])
        finally:
            await tx.__aexit__(None, None, None)
            await other.close()
        docs = await db.fetch_all(raw("SELECT doc FROM items ORDER BY id"))
        assert [r["doc"] for r in docs] == [{"n": [n]} for n in range(6)] + [None, []]


async def test_db_pgbouncer_in_the_environment_is_the_same_setting(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    settings = dualdb.load_settings(
        {"DATABASE_URL": pgbouncer.url(bouncer_database), "DB_PGBOUNCER": "true"}, env_file=None
    )
    assert settings.pgbouncer
    assert settings.statement_cache_size == 0


async def test_many_clients_share_two_server_connections_without_an_error(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    url = pgbouncer.url(bouncer_database) + "?pgbouncer=true"
    async with dualdb.connect(url, pool_max_size=10) as db:
        await db.execute(raw("CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)"))
        insert = Query.into(items).columns(items.id, items.name).insert(Param("id"), Param("name"))
        by_id = Query.from_(items).select(items.name).where(items.id == Param("id"))

        async def client(n: int) -> None:
            for i in range(20):
                key = n * 100 + i
                if i % 4 == 0:

                    async def work(tx: dualdb.Transaction, key: int = key) -> None:
                        await tx.execute(insert, id=key, name=f"tx{key}")
                        assert await tx.fetch_val(by_id, id=key) == f"tx{key}"

                    await dualdb.run_in_transaction(db, work)
                else:
                    await db.execute(insert, id=key, name=f"n{key}")
                    assert await db.fetch_val(by_id, id=key) == f"n{key}"

        await asyncio.gather(*(client(n) for n in range(25)))
        assert await db.fetch_val(raw("SELECT count(*) FROM items")) == 25 * 20
    assert pgbouncer.server_connections(bouncer_database) <= 2


async def test_the_statement_timeout_is_refused_by_pgbouncer_without_the_setting(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    url = pgbouncer.url(bouncer_database)
    with pytest.raises(dualdb.ConnectionFailed) as caught:
        await dualdb.connect(url, statement_timeout=1.0)
    message = str(caught.value)
    assert "statement_timeout" in message
    assert "DB_PGBOUNCER" in message
    assert PASSWORD not in message


async def test_the_statement_timeout_works_through_pgbouncer(
    backend: str, pg_server: PgServer, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    url = pgbouncer.url(bouncer_database) + "?pgbouncer=true"
    async with dualdb.connect(url, statement_timeout=0.5, pool_max_size=1) as db:
        started = time.monotonic()
        with pytest.raises(dualdb.QueryTimeout):
            await db.fetch_val(raw("SELECT pg_sleep(10)"))
        assert time.monotonic() - started < 5
        # The server was told to stop (PgBouncer relays the cancel request) and the
        # client's connection is usable again.
        assert await db.fetch_val(raw("SELECT 41 + 1")) == 42
        assert _sleeping(pg_server, bouncer_database) == 0


async def test_the_statement_timeout_bounds_statements_inside_a_transaction(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    url = pgbouncer.url(bouncer_database) + "?pgbouncer=true"
    async with dualdb.connect(url, statement_timeout=0.5) as db:
        with pytest.raises(dualdb.QueryTimeout):
            async with db.transaction() as tx:
                await tx.fetch_val(raw("SELECT pg_sleep(10)"))
        async with db.transaction() as tx:
            # The server keeps it too: set with the transaction's BEGIN.
            assert await tx.fetch_val(raw("SHOW statement_timeout")) == "500ms"
        assert await db.fetch_val(raw("SHOW statement_timeout")) == "0"


async def test_a_statement_the_client_timed_out_never_takes_effect_later(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    """An UPDATE waiting for a row lock past the deadline: when the caller gets
    QueryTimeout the server has stopped it, so the lock's release cannot let it through."""
    url = pgbouncer.url(bouncer_database) + "?pgbouncer=true"
    async with dualdb.connect(url, statement_timeout=0.3) as db:
        await db.execute(raw("CREATE TABLE t (id integer PRIMARY KEY, n integer)"))
        await db.execute(raw("INSERT INTO t VALUES (1, 0)"))
        async with db.transaction() as tx:
            await tx.execute(raw("UPDATE t SET n = n + 1 WHERE id = 1"))
            with pytest.raises(dualdb.QueryTimeout):
                await db.execute(raw("UPDATE t SET n = n + 10 WHERE id = 1"))
        await asyncio.sleep(0.2)
        assert await db.fetch_val(raw("SELECT n FROM t")) == 1


async def test_a_cancelled_call_is_cancelled_on_the_server_through_pgbouncer(
    backend: str, pg_server: PgServer, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    url = pgbouncer.url(bouncer_database) + "?pgbouncer=true"
    async with dualdb.connect(url, pool_max_size=1) as db:
        task = asyncio.ensure_future(db.fetch_val(raw("SELECT pg_sleep(30)")))
        for _ in range(100):
            if _sleeping(pg_server, bouncer_database):
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await db.fetch_val(raw("SELECT 7")) == 7
        for _ in range(100):
            if not _sleeping(pg_server, bouncer_database):
                break
            await asyncio.sleep(0.05)
        assert _sleeping(pg_server, bouncer_database) == 0


async def test_a_wrong_password_through_pgbouncer_fails_clearly(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str
) -> None:
    wrong = "not-the-password-4711"
    url = pgbouncer.url(bouncer_database, password=wrong) + "?pgbouncer=true"
    with pytest.raises(dualdb.ConnectionFailed) as caught:
        await dualdb.connect(url)
    message = str(caught.value)
    assert "authentication failed" in message
    assert wrong not in message and wrong not in repr(caught.value)


def test_server_settings_pgbouncer_would_refuse_are_a_configuration_error(
    backend: str,
) -> None:
    url = "postgresql://u:p@localhost:6432/app?pgbouncer=true&search_path=app"
    with pytest.raises(dualdb.ConfigurationError, match="search_path") as caught:
        dualdb.load_settings({"DATABASE_URL": url}, env_file=None)
    assert "ALTER ROLE" in str(caught.value)


def test_application_name_passes_through_pgbouncer(backend: str) -> None:
    url = "postgresql://u:p@localhost:6432/app?pgbouncer=true&application_name=web"
    settings = dualdb.load_settings({"DATABASE_URL": url}, env_file=None)
    assert dict(settings.url_options) == {"application_name": "web"}


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_pgbouncer_value_that_is_not_a_boolean_is_refused(backend: str, value: str) -> None:
    url = f"postgresql://u:p@localhost:6432/app?pgbouncer={value}"
    with pytest.raises(dualdb.ConfigurationError, match="pgbouncer"):
        dualdb.load_settings({"DATABASE_URL": url}, env_file=None)


def test_an_explicit_statement_cache_size_is_kept_for_pgbouncer_with_prepared_statements(
    backend: str,
) -> None:
    """PgBouncer 1.21 and later keeps prepared statements (max_prepared_statements)."""
    url = "postgresql://u:p@localhost:6432/app?pgbouncer=true"
    settings = dualdb.load_settings(
        {"DATABASE_URL": url, "DB_STATEMENT_CACHE_SIZE": "50"}, env_file=None
    )
    assert settings.statement_cache_size == 50


def test_the_migration_cli_migrates_through_pgbouncer(
    backend: str, pgbouncer: PgBouncer, bouncer_database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": pgbouncer.url(bouncer_database) + "?pgbouncer=true",
        "DB_STATEMENT_TIMEOUT": "30",
    }
    env.pop("DB_TYPE", None)
    command = [sys.executable, "-m", "dualdb", "migrate"]
    for _ in range(2):  # the second run finds nothing to do
        proc = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert PASSWORD not in proc.stdout + proc.stderr
    status = subprocess.run(
        [sys.executable, "-m", "dualdb", "status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Pending (0): none" in status.stdout


def test_the_setting_as_a_keyword_turns_the_statement_cache_off_too(backend: str) -> None:
    settings = dualdb.load_settings(
        {"DATABASE_URL": "postgresql://u:p@localhost:6432/app"}, env_file=None, pgbouncer=True
    )
    assert settings.statement_cache_size == 0


def test_the_shown_url_says_it_goes_through_pgbouncer(backend: str) -> None:
    url = "postgresql://u:secret@localhost:6432/app?pgbouncer=true"
    settings = dualdb.load_settings({"DATABASE_URL": url}, env_file=None)
    assert settings.display_url() == "postgresql://u:***@localhost:6432/app?pgbouncer=true"
