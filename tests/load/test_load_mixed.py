"""Many concurrent tasks of mixed reads and writes over a small pool: no errors, exact counts.

PostgreSQL: 1,000 tasks over a pool of 20 connections. SQLite (WAL): 200 tasks over its
pool (5 connections, one writer at a time). Each task does single statements, an atomic
increment, a multi-statement transaction and reads, so the pool is contended and every
write path is exercised; the totals afterwards must be exact. Bounded by asyncio.timeout.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

import dualdb
from dualdb import Param, Query, Table, fn, raw

EVENTS = Table("events")
COUNTERS = Table("counters")
ACCOUNTS = Table("accounts")
LEDGER = Table("ledger")

INSERT_EVENT = (
    Query.into(EVENTS)
    .columns(EVENTS.id, EVENTS.task, EVENTS.kind)
    .insert(Param("id"), Param("task"), Param("kind"))
)
EVENT_BY_ID = Query.from_(EVENTS).select(EVENTS.task, EVENTS.kind).where(EVENTS.id == Param("id"))
BUMP = Query.update(COUNTERS).set(COUNTERS.n, COUNTERS.n + 1).where(COUNTERS.id == 1)
COUNTER = Query.from_(COUNTERS).select(COUNTERS.n).where(COUNTERS.id == 1)
CREDIT = (
    Query.update(ACCOUNTS)
    .set(ACCOUNTS.balance, ACCOUNTS.balance + Param("amount"))
    .where(ACCOUNTS.id == Param("account"))
)
POST = (
    Query.into(LEDGER)
    .columns(LEDGER.task, LEDGER.account, LEDGER.amount)
    .insert(Param("task"), Param("account"), Param("amount"))
)
BALANCE_TOTAL = Query.from_(ACCOUNTS).select(fn.Cast(fn.Sum(ACCOUNTS.balance), "BIGINT"))
LEDGER_TOTAL = Query.from_(LEDGER).select(fn.Cast(fn.Sum(LEDGER.amount), "BIGINT"))
RECENT = (
    Query.from_(EVENTS)
    .select(EVENTS.id, EVENTS.kind)
    .where(EVENTS.task < Param("task"))
    .orderby(EVENTS.id)
    .limit(20)
)

#: (tasks, pool options, time bound in seconds) per backend.
LOAD: dict[str, tuple[int, dict[str, Any], float]] = {
    "postgresql": (1000, {"pool_max_size": 20, "pool_min_size": 20}, 120.0),
    "sqlite": (200, {"sqlite_pool_size": 5}, 120.0),
}
ACCOUNT_COUNT = 10


async def _schema(db: dualdb.Database) -> None:
    t = db.dialect.column_type
    for statement in (
        f"CREATE TABLE events (id {t('bigint')} PRIMARY KEY, task {t('bigint')} NOT NULL, "
        f"kind {t('text')} NOT NULL)",
        f"CREATE TABLE counters (id {t('bigint')} PRIMARY KEY, n {t('bigint')} NOT NULL)",
        f"CREATE TABLE accounts (id {t('bigint')} PRIMARY KEY, balance {t('bigint')} NOT NULL)",
        f"CREATE TABLE ledger (task {t('bigint')} NOT NULL, account {t('bigint')} NOT NULL, "
        f"amount {t('bigint')} NOT NULL)",
        "INSERT INTO counters (id, n) VALUES (1, 0)",
    ):
        await db.execute(raw(statement))
    await db.execute_many(
        Query.into(ACCOUNTS).columns(ACCOUNTS.id, ACCOUNTS.balance).insert(Param("id"), 0),
        [{"id": n} for n in range(ACCOUNT_COUNT)],
    )


async def _task(db: dualdb.Database, number: int, rng: random.Random) -> int:
    """One client's mixed work; returns the amount it moved through the ledger."""
    await db.execute(INSERT_EVENT, id=number, task=number, kind="start")
    await db.execute(BUMP)
    row = await db.fetch_one(EVENT_BY_ID, id=number)
    assert row is not None and (row["task"], row["kind"]) == (number, "start")
    amount = rng.randint(1, 100)
    account = rng.randrange(ACCOUNT_COUNT)
    async with db.transaction() as tx:  # two writes that must land together
        await tx.execute(CREDIT, amount=amount, account=account)
        await tx.execute(POST, task=number, account=account, amount=amount)
        await tx.execute(INSERT_EVENT, id=number + 1_000_000, task=number, kind="posted")
    assert len(await db.fetch_all(RECENT, task=number)) <= 20
    assert await db.fetch_val(COUNTER) >= 1
    return amount


async def test_concurrent_mixed_workload_finishes_with_exact_counts(
    database_url: str, backend: str
) -> None:
    tasks, pool, bound = LOAD[backend]
    rng = random.Random(6)  # the amounts only; deterministic
    async with dualdb.connect(database_url, pool_timeout=bound, **pool) as db:
        await _schema(db)
        started = time.monotonic()
        async with asyncio.timeout(bound):
            moved = await asyncio.gather(*(_task(db, n, rng) for n in range(tasks)))
        elapsed = time.monotonic() - started
        events = Query.from_(EVENTS).select(fn.Count("*"))
        assert await db.fetch_val(events) == 2 * tasks
        assert await db.fetch_val(COUNTER) == tasks
        assert await db.fetch_val(Query.from_(LEDGER).select(fn.Count("*"))) == tasks
        assert await db.fetch_val(LEDGER_TOTAL) == sum(moved)
        assert await db.fetch_val(BALANCE_TOTAL) == sum(moved)
    print(f"\n{backend}: {tasks} tasks in {elapsed:.2f}s")


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_readers_run_beside_a_writer_in_wal_mode(
    database_url: str, backend: str
) -> None:
    """WAL: while a write transaction is open, reads from the pool's other connections
    proceed (and see the last committed state) instead of waiting for the lock."""
    async with dualdb.connect(database_url, sqlite_pool_size=5) as db:
        await _schema(db)
        assert await db.fetch_val(raw("PRAGMA journal_mode")) == "wal"
        async with asyncio.timeout(30), db.transaction() as tx:
            await tx.execute(BUMP)
            reads = await asyncio.gather(*(db.fetch_val(COUNTER) for _ in range(50)))
            assert reads == [0] * 50
        assert await db.fetch_val(COUNTER) == 1
