"""Connections that die under dualdb: killed backends, a restarted server, killed clients.

In every case the call that was running gets a dualdb error (never a raw driver
exception), the transaction's work is all gone (never half-applied), and the *same*
Database object serves the next call: the pool throws dead connections away by itself.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest

import dualdb
from _pgcluster import ENV_DATABASE_URL, PgServer, start_server
from dualdb import Param, Query, Table, fn, raw

VICTIMS = Table("victims")
COUNT = Query.from_(VICTIMS).select(fn.Count("*"))
INSERT = Query.into(VICTIMS).columns(VICTIMS.id).insert(Param("id"))

#: Upper bound for "the call fails instead of hanging".
HANG = 10.0


async def _create(db: dualdb.Database) -> None:
    await db.execute(raw("CREATE TABLE victims (id BIGINT PRIMARY KEY)"))


def _dbname(db: dualdb.Database) -> str:
    name = db.settings.database
    assert name is not None
    return name


async def _kill(pg_server: PgServer, pid: int) -> None:
    # In a thread: the event loop keeps running, as it would in an application.
    await asyncio.to_thread(pg_server.execute, "SELECT pg_terminate_backend(%s)", (pid,))


# ---------------------------------------------------------------------------- pg_terminate_backend


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_backend_killed_mid_transaction_fails_the_call_and_rolls_everything_back(
    db: dualdb.Database, pg_server: PgServer
) -> None:
    """PostgreSQL's pg_terminate_backend; the SQLite counterpart (a client process killed
    mid-transaction) is test_client_killed_mid_transaction_leaves_nothing_behind."""
    await _create(db)
    with pytest.raises(dualdb.ConnectionFailed):
        async with db.transaction() as tx:
            for n in range(10):
                await tx.execute(INSERT, id=n)
            await _kill(pg_server, await tx.fetch_val(raw("SELECT pg_backend_pid()")))
            await tx.execute(INSERT, id=10)
    assert await db.fetch_val(COUNT) == 0
    await db.execute(INSERT, id=1)  # the same Database, a fresh connection
    assert await db.fetch_val(COUNT) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_backend_killed_while_a_statement_runs_fails_that_call_promptly(
    db: dualdb.Database, pg_server: PgServer
) -> None:
    running = asyncio.create_task(db.fetch_val(raw("SELECT pg_sleep(60)")))

    async def sleeping_pid() -> int | None:
        rows = await asyncio.to_thread(
            pg_server.execute,
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND query LIKE %s",
            (_dbname(db), "SELECT pg_sleep(60)%"),
        )
        return rows[0][0] if rows else None

    async with asyncio.timeout(HANG):
        for _ in range(int(HANG / 0.02)):
            pid = await sleeping_pid()
            if pid is not None:
                break
            await asyncio.sleep(0.02)
        assert pid is not None
        started = time.monotonic()
        await _kill(pg_server, pid)
        with pytest.raises(dualdb.ConnectionFailed):
            await running
    assert time.monotonic() - started < HANG
    assert await db.fetch_val(raw("SELECT 1")) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_idle_pooled_connections_killed_are_replaced_without_a_new_database(
    database_url: str, pg_server: PgServer
) -> None:
    async with dualdb.connect(database_url, pool_min_size=5, pool_max_size=5) as db:
        await _create(db)
        await asyncio.gather(*(db.fetch_val(raw("SELECT pg_sleep(0.05)")) for _ in range(5)))
        killed = await asyncio.to_thread(pg_server.terminate_backends, _dbname(db))
        assert killed >= 5
        # Let the loop read the server's termination notices, as a running app's loop does
        # between requests; a call racing a kill by microseconds gets ConnectionFailed
        # (test_backend_killed_mid_transaction…), never a wrong result.
        await asyncio.sleep(0.2)
        results = await asyncio.gather(*(db.execute(INSERT, id=n) for n in range(20)))
        assert results == [1] * 20
        assert await db.fetch_val(COUNT) == 20


# ---------------------------------------------------------------------------- server restart


@pytest.fixture
def dedicated_pg(monkeypatch: pytest.MonkeyPatch) -> Iterator[PgServer]:
    """A PostgreSQL server of this test's own, so that restarting it disturbs no one."""
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def restartable(dedicated_pg: PgServer) -> AsyncIterator[dualdb.Database]:
    url = dedicated_pg.create_database("restartable")
    async with dualdb.connect(url, pool_min_size=3, pool_max_size=5, connect_timeout=2) as db:
        await _create(db)
        yield db


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_server_restart_fails_running_calls_then_the_pool_recovers(
    restartable: dualdb.Database, dedicated_pg: PgServer, backend: str
) -> None:
    """SQLite has no server to restart: an open database file stays valid for the
    process's lifetime. (A killed client process is its counterpart, below.)"""
    db = restartable

    async def open_transaction() -> None:
        async with db.transaction() as tx:
            for n in range(100, 110):
                await tx.execute(INSERT, id=n)
            await tx.fetch_val(raw("SELECT pg_sleep(60)"))

    running = [
        asyncio.create_task(db.fetch_val(raw("SELECT pg_sleep(60)"))),
        asyncio.create_task(open_transaction()),
    ]
    await db.execute(INSERT, id=1)
    await asyncio.sleep(0.2)  # let both reach the server (a later kill is still a kill)
    async with asyncio.timeout(60):
        await asyncio.to_thread(dedicated_pg.restart)
        outcomes = await asyncio.gather(*running, return_exceptions=True)
    assert [type(o) for o in outcomes] == [dualdb.ConnectionFailed] * 2, outcomes
    async with asyncio.timeout(HANG):
        assert await db.fetch_val(COUNT) == 1  # committed kept, in-flight transaction gone
        await asyncio.gather(*(db.execute(INSERT, id=n) for n in range(2, 12)))
    assert await db.fetch_val(COUNT) == 11


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_calls_while_the_server_is_down_fail_fast_then_succeed(
    restartable: dualdb.Database, dedicated_pg: PgServer, backend: str
) -> None:
    db = restartable
    cluster = dedicated_pg._cluster  # the harness's own handle: stop and start in place
    assert cluster is not None
    stopped = cluster._run("pg_ctl", *cluster._stop_args("fast"))
    assert stopped.returncode == 0, stopped.stderr
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(dualdb.ConnectionFailed):
                await db.execute(INSERT, id=1)
            assert time.monotonic() - started < 2 + 3  # connect_timeout + slack
    finally:
        # Same data directory and port (start() would pick a new port).
        restarted = cluster._run(
            "pg_ctl",
            "start",
            "-w",
            "-D",
            str(cluster.datadir),
            "-l",
            str(cluster.logfile),
            "-o",
            cluster._server_options(),
        )
        assert restarted.returncode == 0, restarted.stderr
    assert await db.execute(INSERT, id=1) == 1


