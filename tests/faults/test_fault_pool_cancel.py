"""A task cancelled at each step of its way through the pool and the driver: while waiting
for a connection, during BEGIN, during a statement, during a cursor fetch, during COMMIT.

After each, the cancelled task has ended promptly, the pool's figures add up (nothing
leaked, nothing counted twice), the next user gets a connection that answers and is not
inside a transaction, and nothing failed unseen in the background. On PostgreSQL the
connection is also the same server process: a cancellation costs no new connection.

A task cancels itself just before it awaits the step under test, so the cancellation
lands exactly there, at the step's first suspension, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from _faults import in_transaction, no_unretrieved_exceptions

import dualdb
from dualdb import Param, Query, Table, fn, raw
from dualdb.sql.compile import compile_query

T = Table("t")
ADD = Query.update(T).set(T.n, T.n + Param("by")).where(T.id == Param("id"))
SUM = Query.from_(T).select(fn.Sum(T.n))
ALL = Query.from_(T).select(T.id, T.n).orderby(T.id)
ROWS = 100
#: A cancelled task must end within this long; it never waits for the server.
PROMPT = 1.0
#: The pool must have settled the cancelled task's connection within this long.
SETTLED = 8.0
#: A statement that runs far longer than any test.
SLOW = {
    "postgresql": "SELECT pg_sleep(60)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 300000000) SELECT count(*) FROM c",
}


def _pool(backend: str, size: int) -> dict[str, Any]:
    sized = {"sqlite_pool_size": size} if backend == "sqlite" else {"pool_max_size": size}
    return {**sized, "pool_timeout": SETTLED}


@asynccontextmanager
async def _accounts(database_url: str, backend: str, size: int) -> AsyncIterator[dualdb.Database]:
    async with dualdb.connect(database_url, **_pool(backend, size)) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        await db.execute_many(
            Query.into(T).columns(T.id, T.n).insert(Param("id"), 0),
            [{"id": i} for i in range(ROWS)],
        )
        with no_unretrieved_exceptions():
            yield db


async def _server_process(db: dualdb.Database) -> Any:
    """Which server process the (single) pooled connection is: None on SQLite."""
    if db.backend != "postgresql":
        return None
    return await db.fetch_val(raw("SELECT pg_backend_pid()"))


async def _ends_promptly(task: asyncio.Task[Any]) -> None:
    """``task``, cancelled, must end within ``PROMPT``."""
    started = time.monotonic()
    done, _ = await asyncio.wait([task], timeout=PROMPT)
    assert done, f"a cancelled task still ran after {time.monotonic() - started:.2f}s"
    assert task.cancelled()


async def _cancel_itself() -> None:
    """Request this task's cancellation: it is delivered at the next suspension."""
    task = asyncio.current_task()
    assert task is not None
    task.cancel()


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (a pool figure, which nothing signals) for up to ``SETTLED``."""
    deadline = time.monotonic() + SETTLED
    for _ in itertools.count():
        if condition() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.002)


async def _settled_and_sound(db: dualdb.Database, process: Any = None) -> None:
    """Wait until the pool has settled every connection, then check its figures and that
    the next user gets a clean connection (the same server process, where given)."""
    await _until(lambda: not (db.pool_stats().in_use or db.pool_stats().waiting))
    stats = db.pool_stats()
    assert stats.open == stats.idle <= stats.max_size
    assert stats.in_use == stats.waiting == 0
    async with asyncio.timeout(SETTLED):
        assert await db.fetch_val(raw("SELECT 1")) == 1
        assert not await in_transaction(db)
        if process is not None:
            assert await _server_process(db) == process
        assert await db.fetch_val(SUM) == 0
    after = db.pool_stats()
    assert after.in_use == after.waiting == 0
    assert after.open == after.idle <= after.max_size


async def _cancelled_each_time(
    db: dualdb.Database, process: Any, works: list[Callable[[], Coroutine[Any, Any, None]]]
) -> None:
    """Run each ``work`` (which cancels itself at the step under test) as a task: it ends
    promptly, and the pool is settled and sound before the next."""
    for work in works:
        await _ends_promptly(asyncio.create_task(work()))
        await _settled_and_sound(db, process)


async def _transfer(tx: dualdb.Transaction) -> None:
    await tx.execute(ADD, id=1, by=-1)
    await tx.execute(ADD, id=2, by=1)


async def test_a_caller_cancelled_while_waiting_for_the_pool_leaves_no_waiter_behind(
    database_url: str, backend: str
) -> None:
    async with _accounts(database_url, backend, 1) as db:
        process = await _server_process(db)
        held, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with db.transaction() as tx:
                await tx.fetch_val(raw("SELECT 1"))
                held.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await held.wait()
        waiter = asyncio.create_task(db.fetch_val(raw("SELECT 1")))
        await _until(lambda: db.pool_stats().waiting == 1)
        assert db.pool_stats().waiting == 1
        waiter.cancel()
        await _ends_promptly(waiter)
        assert db.pool_stats().waiting == 0
        assert db.pool_stats().open == 1
        release.set()
        await holder
        await _settled_and_sound(db, process)


async def test_a_transaction_cancelled_during_begin_leaves_a_clean_connection(
    database_url: str, backend: str
) -> None:
    async with _accounts(database_url, backend, 1) as db:
        process = await _server_process(db)

        async def work() -> None:
            await _cancel_itself()
            async with db.transaction() as tx:
                await _transfer(tx)

        await _cancelled_each_time(db, process, [work] * 10)


@pytest.mark.parametrize("step", [0, 1])
async def test_a_transaction_cancelled_during_a_statement_is_rolled_back(
    database_url: str, backend: str, step: int
) -> None:
    async with _accounts(database_url, backend, 1) as db:
        process = await _server_process(db)

        async def work() -> None:
            async with db.transaction() as tx:
                if step == 1:
                    await tx.execute(ADD, id=1, by=-1)
                    await _cancel_itself()
                    await tx.execute(ADD, id=2, by=1)
                else:
                    await _cancel_itself()
                    await _transfer(tx)

        await _cancelled_each_time(db, process, [work] * 10)


async def test_a_statement_outside_a_transaction_cancelled_midway_gives_its_connection_back(
    database_url: str, backend: str
) -> None:
    async with _accounts(database_url, backend, 1) as db:
        process = await _server_process(db)

        async def work() -> None:
            await _cancel_itself()
            await db.fetch_val(SUM)

        await _cancelled_each_time(db, process, [work] * 10)


async def test_a_stream_cancelled_during_a_cursor_fetch_gives_its_connection_back(
    database_url: str, backend: str
) -> None:
    async with _accounts(database_url, backend, 1) as db:
        process = await _server_process(db)

        async def read() -> None:
            seen = 0
            async for _row in db.iterate(ALL, batch_size=10):
                seen += 1
                if seen == 10:  # the first batch is read: the next row needs a fetch
                    await _cancel_itself()

        async def read_in_a_transaction() -> None:
            async with db.transaction() as tx:
                await tx.execute(ADD, id=1, by=-1)
                async for _row in tx.iterate(ALL, batch_size=10):
                    await _cancel_itself()
                await tx.execute(ADD, id=2, by=1)

        await _cancelled_each_time(db, process, [read, read_in_a_transaction] * 3)


async def test_a_transaction_cancelled_during_commit_is_applied_whole_or_not_at_all(
    database_url: str, backend: str
) -> None:
    async with _accounts(database_url, backend, 1) as db:
        process = await _server_process(db)

        async def work() -> None:
            async with db.transaction() as tx:
                await _transfer(tx)
                await _cancel_itself()  # delivered in COMMIT, as the block ends

        await _cancelled_each_time(db, process, [work] * 10)
        moved = await db.fetch_val(Query.from_(T).select(T.n).where(T.id == 2))
        assert 0 <= moved <= 10
        assert await db.fetch_val(Query.from_(T).select(T.n).where(T.id == 1)) == -moved


async def test_a_task_cancelled_in_a_long_statement_ends_at_once_and_its_connection_soon(
    database_url: str, backend: str
) -> None:
    async with _accounts(database_url, backend, 1) as db:
        process = await _server_process(db)

        async def work() -> None:
            async with db.transaction() as tx:
                await tx.execute(ADD, id=1, by=-1)
                await tx.fetch_val(raw(SLOW[backend]))

        task = asyncio.create_task(work())
        await asyncio.sleep(0.2)  # the slow statement is under way
        task.cancel()
        await _ends_promptly(task)
        await _settled_and_sound(db, process)


async def test_cancellations_at_every_step_of_many_tasks_leave_the_pool_consistent(
    database_url: str, backend: str
) -> None:
    """Eight tasks on a pool of two, each cancelled after a different number of loop
    turns: cancellations land in pool waits, BEGINs, statements and COMMITs at once."""
    async with _accounts(database_url, backend, 2) as db:

        async def work() -> None:
            async with db.transaction() as tx:
                await _transfer(tx)

        for turns in range(0, 60, 3):
            tasks = [asyncio.create_task(work()) for _ in range(8)]
            for _ in range(turns):
                await asyncio.sleep(0)
            for task in tasks:
                task.cancel()
            started = time.monotonic()
            await asyncio.wait(tasks, timeout=PROMPT)
            assert all(task.done() for task in tasks), time.monotonic() - started
            for task in tasks:
                if not task.cancelled():
                    task.result()  # committed before the cancel arrived
            stats = db.pool_stats()
            assert stats.open <= stats.max_size
            assert stats.idle + stats.in_use == stats.open
        await _settled_and_sound(db)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_sqlite_call_cancelled_before_its_thread_began_it_never_runs(
    database_url: str, backend: str
) -> None:
    """SQLite runs a connection's calls one after another in its thread. A call whose
    caller is cancelled while it still waits there is skipped: otherwise a statement
    nobody waits for would run to its end (a long query holding the connection for
    minutes), since an interrupt only stops a running statement."""
    async with dualdb.connect(database_url, **_pool(backend, 1)) as db:
        await db.execute(raw("CREATE TABLE marks (x INTEGER)"))
        insert = raw("INSERT INTO marks VALUES (1)")
        async with db._driver.acquire() as conn:
            busy = asyncio.ensure_future(conn._in_thread(time.sleep, 0.3))  # type: ignore[attr-defined]
            queued = asyncio.create_task(conn.execute(compile_query(insert, db.dialect), ()))
            await asyncio.sleep(0.05)
            queued.cancel()
            with pytest.raises(asyncio.CancelledError):
                await queued
            await busy
        async with asyncio.timeout(SETTLED):
            assert await db.fetch_val(raw("SELECT count(*) FROM marks")) == 0
            await db.execute(insert)  # and the connection still works
            assert await db.fetch_val(raw("SELECT count(*) FROM marks")) == 1
