"""Reads outside a transaction, short and long, and what the event loop does meanwhile,
on both backends.

On SQLite a SELECT starts in the event loop's thread and moves to its connection's
thread once it has taken more than a moment (see ``SQLiteDriver.run``). These tests hold
what that must not change: a long read returns every row, other tasks keep running while
it does, and a write waiting for a lock holds up no read.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import dualdb
from dualdb import Param, Query, Table, fn, raw

T = Table("t")
ADD = Query.into(T).columns(T.id).insert(Param("id"))
COUNT = Query.from_(T).select(fn.Count("*"))
DIGITS = Table("digits")


async def _digits(db: dualdb.Database) -> None:
    await db.execute(raw("CREATE TABLE digits (d INTEGER NOT NULL)"))
    await db.execute_many(
        Query.into(DIGITS).columns(DIGITS.d).insert(Param("d")), [{"d": d} for d in range(10)]
    )


def _numbers(places: int) -> dualdb.Raw:
    """A SELECT of every number with ``places`` decimal digits, in order: 10**places
    rows, from the digits table joined with itself."""
    names = [f"p{i}" for i in range(places)]
    value = " + ".join(f"{name}.d * {10**i}" for i, name in enumerate(reversed(names)))
    tables = ", ".join(f"digits {name}" for name in names)
    return raw(f"SELECT {value} FROM {tables} ORDER BY 1")


def _count_of(places: int) -> dualdb.Raw:
    tables = ", ".join(f"digits p{i}" for i in range(places))
    return raw(f"SELECT count(*) FROM {tables}")


async def test_a_long_read_returns_every_row(db: dualdb.Database) -> None:
    await _digits(db)
    rows = await db.fetch_all(_numbers(4))
    assert [r[0] for r in rows] == list(range(10_000))


async def test_a_long_read_then_short_ones_each_get_their_own_result(db: dualdb.Database) -> None:
    await _digits(db)
    for places in (1, 5, 2, 4, 0):
        query = _count_of(places) if places else raw("SELECT count(*) FROM digits WHERE d < 0")
        assert await db.fetch_val(query) == (10**places if places else 0)


async def test_other_tasks_run_while_a_long_read_runs(db: dualdb.Database) -> None:
    """A read that takes a while leaves the event loop free: a task waking every 5 ms
    wakes many times during it (were the loop held, it could not wake at all)."""
    await _digits(db)
    ticks = 0
    reading = True

    async def ticker() -> None:
        nonlocal ticks
        while reading:
            await asyncio.sleep(0.005)
            ticks += 1

    places = 6
    while True:
        running = asyncio.create_task(ticker())
        await asyncio.sleep(0)  # the ticker is waiting on its first sleep
        ticks = 0
        started = time.perf_counter()
        assert await db.fetch_val(_count_of(places)) == 10**places
        took = time.perf_counter() - started
        seen = ticks
        reading = False
        await running
        reading = True
        if took >= 0.2 or places == 8:
            break
        places += 1  # a faster machine: count further, until the read lasts 0.2 s
    assert seen >= 5, f"{seen} ticks in a {took:.2f} s read"


async def test_a_task_reading_in_a_loop_lets_other_tasks_run(db: dualdb.Database) -> None:
    await _digits(db)
    one = raw("SELECT d FROM digits WHERE d = 7")
    turns = 0
    reading = True

    async def other() -> None:
        nonlocal turns
        while reading:
            turns += 1
            await asyncio.sleep(0)

    running = asyncio.create_task(other())
    await asyncio.sleep(0)
    turns = 0
    for _ in range(200):
        assert await db.fetch_val(one) == 7
    seen = turns
    reading = False
    await running
    assert seen >= 10, f"the other task ran {seen} times during 200 reads"


class _RolledBack(Exception):
    pass


async def test_a_write_waiting_for_a_lock_holds_up_no_read(db: dualdb.Database) -> None:
    """A write that waits (SQLite: for the write lock; PostgreSQL: for the row another
    transaction inserted) waits alone: reads outside it still answer at once."""
    await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    waiting: asyncio.Task[int] | None = None
    with pytest.raises(_RolledBack):
        async with db.transaction() as tx:
            await tx.execute(ADD, id=1)
            waiting = asyncio.create_task(db.execute(ADD, id=1))
            await asyncio.sleep(0.05)
            assert not waiting.done()
            for _ in range(20):
                assert await db.fetch_val(COUNT) == 0
            assert not waiting.done()
            raise _RolledBack
    assert waiting is not None
    assert await waiting == 1  # the transaction rolled back: the waiting insert goes in
    assert await db.fetch_val(COUNT) == 1
