"""An exhausted pool makes callers wait up to ``pool_timeout``, then raise PoolTimeout;
a task that already holds a connection never deadlocks the pool against itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import dualdb
from dualdb import Query, Table, fn, raw

T = Table("t")
HANG = 10.0


def _pool(backend: str, size: int) -> dict[str, Any]:
    return {"sqlite_pool_size": size} if backend == "sqlite" else {"pool_max_size": size}


@contextlib.asynccontextmanager
async def _held(db: dualdb.Database, count: int) -> AsyncIterator[list[dualdb.Transaction]]:
    """``count`` connections checked out (read-only transactions, so SQLite's single
    write lock plays no part)."""
    async with contextlib.AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(db.transaction(readonly=True)) for _ in range(count)
        ]
        for tx in held:
            await tx.fetch_val(raw("SELECT 1"))
        yield held


async def test_exhausted_pool_waits_for_the_timeout_then_raises_pool_timeout(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_timeout=0.5, **_pool(backend, 2)) as db:
        async with _held(db, 2):
            started = time.monotonic()
            with pytest.raises(dualdb.PoolTimeout, match=r"0\.5s") as caught:
                await db.fetch_val(raw("SELECT 1"))
            waited = time.monotonic() - started
            assert 0.4 <= waited < 0.5 + HANG  # it did wait, and not forever
            assert "POOL" in str(caught.value)
        assert await db.fetch_val(raw("SELECT 1")) == 1  # usable again once released


async def test_a_waiting_caller_gets_the_first_connection_released(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_timeout=HANG, **_pool(backend, 1)) as db:
        release = asyncio.Event()

        async def hold() -> None:
            async with db.transaction(readonly=True) as tx:
                await tx.fetch_val(raw("SELECT 1"))
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(db.fetch_val(raw("SELECT 2")))
        await asyncio.sleep(0.1)
        assert not waiter.done()  # waiting, not failed
        release.set()
        async with asyncio.timeout(HANG):
            assert await waiter == 2
            await holder


async def test_task_in_a_transaction_can_query_through_the_pool_while_one_is_free(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_timeout=HANG, **_pool(backend, 2)) as db:
        async with asyncio.timeout(HANG), db.transaction(readonly=True) as tx:
            assert await tx.fetch_val(raw("SELECT 1")) == 1
            assert await db.fetch_val(raw("SELECT 2")) == 2  # a second connection


async def test_task_holding_the_last_connection_gets_pool_timeout_not_a_deadlock(
    database_url: str, backend: str
) -> None:
    """The classic self-deadlock (awaiting the pool from inside the only connection's
    transaction) ends with PoolTimeout after ``pool_timeout``; the transaction goes on."""
    async with dualdb.connect(database_url, pool_timeout=0.3, **_pool(backend, 1)) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER)"))
        async with asyncio.timeout(HANG), db.transaction() as tx:
            await tx.execute(raw("INSERT INTO t VALUES (1)"))
            with pytest.raises(dualdb.PoolTimeout):
                await db.fetch_val(raw("SELECT 1"))
            await tx.execute(raw("INSERT INTO t VALUES (2)"))
        assert await db.fetch_val(Query.from_(T).select(fn.Count("*"))) == 2


async def test_waiting_on_your_own_transactions_lock_fails_within_the_timeout(
    database_url: str, backend: str
) -> None:
    """A write through the pool while this task's own transaction holds the lock it
    needs: SQLite's whole-database write lock (busy timeout → SerializationFailure),
    PostgreSQL's row lock (statement timeout → QueryTimeout). Never an endless hang."""
    options: dict[str, Any] = (
        {"sqlite_busy_timeout": 0.3} if backend == "sqlite" else {"statement_timeout": 0.3}
    )
    expected = dualdb.SerializationFailure if backend == "sqlite" else dualdb.QueryTimeout
    async with dualdb.connect(database_url, pool_timeout=HANG, **options) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        await db.execute(raw("INSERT INTO t VALUES (1, 0)"))
        started = time.monotonic()
        async with asyncio.timeout(HANG), db.transaction() as tx:
            await tx.execute(raw("UPDATE t SET n = n + 1 WHERE id = 1"))
            with pytest.raises(expected):
                await db.execute(raw("UPDATE t SET n = n + 10 WHERE id = 1"))
        assert time.monotonic() - started < HANG
        assert await db.fetch_val(raw("SELECT n FROM t")) == 1


async def test_waiting_callers_get_connections_in_the_order_they_arrived(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_timeout=HANG, **_pool(backend, 1)) as db:
        release = asyncio.Event()
        served: list[int] = []

        async def hold() -> None:
            async with db.transaction(readonly=True) as tx:
                await tx.fetch_val(raw("SELECT 1"))
                await release.wait()

        async def wait_then_query(n: int) -> None:
            await db.fetch_val(raw(f"SELECT {n}"))
            served.append(n)

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.05)
        waiters = []
        for n in range(5):
            waiters.append(asyncio.create_task(wait_then_query(n)))
            await asyncio.sleep(0.01)  # each is queued before the next arrives
        release.set()
        async with asyncio.timeout(HANG):
            await asyncio.gather(holder, *waiters)
        assert served == [0, 1, 2, 3, 4]