# ---------------------------------------------------------------------------- killed client

CLIENT = """
import asyncio, sys
import dualdb
from dualdb import raw

async def main():
    async with dualdb.connect(sys.argv[1]) as db:
        async with db.transaction() as tx:
            mark = tx.dialect.placeholder(1)
            for n in range(1000):
                await tx.execute(raw(f"INSERT INTO victims (id) VALUES ({mark})", n))
            print("inside", flush=True)
            await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_client_killed_mid_transaction_leaves_nothing_behind(
    db: dualdb.Database, database_url: str
) -> None:
    """A process holding a write transaction is SIGKILLed: its work vanishes (SQLite rolls
    back from its WAL; PostgreSQL aborts the orphaned transaction), its locks go with it,
    and this process's Database carries on."""
    await _create(db)
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, database_url, stdout=asyncio.subprocess.PIPE
    )
    assert client.stdout is not None
    try:
        async with asyncio.timeout(HANG * 3):
            assert (await client.stdout.readline()).strip() == b"inside"
    finally:
        client.send_signal(signal.SIGKILL)
        await client.wait()
    assert await db.fetch_val(COUNT) == 0
    async with asyncio.timeout(HANG):  # its write lock / row locks are released
        async with db.transaction() as tx:
            await tx.execute_many(INSERT, [{"id": n} for n in range(1000)])
    assert await db.fetch_val(COUNT) == 1000
