"""A task cancelled mid-query leaves its connection usable or discarded: the next user of
the pool gets it promptly and never inside a leftover transaction.

Each test uses a pool of ONE connection, so "the next user" is certain to get the very
connection (or the replacement of the one) the cancelled task had. The slow statement is
``pg_sleep`` on PostgreSQL and a counting recursive CTE on SQLite (tens of seconds).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
from _faults import HANG, SLOW, in_transaction, no_unretrieved_exceptions, one_connection

import dualdb
from dualdb import Param, Query, Table, fn, raw

T = Table("t")
COUNT = Query.from_(T).select(fn.Count("*"))
INSERT = Query.into(T).columns(T.id).insert(Param("id"))


async def _cancel_soon(task: asyncio.Task[Any], delay: float = 0.3) -> None:
    """Cancel ``task`` once its statement is under way (an earlier cancel is a cancel too)."""
    await asyncio.sleep(delay)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _next_user_is_prompt_and_clean(db: dualdb.Database) -> None:
    started = time.monotonic()
    async with asyncio.timeout(HANG):
        assert await db.fetch_val(raw("SELECT 1")) == 1
        assert not await in_transaction(db)
    assert time.monotonic() - started < HANG


async def test_query_cancelled_mid_statement_leaves_the_pool_usable(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await _cancel_soon(asyncio.create_task(db.fetch_val(raw(SLOW[backend]))))
        await _next_user_is_prompt_and_clean(db)


async def test_transaction_cancelled_mid_statement_is_rolled_back_and_not_reused(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))

        async def work() -> None:
            async with db.transaction() as tx:
                await tx.execute(INSERT, id=1)
                await tx.fetch_val(raw(SLOW[backend]))

        await _cancel_soon(asyncio.create_task(work()))
        await _next_user_is_prompt_and_clean(db)
        async with asyncio.timeout(HANG):
            assert await db.fetch_val(COUNT) == 0
            # No lock left behind: on PostgreSQL the server-side statement of the
            # discarded connection must end too (its uncommitted row 1 blocks this).
            await db.execute(INSERT, id=1)
        assert await db.fetch_val(COUNT) == 1


async def test_transaction_cancelled_while_waiting_for_a_lock_leaves_nothing_behind(
    database_url: str, backend: str
) -> None:
    """Cancelled while blocked on a lock another connection holds: SQLite's BEGIN
    IMMEDIATE waiting for the write lock (its BEGIN would otherwise still succeed in the
    connection's thread after the task gave up, and pool a connection that holds the
    write lock forever); PostgreSQL's UPDATE waiting for a row lock."""
    async with dualdb.connect(database_url, pool_timeout=HANG) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
        await db.execute(raw("INSERT INTO t VALUES (1, 0)"))
        holder_done = asyncio.Event()
        may_commit = asyncio.Event()

        async def holder() -> None:
            async with db.transaction() as tx:
                await tx.execute(raw("UPDATE t SET n = n + 1 WHERE id = 1"))
                holder_done.set()
                await may_commit.wait()

        async def blocked() -> None:
            async with db.transaction() as tx:
                await tx.execute(raw("UPDATE t SET n = n + 100 WHERE id = 1"))

        holding = asyncio.create_task(holder())
        await holder_done.wait()
        await _cancel_soon(asyncio.create_task(blocked()))
        may_commit.set()
        async with asyncio.timeout(HANG):
            await holding
            # Every pooled connection can write, and none sits in a transaction.
            await asyncio.gather(
                *(db.execute(raw("UPDATE t SET n = n + 1 WHERE id = 1")) for _ in range(10))
            )
            assert not await in_transaction(db)
        assert await db.fetch_val(raw("SELECT n FROM t WHERE id = 1")) == 11


async def test_cancelled_stream_leaves_the_pool_usable(database_url: str, backend: str) -> None:
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        await db.execute_many(INSERT, [{"id": n} for n in range(2000)])
        started = asyncio.Event()

        async def consume() -> None:
            async for _row in db.iterate(Query.from_(T).select(T.id), batch_size=10):
                started.set()
                await asyncio.sleep(60)

        task = asyncio.create_task(consume())
        await started.wait()
        await _cancel_soon(task, delay=0.05)
        await _next_user_is_prompt_and_clean(db)
        assert await db.fetch_val(COUNT) == 2000


