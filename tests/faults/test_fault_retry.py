"""``dualdb.retry.run_in_transaction``: conflicts are retried until every write counts.

The proofs use real conflicts: SERIALIZABLE read-modify-write transactions and a real
deadlock on PostgreSQL; writers competing for SQLite's write lock (``SQLITE_BUSY``, with
the busy timeout set to zero so every conflict surfaces) in one process and across
processes.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, cast

import pytest

import dualdb
from dualdb import Param, Query, Table, raw
from dualdb.retry import RETRYABLE_ERRORS, backoff_delay, run_in_transaction

COUNTERS = Table("counters")
READ = Query.from_(COUNTERS).select(COUNTERS.n).where(COUNTERS.id == Param("id"))
WRITE = Query.update(COUNTERS).set(COUNTERS.n, Param("n")).where(COUNTERS.id == Param("id"))
READ_LOCKED = cast(Any, READ).for_update()
HANG = 60.0


async def _counters(db: dualdb.Database, *ids: int) -> None:
    await db.execute(raw("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
    for id_ in ids:
        await db.execute(Query.into(COUNTERS).columns(COUNTERS.id, COUNTERS.n).insert(id_, 0))


async def _read_then_write(tx: dualdb.Transaction, id_: int = 1, *, locked: bool = False) -> int:
    """The lost-update pattern: read, compute in Python, write back (``locked``: the
    read locks the row, SELECT … FOR UPDATE)."""
    n = await tx.fetch_val(READ_LOCKED if locked else READ, id=id_)
    await tx.execute(WRITE, n=n + 1, id=id_)
    return int(n) + 1


# ---------------------------------------------------------------------------- the helper's contract


async def test_returns_the_functions_result_after_committing(db: dualdb.Database) -> None:
    await _counters(db, 1)
    assert await run_in_transaction(db, _read_then_write) == 1
    assert await db.fetch_val(READ, id=1) == 1


async def test_retries_a_conflict_and_discards_the_failed_attempts_writes(
    db: dualdb.Database,
) -> None:
    await _counters(db, 1)
    calls = 0

    async def flaky(tx: dualdb.Transaction) -> int:
        nonlocal calls
        calls += 1
        result = await _read_then_write(tx)
        if calls < 3:
            raise dualdb.SerializationFailure("simulated conflict after writing")
        return result

    assert await run_in_transaction(db, flaky, base_delay=0.001) == 1
    assert calls == 3
    assert await db.fetch_val(READ, id=1) == 1  # the two failed attempts left nothing


@pytest.mark.parametrize("error", RETRYABLE_ERRORS)
async def test_gives_up_after_the_attempts_and_reraises_the_last_error(
    db: dualdb.Database, error: type[Exception]
) -> None:
    raised: list[Exception] = []

    async def always(tx: dualdb.Transaction) -> None:
        await tx.fetch_val(raw("SELECT 1"))
        raised.append(error("conflict"))
        raise raised[-1]

    with pytest.raises(error) as caught:
        await run_in_transaction(db, always, attempts=4, base_delay=0, max_delay=0)
    assert len(raised) == 4
    assert caught.value is raised[-1]
    assert "gave up after 4 attempt(s)" in "".join(caught.value.__notes__)


async def test_other_errors_are_not_retried(db: dualdb.Database) -> None:
    await _counters(db, 1)
    calls = 0

    async def duplicate(tx: dualdb.Transaction) -> None:
        nonlocal calls
        calls += 1
        await tx.execute(Query.into(COUNTERS).columns(COUNTERS.id, COUNTERS.n).insert(1, 5))

    with pytest.raises(dualdb.UniqueViolation):
        await run_in_transaction(db, duplicate)
    assert calls == 1


async def test_refuses_a_transaction_and_bad_arguments(db: dualdb.Database) -> None:
    async with db.transaction() as tx:
        with pytest.raises(dualdb.QueryError, match="needs the Database"):
            await run_in_transaction(tx, _read_then_write)  # type: ignore[arg-type]
    with pytest.raises(dualdb.QueryError, match="attempts"):
        await run_in_transaction(db, _read_then_write, attempts=0)
    with pytest.raises(dualdb.QueryError, match="delays"):
        await run_in_transaction(db, _read_then_write, base_delay=-1)


def test_backoff_is_full_jitter_within_an_exponential_cap() -> None:
    for attempt, cap in [(1, 0.01), (2, 0.02), (3, 0.04), (6, 0.32), (7, 0.5), (30, 0.5)]:
        delays = [backoff_delay(attempt, 0.01, 0.5) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert len(set(delays)) > 100  # random, not a fixed schedule


# ---------------------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_conflicting_serializable_transactions_both_commit_with_retries(
    database_url: str, backend: str
) -> None:
    """Two SERIALIZABLE read-modify-writes of one row, forced to overlap: without the
    helper one fails with SerializationFailure; with it, both increments count."""
    async with dualdb.connect(database_url, pool_max_size=4) as db:
        await _counters(db, 1)
        both_read = asyncio.Barrier(2)
        attempts: list[str] = []

        async def increment(tx: dualdb.Transaction) -> int:
            attempts.append("try")
            n = await tx.fetch_val(READ, id=1)
            if len(attempts) <= 2:  # only the two first attempts wait for each other
                await both_read.wait()
            await tx.execute(WRITE, n=n + 1, id=1)
            return int(n) + 1

        async with asyncio.timeout(HANG):
            results = await asyncio.gather(
                run_in_transaction(db, increment, isolation="serializable"),
                run_in_transaction(db, increment, isolation="serializable"),
            )
        assert sorted(results) == [1, 2]
        assert len(attempts) == 3  # exactly one retry
        assert await db.fetch_val(READ, id=1) == 2


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_without_retry_the_same_conflict_raises_serialization_failure(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_max_size=4) as db:
        await _counters(db, 1)
        both_read = asyncio.Barrier(2)

        async def increment() -> None:
            async with db.transaction(isolation="serializable") as tx:
                n = await tx.fetch_val(READ, id=1)
                await both_read.wait()
                await tx.execute(WRITE, n=n + 1, id=1)

        async with asyncio.timeout(HANG):
            outcomes = await asyncio.gather(increment(), increment(), return_exceptions=True)
        assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "SerializationFailure"]
        assert await db.fetch_val(READ, id=1) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_many_serializable_writers_lose_no_increment(database_url: str, backend: str) -> None:
    async with dualdb.connect(database_url, pool_max_size=20) as db:
        await _counters(db, 1, 2)
        tries = 0

        async def increment_both(tx: dualdb.Transaction) -> None:
            nonlocal tries
            tries += 1
            for id_ in (1, 2):
                await _read_then_write(tx, id_)

        async def worker() -> None:
            for _ in range(5):
                await run_in_transaction(
                    db, increment_both, isolation="serializable", attempts=100, max_delay=0.05
                )

        async with asyncio.timeout(HANG):
            await asyncio.gather(*(worker() for _ in range(20)))
        assert await db.fetch_val(READ, id=1) == 100
        assert await db.fetch_val(READ, id=2) == 100
        assert tries > 100  # conflicts did happen, and were retried


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.not_through_pgbouncer("a server setting in the URL")
async def test_a_real_deadlock_is_retried_until_both_transactions_commit(
    database_url: str, backend: str
) -> None:
    """Two transactions lock rows 1 and 2 in opposite orders; PostgreSQL aborts one with
    DeadlockDetected (after deadlock_timeout, set to 100 ms here), the helper reruns it.
    SQLite cannot deadlock: dualdb takes its one write lock at BEGIN (IMMEDIATE).

    Each row is locked as it is read (FOR UPDATE): under read committed, a plain read
    then write loses an update when the rerun reads a row before the surviving
    transaction has committed it."""
    async with dualdb.connect(f"{database_url}?deadlock_timeout=100ms", pool_max_size=4) as db:
        await _counters(db, 1, 2)
        first_locks = asyncio.Barrier(2)
        attempts: list[int] = []

        def transfer(first: int, second: int) -> Any:
            async def run(tx: dualdb.Transaction) -> None:
                attempts.append(first)
                await _read_then_write(tx, first, locked=True)
                if len(attempts) <= 2:
                    await first_locks.wait()
                await _read_then_write(tx, second, locked=True)

            return run

        async with asyncio.timeout(HANG):
            await asyncio.gather(
                run_in_transaction(db, transfer(1, 2)), run_in_transaction(db, transfer(2, 1))
            )
        assert len(attempts) == 3
        assert await db.fetch_val(READ, id=1) == 2
        assert await db.fetch_val(READ, id=2) == 2


# ---------------------------------------------------------------------------- SQLite


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_busy_sqlite_writer_is_retried_until_it_gets_the_lock(
    database_url: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLITE_BUSY ("database is locked") is a SerializationFailure: while one transaction
    holds the write lock, the other's BEGIN fails and is retried (the helper logs each
    retry), and it commits once the lock is free."""
    caplog.set_level(logging.INFO, logger="dualdb.retry")
    async with dualdb.connect(database_url, sqlite_busy_timeout=0) as db:
        await _counters(db, 1)
        holding = asyncio.Event()
        release = asyncio.Event()

        async def holder(tx: dualdb.Transaction) -> int:
            n = await _read_then_write(tx)
            holding.set()
            await release.wait()
            return n

        def retries() -> int:
            return sum("SerializationFailure" in r.getMessage() for r in caplog.records)

        async with asyncio.timeout(HANG):
            first = asyncio.create_task(run_in_transaction(db, holder))
            await holding.wait()
            second = asyncio.create_task(
                run_in_transaction(db, _read_then_write, attempts=10_000, max_delay=0.01)
            )
            for _ in range(int(HANG / 0.01)):
                if retries() >= 3:
                    break
                await asyncio.sleep(0.01)
            assert not second.done()  # still retrying while the lock is held
            release.set()
            assert (await first, await second) == (1, 2)
        assert retries() >= 3
        assert await db.fetch_val(READ, id=1) == 2


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_concurrent_sqlite_writers_in_one_process_lose_no_increment(
    database_url: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """20 tasks over 5 pooled connections, each its own SQLite connection and lock
    owner: BEGIN IMMEDIATE fails with SQLITE_BUSY whenever another holds the lock."""
    caplog.set_level(logging.INFO, logger="dualdb.retry")
    async with dualdb.connect(database_url, sqlite_busy_timeout=0, sqlite_pool_size=5) as db:
        await _counters(db, 1)

        async def increment(tx: dualdb.Transaction) -> int:
            n = await tx.fetch_val(READ, id=1)
            await asyncio.sleep(0)  # hold the lock while the other writers try
            await tx.execute(WRITE, n=n + 1, id=1)
            return int(n) + 1

        async def worker() -> None:
            for _ in range(10):
                await run_in_transaction(db, increment, attempts=10_000, max_delay=0.01)

        async with asyncio.timeout(HANG):
            await asyncio.gather(*(worker() for _ in range(20)))
        assert await db.fetch_val(READ, id=1) == 200
        retried = [r for r in caplog.records if "SerializationFailure" in r.getMessage()]
        assert retried  # SQLITE_BUSY happened and was retried


WRITER = """
import asyncio, sys
import dualdb
from dualdb import Param, Query, Table
from dualdb.retry import run_in_transaction

C = Table("counters")
READ = Query.from_(C).select(C.n).where(C.id == 1)
WRITE = Query.update(C).set(C.n, Param("n")).where(C.id == 1)

async def increment(tx):
    n = await tx.fetch_val(READ)
    await tx.execute(WRITE, n=n + 1)

async def main():
    async with dualdb.connect(sys.argv[1], sqlite_busy_timeout=0) as db:
        for _ in range(int(sys.argv[2])):
            await run_in_transaction(db, increment, attempts=10_000, max_delay=0.01)

asyncio.run(main())
"""


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_concurrent_sqlite_writer_processes_lose_no_increment(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url) as db:
        await _counters(db, 1)
        processes = [
            await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, database_url, "50")
            for _ in range(4)
        ]
        async with asyncio.timeout(HANG):
            codes = [await p.wait() for p in processes]
        assert codes == [0, 0, 0, 0]
        assert await db.fetch_val(READ, id=1) == 200


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_sqlite_connection_opened_while_another_holds_the_lock_waits_for_it(
    database_url: str, backend: str
) -> None:
    """Opening a connection is not a transaction: with ``sqlite_busy_timeout=0`` (a writer
    fails at once), the connection's own set-up still waits out a lock another process
    holds for a moment, up to the connect timeout, rather than fail as if it had lost a
    write race."""
    async with dualdb.connect(database_url) as db:
        await _counters(db, 1)
    path = database_url.removeprefix("sqlite:///")
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA locking_mode = EXCLUSIVE')\n"
        "db.execute('BEGIN EXCLUSIVE'); db.execute('UPDATE counters SET n = n')\n"
        "db.execute('COMMIT')\n"  # the exclusive lock stays held after COMMIT
        "print('locked', flush=True); time.sleep(0.5); db.close()\n",
        path,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert await holder.stdout.readline() == b"locked\n"
    async with dualdb.connect(database_url, sqlite_busy_timeout=0, connect_timeout=10) as db:
        assert await db.fetch_val(READ, id=1) == 0
    assert await holder.wait() == 0
