"""Cancellation at random points, on every path a statement takes: afterwards every pooled
connection answers, no transaction was half applied, no task hung and nothing failed
unseen in the background.

Tasks run random operations (queries, writes, ``execute_many``, a stream read between
rows, a transaction cut off in BEGIN, a statement or COMMIT, a slow statement, and more
tasks than connections, so some wait for the pool) and each is cancelled after a random
delay. The seed is printed on failure; set ``DUALDB_CANCEL_SEED`` to replay it.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import random
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import dualdb
from dualdb import Param, Query, Table, fn, raw

T = Table("t")
U = Table("u")
POOL = 3
#: Tasks per round: more than the pool holds, so some are cancelled while waiting for it.
WIDTH = 8
CANCELLATIONS = 1000
HANG = 10.0
ROWS = 200

SELECT_ALL = Query.from_(T).select(T.id, T.n)
SELECT_ONE = Query.from_(T).select(T.id, T.n).where(T.id == Param("id"))
SELECT_N = Query.from_(T).select(T.n).where(T.id == Param("id"))
TOUCH = Query.update(T).set(T.m, T.m + 1).where(T.id == Param("id"))
ADD = Query.update(T).set(T.n, T.n + Param("by")).where(T.id == Param("id"))
INSERT_U = Query.into(U).columns(U.id).insert(Param("id"))
SUM_N = Query.from_(T).select(fn.Sum(T.n))
#: A statement that runs a few milliseconds, so that many cancels land mid-statement.
SLOW = {
    "postgresql": "SELECT pg_sleep(0.005)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 30000) SELECT count(*) FROM c",
}

Operation = Callable[[dualdb.Database, random.Random], Coroutine[Any, Any, Any]]


def _operations(backend: str, ids: itertools.count[int]) -> list[Operation]:
    async def fetch_all(db: dualdb.Database, rng: random.Random) -> Any:
        return await db.fetch_all(SELECT_ALL)

    async def fetch_one(db: dualdb.Database, rng: random.Random) -> Any:
        return await db.fetch_one(SELECT_ONE, id=rng.randrange(ROWS))

    async def fetch_val(db: dualdb.Database, rng: random.Random) -> Any:
        return await db.fetch_val(SELECT_N, id=rng.randrange(ROWS))

    async def execute(db: dualdb.Database, rng: random.Random) -> Any:
        return await db.execute(TOUCH, id=rng.randrange(ROWS))

    async def execute_many(db: dualdb.Database, rng: random.Random) -> Any:
        rows = [{"id": next(ids)} for _ in range(rng.randrange(1, 50))]
        return await db.execute_many(INSERT_U, rows)

    async def iterate(db: dualdb.Database, rng: random.Random) -> Any:
        async for _row in db.iterate(SELECT_ALL, batch_size=rng.randrange(1, 40)):
            await asyncio.sleep(0)

    async def transfer(db: dualdb.Database, rng: random.Random) -> Any:
        # Moves one unit between two rows: the sum of n stays 0 unless half applied.
        source, target = rng.sample(range(ROWS), 2)
        async with db.transaction() as tx:
            await tx.execute(ADD, id=source, by=-1)
            await tx.fetch_all(SELECT_ONE, id=target)
            await tx.execute(ADD, id=target, by=1)

    async def savepoint(db: dualdb.Database, rng: random.Random) -> Any:
        source, target = rng.sample(range(ROWS), 2)
        async with db.transaction() as tx:
            await tx.execute(ADD, id=source, by=-1)
            async with tx.transaction() as inner:
                await inner.fetch_val(SELECT_N, id=target)
            await tx.execute(ADD, id=target, by=1)

    async def slow(db: dualdb.Database, rng: random.Random) -> Any:
        return await db.fetch_val(raw(SLOW[backend]))

    async def slow_in_transaction(db: dualdb.Database, rng: random.Random) -> Any:
        async with db.transaction() as tx:
            await tx.execute(TOUCH, id=rng.randrange(ROWS))
            return await tx.fetch_val(raw(SLOW[backend]))

    return [
        fetch_all,
        fetch_one,
        fetch_val,
        execute,
        execute_many,
        iterate,
        transfer,
        savepoint,
        slow,
        slow_in_transaction,
    ]


async def _every_connection_answers(db: dualdb.Database) -> None:
    """Hold every pooled connection at once, each in a transaction of its own."""
    barrier = asyncio.Barrier(POOL)

    async def answer() -> None:
        async with db.transaction(readonly=True) as tx:
            assert await tx.fetch_val(raw("SELECT 1")) == 1
            await barrier.wait()

    await asyncio.gather(*(answer() for _ in range(POOL)))


async def _storm(db: dualdb.Database, backend: str, rng: random.Random) -> int:
    operations = _operations(backend, itertools.count(1))
    cancelled = 0
    while cancelled < CANCELLATIONS:
        tasks = [asyncio.create_task(rng.choice(operations)(db, rng)) for _ in range(WIDTH)]
        for task in tasks:
            asyncio.get_running_loop().call_later(rng.uniform(0, 0.006), task.cancel)
        async with asyncio.timeout(HANG):  # no task may hang in its cleanup
            await asyncio.wait(tasks)
        for task in tasks:
            if task.cancelled():
                cancelled += 1
            elif task.exception() is not None:
                raise AssertionError("an operation failed") from task.exception()
    return cancelled


async def test_random_cancellations_leave_every_pooled_connection_usable(
    database_url: str, backend: str
) -> None:
    seed = int(os.environ.get("DUALDB_CANCEL_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        async with dualdb.connect(
            database_url, pool_max_size=POOL, sqlite_pool_size=POOL, pool_timeout=HANG
        ) as db:
            await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, m INTEGER)"))
            await db.execute(raw("CREATE TABLE u (id INTEGER PRIMARY KEY)"))
            await db.execute_many(
                Query.into(T).columns(T.id, T.n, T.m).insert(Param("id"), 0, 0),
                [{"id": i} for i in range(ROWS)],
            )
            assert await _storm(db, backend, rng) >= CANCELLATIONS
            async with asyncio.timeout(HANG):
                await _every_connection_answers(db)
                assert await db.fetch_val(SUM_N) == 0  # no transaction half applied
            assert db.pool_stats().open <= POOL
        gc.collect()  # a failed task nobody awaited is reported when it is collected
        await asyncio.sleep(0)
        assert reported == []
    except BaseException as exc:
        exc.add_note(f"random cancellation seed: DUALDB_CANCEL_SEED={seed}")
        raise
    finally:
        loop.set_exception_handler(previous)


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_cancelled_sleeps_keep_the_server_connection(database_url: str, backend: str) -> None:
    """Fifty statements cancelled mid-flight on a pool of one: the same server process
    serves the next query (a cancel request, not a new connection)."""
    async with dualdb.connect(database_url, pool_max_size=1, pool_timeout=HANG) as db:
        pid = await db.fetch_val(raw("SELECT pg_backend_pid()"))
        for _ in range(50):
            task = asyncio.create_task(db.fetch_val(raw("SELECT pg_sleep(60)")))
            await asyncio.sleep(0.01)
            task.cancel()
            async with asyncio.timeout(HANG):
                await asyncio.wait([task])
        async with asyncio.timeout(HANG):
            assert await db.fetch_val(raw("SELECT pg_backend_pid()")) == pid