async def test_a_cancelled_waiter_does_not_keep_a_connection(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_timeout=0.5, **_pool(backend, 1)) as db:
        async with _held(db, 1):
            waiter = asyncio.create_task(db.fetch_val(raw("SELECT 1")))
            await asyncio.sleep(0.05)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        # Two calls in turn on a pool of one: a leaked connection would time them out.
        assert await db.fetch_val(raw("SELECT 2")) == 2
        assert await db.fetch_val(raw("SELECT 3")) == 3


async def test_a_waiter_cancelled_just_as_it_is_handed_a_connection_passes_it_on(
    database_url: str, backend: str
) -> None:
    """The connection is given to the waiter and the waiter is cancelled before it runs
    (no await in between): the connection must go back to the pool, not vanish."""
    async with dualdb.connect(database_url, pool_timeout=0.5, **_pool(backend, 1)) as db:
        waiter: asyncio.Task[object] | None = None
        async with db.transaction(readonly=True) as tx:
            await tx.fetch_val(raw("SELECT 1"))
            waiter = asyncio.create_task(db.fetch_val(raw("SELECT 2")))
            await asyncio.sleep(0.05)
        waiter.cancel()  # right after the release handed it the connection
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        assert await db.fetch_val(raw("SELECT 3")) == 3
        assert await db.fetch_val(raw("SELECT 4")) == 4


async def test_a_connection_discarded_by_a_cancelled_transaction_frees_its_slot_for_a_waiter(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_timeout=HANG, **_pool(backend, 1)) as db:
        entered = asyncio.Event()

        async def hold_forever() -> None:
            async with db.transaction(readonly=True) as tx:
                await tx.fetch_val(raw("SELECT 1"))
                entered.set()
                await asyncio.Event().wait()

        holder = asyncio.create_task(hold_forever())
        await entered.wait()
        waiter = asyncio.create_task(db.fetch_val(raw("SELECT 2")))
        await asyncio.sleep(0.05)
        holder.cancel()  # its connection is discarded, not returned
        async with asyncio.timeout(HANG):
            assert await waiter == 2
            assert await db.fetch_val(raw("SELECT 3")) == 3


async def test_pool_stats_count_open_idle_in_use_and_waiting_connections(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_timeout=HANG, **_pool(backend, 2)) as db:
        assert _gauges(db.pool_stats()) == (1, 1, 0, 0, 2)
        async with _held(db, 2):
            waiter = asyncio.create_task(db.fetch_val(raw("SELECT 1")))
            await asyncio.sleep(0.05)
            stats = db.pool_stats()
            assert (stats.open, stats.idle, stats.in_use, stats.waiting) == (2, 0, 2, 1)
        assert await waiter == 1
        assert _gauges(db.pool_stats()) == (2, 2, 0, 0, 2)
        assert db.pool_stats().waits == 1


async def test_connections_idle_longer_than_the_idle_timeout_are_closed(
    database_url: str, backend: str
) -> None:
    """Closed after one to two ``idle_timeout``s idle, down to one connection."""
    options = _pool(backend, 3) | {"idle_timeout": 0.2}
    if backend == "postgresql":
        options["pool_min_size"] = 1
    async with dualdb.connect(database_url, pool_timeout=HANG, **options) as db:
        async with _held(db, 3):
            pass
        released = time.monotonic()
        assert db.pool_stats().idle == 3
        async with asyncio.timeout(HANG):
            while db.pool_stats().open > 1:  # noqa: ASYNC110  (the pool has no event)
                await asyncio.sleep(0.02)
        assert time.monotonic() - released >= 0.2  # not before they were idle that long
        assert await db.fetch_val(raw("SELECT 1")) == 1


async def test_connections_in_use_are_not_closed_by_the_idle_timeout(
    database_url: str, backend: str
) -> None:
    options = _pool(backend, 2) | {"idle_timeout": 0.1}
    async with dualdb.connect(database_url, pool_timeout=HANG, **options) as db:
        async with _held(db, 2) as held:
            await asyncio.sleep(0.35)
            assert db.pool_stats().in_use == 2
            for tx in held:
                assert await tx.fetch_val(raw("SELECT 1")) == 1


def _gauges(stats: dualdb.PoolStats) -> tuple[int, int, int, int, int]:
    """open, idle, in use, waiting, max size (the counters since opening left out)."""
    return (stats.open, stats.idle, stats.in_use, stats.waiting, stats.max_size)


# ------------------------------------------------------------ one vocabulary for both


async def test_pool_max_size_sizes_the_pool_on_every_backend(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_max_size=2, pool_timeout=0.2) as db:
        assert db.pool_stats().max_size == 2
        async with _held(db, 2):
            with pytest.raises(dualdb.PoolTimeout):
                async with db.transaction(readonly=True) as tx:
                    await tx.fetch_val(raw("SELECT 1"))


async def test_the_environments_pool_sizes_mean_the_same_on_every_backend(
    database_url: str,
) -> None:
    environ = {"DATABASE_URL": database_url, "DB_POOL_MAX_SIZE": "3", "DB_POOL_MIN_SIZE": "2"}
    settings = dualdb.load_settings(environ, env_file=None)

    async with dualdb.connect(settings=settings) as db:
        stats = db.pool_stats()

    assert (stats.max_size, stats.open) == (3, 2)


async def test_a_backends_own_pool_size_wins_over_the_common_one(database_url: str) -> None:
    async with dualdb.connect(
        database_url, pool_max_size=3, sqlite_pool_size=2, pool_min_size=1
    ) as db:
        expected = 2 if db.backend == "sqlite" else 3
        assert db.pool_stats().max_size == expected