async def test_streams_cancelled_at_random_points_leave_the_pool_usable(
    database_url: str, backend: str
) -> None:
    """Cancelled between rows (the loop then closes the abandoned stream in a task of its
    own) or while a batch is being fetched: the next user is served at once, every time."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        await db.execute_many(INSERT, [{"id": n} for n in range(500)])

        async def consume() -> None:
            async for _row in db.iterate(Query.from_(T).select(T.id), batch_size=10):
                await asyncio.sleep(0)

        with no_unretrieved_exceptions():
            for _ in range(60):
                task = asyncio.create_task(consume())
                await asyncio.sleep(rng.uniform(0, 0.005))
                task.cancel()
                async with asyncio.timeout(HANG):
                    await asyncio.wait([task])
                    assert await db.fetch_val(COUNT) == 500, f"seed {seed}"


async def _connection_marker(db: dualdb.Database, backend: str) -> Any:
    """What tells one connection from another: PostgreSQL's backend pid; SQLite's
    count of rows this connection changed (a new connection's is 0). (Not a temporary
    table: it changes the session, so the pool resets the connection, as it must.)"""
    if backend == "postgresql":
        return await db.fetch_val(raw("SELECT pg_backend_pid()"))
    return await db.fetch_val(raw("SELECT total_changes()"))


async def _mark_connection(db: dualdb.Database, backend: str) -> Any:
    if backend == "sqlite":
        await db.execute(raw("CREATE TABLE connection_marker (x INTEGER)"))
        await db.execute(raw("INSERT INTO connection_marker VALUES (1)"))
    marker = await _connection_marker(db, backend)
    assert marker  # a pid, or at least the row just inserted
    return marker


async def test_cancelled_statements_keep_their_connection(database_url: str, backend: str) -> None:
    """A cancelled statement costs a cancel request, not a new connection: the one
    pooled connection is the same after 50 cancellations."""
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        marker = await _mark_connection(db, backend)
        for _ in range(50):
            await _cancel_soon(asyncio.create_task(db.fetch_val(raw(SLOW[backend]))), 0.01)
        async with asyncio.timeout(HANG):
            assert await _connection_marker(db, backend) == marker


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_cancelled_transactions_keep_their_connection(
    database_url: str, backend: str
) -> None:
    """(SQLite closes a connection whose transaction was interrupted: reopening a file
    costs little, and its driver cannot tell how far the statement got.)"""
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await db.execute(raw("CREATE TABLE connection_marker (x INTEGER)"))
        marker = await _mark_connection(db, backend)

        async def work() -> None:
            async with db.transaction() as tx:
                await tx.execute(raw("INSERT INTO connection_marker VALUES (1)"))
                await tx.fetch_val(raw(SLOW[backend]))

        for _ in range(20):
            await _cancel_soon(asyncio.create_task(work()), 0.01)
        async with asyncio.timeout(HANG):
            assert await _connection_marker(db, backend) == marker
            assert await db.fetch_val(raw("SELECT count(*) FROM connection_marker")) == 0


async def test_commit_survives_a_cancel_that_arrives_after_it(
    database_url: str, backend: str
) -> None:
    """Cancelling a task right after its transaction committed changes nothing."""
    async with dualdb.connect(database_url, **one_connection(backend)) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        committed = asyncio.Event()

        async def work() -> None:
            async with db.transaction() as tx:
                await tx.execute(INSERT, id=7)
            committed.set()
            await asyncio.sleep(60)

        task = asyncio.create_task(work())
        await committed.wait()
        await _cancel_soon(task, delay=0)
        await _next_user_is_prompt_and_clean(db)
        assert await db.fetch_val(COUNT) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_cancelled_query_on_an_in_memory_database_keeps_its_data(backend: str) -> None:
    """A private in-memory SQLite database lives in its one connection: a cancelled call
    must not cost that connection. (PostgreSQL has no such database.)"""
    async with dualdb.connect("sqlite:///:memory:", pool_timeout=HANG) as db:
        await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        await db.execute(INSERT, id=1)
        await _cancel_soon(asyncio.create_task(db.fetch_val(raw(SLOW["sqlite"]))))
        async with asyncio.timeout(HANG):
            assert await db.fetch_val(COUNT) == 1
            async with db.transaction() as tx:  # not inside a leftover transaction
                await tx.execute(INSERT, id=2)
        assert await db.fetch_val(COUNT) == 2
