"""Statements outside transactions from many tasks at once: each caller gets its own
answer, a cancelled one affects no other caller, and a transaction is never starved.

On SQLite such statements share connections, queued one behind another in a connection's
thread (as many tasks on one aiosqlite connection); on PostgreSQL each takes a pooled
connection of its own. The behaviour asked of both is the same. A pool of ONE connection
makes "queued behind" certain.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from _faults import HANG, SLOW, no_unretrieved_exceptions, one_connection

import dualdb
from dualdb import Param, Query, Table, fn, raw

T = Table("t")
COUNT = Query.from_(T).select(fn.Count("*"))
INSERT = Query.into(T).columns(T.id, T.owner).insert(Param("id"), Param("owner"))
MINE = Query.from_(T).select(T.id).where(T.owner == Param("owner")).orderby(T.id)


async def _create_table(db: dualdb.Database) -> None:
    await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL)"))


async def _under_way(task: asyncio.Task[Any]) -> None:
    await asyncio.sleep(0.3)
    assert not task.done()


async def test_a_cancelled_statement_queued_behind_a_slow_one_never_runs(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await _create_table(db)
        slow = asyncio.create_task(db.fetch_val(raw(SLOW[backend])))
        await _under_way(slow)
        queued = asyncio.create_task(db.execute(INSERT, id=1, owner=1))
        await asyncio.sleep(0.1)

        queued.cancel()
        slow.cancel()
        for task in (queued, slow):
            with pytest.raises(asyncio.CancelledError):
                await task

        async with asyncio.timeout(HANG):
            assert await db.fetch_val(COUNT) == 0


async def test_cancelling_a_slow_statement_leaves_the_one_queued_behind_it_unharmed(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        slow = asyncio.create_task(db.fetch_val(raw(SLOW[backend])))
        await _under_way(slow)
        queued = asyncio.create_task(db.fetch_val(raw("SELECT 41 + 1")))
        await asyncio.sleep(0.1)
        started = time.monotonic()

        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow

        async with asyncio.timeout(HANG):
            assert await queued == 42  # not interrupted by the cancel meant for `slow`
        assert time.monotonic() - started < HANG


async def test_many_tasks_outside_transactions_each_get_their_own_answers(db: Any) -> None:
    await _create_table(db)

    async def owner(number: int) -> list[int]:
        for row in range(5):
            await db.execute(INSERT, id=number * 100 + row, owner=number)
        return [r["id"] for r in await db.fetch_all(MINE, owner=number)]

    with no_unretrieved_exceptions():
        answers = await asyncio.gather(*(owner(n) for n in range(64)))

    assert answers == [[n * 100 + row for row in range(5)] for n in range(64)]
    assert await db.fetch_val(COUNT) == 64 * 5


async def test_a_transaction_is_not_starved_by_a_stream_of_statements(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await _create_table(db)
        stop = asyncio.Event()

        async def reader() -> int:
            done = 0
            while not stop.is_set():
                await db.fetch_val(COUNT)
                done += 1
            return done

        readers = [asyncio.create_task(reader()) for _ in range(16)]
        await asyncio.sleep(0.2)
        try:
            async with asyncio.timeout(HANG):
                async with db.transaction() as tx:
                    await tx.execute(INSERT, id=1, owner=1)
        finally:
            stop.set()
            counts = await asyncio.gather(*readers)

        assert all(count > 0 for count in counts)
        assert await db.fetch_val(COUNT) == 1


async def test_a_failing_statement_fails_only_its_own_caller(db: Any) -> None:
    await _create_table(db)
    await db.execute(INSERT, id=1, owner=1)

    results = await asyncio.gather(
        *(db.execute(INSERT, id=1 if n % 2 else 1000 + n, owner=n) for n in range(32)),
        return_exceptions=True,
    )

    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 16
    assert all(isinstance(r, dualdb.UniqueViolation) for r in failed)
    assert await db.fetch_val(COUNT) == 1 + 16


async def test_closing_the_database_under_queued_statements_leaves_no_caller_waiting(
    database_url: str,
) -> None:
    db = await dualdb.connect(database_url)
    await _create_table(db)

    async def owner(number: int) -> str:
        try:
            for row in range(20):
                await db.execute(INSERT, id=number * 100 + row, owner=number)
        except dualdb.DatabaseError:
            return "refused"
        return "done"

    tasks = [asyncio.ensure_future(owner(n)) for n in range(64)]
    await asyncio.sleep(0.01)
    await db.close()
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks), timeout=HANG / 2)

    assert set(outcomes) <= {"done", "refused"}


async def test_a_slow_statement_does_not_hold_up_quick_ones_while_the_pool_has_room(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_max_size=4, pool_timeout=HANG) as db:
        slow = asyncio.create_task(db.fetch_val(raw(SLOW[backend])))
        await _under_way(slow)

        async def quick(number: int) -> int:
            answer: int = await db.fetch_val(raw("SELECT 40 + 2"))
            return answer + number - number

        try:
            async with asyncio.timeout(HANG / 2):  # SLOW takes far longer
                answers = await asyncio.gather(*(quick(n) for n in range(32)))
            assert answers == [42] * 32
        finally:
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
