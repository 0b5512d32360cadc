"""Transactions and savepoints, on both backends."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dualdb
from dualdb import Param, Query, fn
from dualdb.dialects import dialect_names, get_dialect
from dualdb.dialects.base import ISOLATION_LEVELS, IsolationLevel
from dualdb.dialects.sqlite import SQLiteDialect

t = dualdb.Table("items")
INSERT = Query.into(t).columns(t.id, t.name).insert(Param("id"), Param("name"))
COUNT = Query.from_(t).select(fn.Count("*"))
NAMES = Query.from_(t).select(t.name).orderby(t.name)


class Boom(Exception):
    pass


async def names(db: dualdb.Queryable) -> list[str]:
    return [r["name"] for r in await db.fetch_all(NAMES)]


async def test_commit_on_success_is_visible_to_other_connections(items: dualdb.Database) -> None:
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="a")
    assert await names(items) == ["a"]


async def test_exception_rolls_back_everything(items: dualdb.Database) -> None:
    with pytest.raises(Boom):
        async with items.transaction() as tx:
            await tx.execute(INSERT, id=uuid.uuid4(), name="a")
            await tx.execute(INSERT, id=uuid.uuid4(), name="b")
            raise Boom
    assert await names(items) == []


async def test_uncommitted_work_is_invisible_outside(items: dualdb.Database) -> None:
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="a")
        assert await names(tx) == ["a"]
        assert await names(items) == []


async def test_failed_inner_savepoint_keeps_outer_work(items: dualdb.Database) -> None:
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="outer")
        with pytest.raises(Boom):
            async with tx.transaction() as inner:
                await inner.execute(INSERT, id=uuid.uuid4(), name="inner")
                raise Boom
        await tx.execute(INSERT, id=uuid.uuid4(), name="after")
    assert await names(items) == ["after", "outer"]


async def test_database_error_in_savepoint_can_be_recovered(items: dualdb.Database) -> None:
    uid = uuid.uuid4()
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uid, name="first")
        with pytest.raises(dualdb.UniqueViolation):
            async with tx.transaction() as inner:
                await inner.execute(INSERT, id=uid, name="dup")
        await tx.execute(INSERT, id=uuid.uuid4(), name="second")
    assert await names(items) == ["first", "second"]


async def test_successful_savepoint_commits_with_outer(items: dualdb.Database) -> None:
    async with items.transaction() as tx:
        async with tx.transaction() as inner:
            await inner.execute(INSERT, id=uuid.uuid4(), name="a")
            async with inner.transaction() as deeper:
                await deeper.execute(INSERT, id=uuid.uuid4(), name="b")
    assert await names(items) == ["a", "b"]


async def test_outer_rollback_discards_released_savepoints(items: dualdb.Database) -> None:
    with pytest.raises(Boom):
        async with items.transaction() as tx:
            async with tx.transaction() as inner:
                await inner.execute(INSERT, id=uuid.uuid4(), name="a")
            raise Boom
    assert await names(items) == []


async def test_failed_statement_inside_transaction_rolls_back_the_whole(
    items: dualdb.Database,
) -> None:
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, name="kept")
    with pytest.raises(dualdb.UniqueViolation):
        async with items.transaction() as tx:
            await tx.execute(INSERT, id=uuid.uuid4(), name="new")
            await tx.execute(INSERT, id=uid, name="dup")
    assert await names(items) == ["kept"]


async def test_a_statement_after_a_caught_error_raises_transaction_aborted(
    items: dualdb.Database,
) -> None:
    """PostgreSQL aborts a transaction at its first failed statement; SQLite would go on,
    so dualdb's SQLite connections refuse the rest as PostgreSQL does."""
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, name="kept")
    with pytest.raises(dualdb.TransactionAborted, match="savepoint"):
        async with items.transaction() as tx:
            with pytest.raises(dualdb.UniqueViolation):
                await tx.execute(INSERT, id=uid, name="dup")
            await tx.fetch_all(NAMES)
    assert await names(items) == ["kept"]


@pytest.mark.parametrize("then", ["execute", "execute_many", "iterate", "savepoint"])
async def test_every_kind_of_statement_is_refused_in_an_aborted_transaction(
    items: dualdb.Database, then: str
) -> None:
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, name="kept")
    with pytest.raises(dualdb.TransactionAborted, match="commands ignored"):
        async with items.transaction() as tx:
            with pytest.raises(dualdb.UniqueViolation):
                await tx.execute(INSERT, id=uid, name="dup")
            if then == "execute":
                await tx.execute(INSERT, id=uuid.uuid4(), name="after")
            elif then == "execute_many":
                await tx.execute_many(INSERT, [{"id": uuid.uuid4(), "name": "after"}])
            elif then == "iterate":
                async for _ in tx.iterate(NAMES):
                    pass
            else:
                async with tx.transaction():
                    pass
    assert await names(items) == ["kept"]


async def test_committing_after_a_caught_error_raises_and_keeps_nothing(
    items: dualdb.Database,
) -> None:
    """On PostgreSQL, COMMIT of an aborted transaction rolls back and reports success;
    the block's earlier writes were lost without a word. dualdb raises on both."""
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, name="kept")
    with pytest.raises(dualdb.TransactionAborted, match="rolled back, not committed"):
        async with items.transaction() as tx:
            await tx.execute(INSERT, id=uuid.uuid4(), name="lost")
            with pytest.raises(dualdb.UniqueViolation):
                await tx.execute(INSERT, id=uid, name="dup")
    assert await names(items) == ["kept"]
    assert await items.fetch_val(COUNT) == 1  # the pool's connection is usable


async def test_a_caught_error_in_a_savepoint_leaves_the_transaction_usable(
    items: dualdb.Database,
) -> None:
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, name="kept")
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="before")
        with pytest.raises(dualdb.UniqueViolation):
            async with tx.transaction() as savepoint:
                await savepoint.execute(INSERT, id=uid, name="dup")
        await tx.execute(INSERT, id=uuid.uuid4(), name="after")
    assert await names(items) == ["after", "before", "kept"]


async def test_a_savepoint_whose_error_was_caught_inside_rolls_back_alone(
    items: dualdb.Database,
) -> None:
    """Its block ends normally although a statement in it failed: the savepoint is rolled
    back (not released), that is said, and the enclosing transaction goes on."""
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, name="kept")
    async with items.transaction() as tx:
        with pytest.raises(dualdb.TransactionAborted, match="savepoint was rolled back"):
            async with tx.transaction() as savepoint:
                await savepoint.execute(INSERT, id=uuid.uuid4(), name="lost")
                with pytest.raises(dualdb.UniqueViolation):
                    await savepoint.execute(INSERT, id=uid, name="dup")
        await tx.execute(INSERT, id=uuid.uuid4(), name="after")
    assert await names(items) == ["after", "kept"]


async def test_an_error_dualdb_raises_before_sending_does_not_abort_the_transaction(
    items: dualdb.Database,
) -> None:
    """A value refused before anything is sent (as asyncpg refuses it on PostgreSQL)
    leaves the transaction as it was, on both."""
    async with items.transaction() as tx:
        with pytest.raises(dualdb.DataError):
            await tx.execute(INSERT, id="not-a-uuid", name="x")
        await tx.execute(INSERT, id=uuid.uuid4(), name="after")
    assert await names(items) == ["after"]


async def test_the_next_transaction_on_the_connection_is_not_aborted(
    items: dualdb.Database,
) -> None:
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, name="kept")
    for _ in range(3):  # (the pool hands the same connection back)
        with pytest.raises(dualdb.UniqueViolation):
            async with items.transaction() as tx:
                await tx.execute(INSERT, id=uid, name="dup")
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="next")
    assert await names(items) == ["kept", "next"]


async def test_transaction_object_is_unusable_after_the_block(items: dualdb.Database) -> None:
    async with items.transaction() as tx:
        pass
    with pytest.raises(dualdb.OperationalError, match="not active"):
        await tx.fetch_all(NAMES)


async def test_iterate_inside_transaction_sees_its_writes(items: dualdb.Database) -> None:
    async with items.transaction() as tx:
        await tx.execute_many(INSERT, [{"id": uuid.uuid4(), "name": f"n{i:03}"} for i in range(50)])
        seen = [r["name"] async for r in tx.iterate(NAMES, batch_size=7)]
    assert len(seen) == 50


async def test_isolation_level_is_accepted(items: dualdb.Database) -> None:
    async with items.transaction(isolation="serializable") as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="a")
    assert await names(items) == ["a"]


async def test_unknown_isolation_level_is_rejected(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.QueryError, match="isolation"):
        items.transaction(isolation="chaos")


@pytest.mark.parametrize("requested", ["read_committed", "repeatable_read", "serializable"])
async def test_transaction_runs_at_a_level_at_least_as_strong_as_requested(
    items: dualdb.Database, requested: str
) -> None:
    tx = items.transaction(isolation=requested)
    assert tx.isolation in items.dialect.isolation_levels
    assert ISOLATION_LEVELS.index(tx.isolation) >= ISOLATION_LEVELS.index(requested)


@pytest.mark.parametrize("spelling", ["READ COMMITTED", " Read_Committed "])
async def test_isolation_level_names_are_read_as_sql_spells_them(
    items: dualdb.Database, spelling: str
) -> None:
    assert (
        items.transaction(isolation=spelling).isolation
        == items.transaction(isolation="read_committed").isolation
    )


@pytest.mark.parametrize("requested", ["read_committed", "repeatable_read", "serializable"])
async def test_transaction_behaves_as_the_level_it_reports(
    items: dualdb.Database, requested: str
) -> None:
    """Read committed sees what others commit meanwhile; the stronger levels keep the
    snapshot of their first read. Which one applies is what ``tx.isolation`` says."""
    await items.execute(INSERT, id=uuid.uuid4(), name="a")
    async with items.transaction(isolation=requested, readonly=True) as tx:
        assert await names(tx) == ["a"]
        await items.execute(INSERT, id=uuid.uuid4(), name="b")  # another connection
        seen = await names(tx)
    assert seen == (["a", "b"] if tx.isolation == "read_committed" else ["a"])


@pytest.mark.parametrize("dialect", dialect_names())
@given(text=st.text(max_size=30))
def test_any_isolation_text_is_a_level_or_a_query_error(dialect: str, text: str) -> None:
    try:
        level = get_dialect(dialect).isolation_for(text)
    except dualdb.QueryError:
        return
    assert level in ISOLATION_LEVELS


class _ReadCommittedOnly(SQLiteDialect):
    """A backend that gives only read committed (as some PostgreSQL-wire engines do)."""

    isolation_levels = frozenset({"read_committed"})


class _SerializableOnly(SQLiteDialect):
    isolation_levels = frozenset({"serializable"})


@pytest.mark.parametrize("requested", ["repeatable_read", "serializable"])
def test_a_level_stronger_than_the_backend_gives_is_refused(requested: IsolationLevel) -> None:
    with pytest.raises(dualdb.UnsupportedFeature, match="isolation level"):
        _ReadCommittedOnly().isolation_for(requested)


@pytest.mark.parametrize("requested", ["read_committed", "repeatable_read", "serializable"])
def test_a_weaker_level_runs_at_the_stronger_one_the_backend_gives(
    requested: IsolationLevel,
) -> None:
    assert _SerializableOnly().isolation_for(requested) == "serializable"


async def test_readonly_transaction_reads(items: dualdb.Database) -> None:
    await items.execute(INSERT, id=uuid.uuid4(), name="a")
    async with items.transaction(readonly=True) as tx:
        assert await names(tx) == ["a"]


async def test_readonly_transaction_rejects_writes(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.ProgrammingError, match="read-only"):
        async with items.transaction(readonly=True) as tx:
            await tx.execute(INSERT, id=uuid.uuid4(), name="a")
    assert await items.fetch_val(COUNT) == 0


async def test_concurrent_transactions_do_not_share_connections(items: dualdb.Database) -> None:
    async def work(i: int) -> None:
        async with items.transaction() as tx:
            await tx.execute(INSERT, id=uuid.uuid4(), name=f"n{i:02}")
            await asyncio.sleep(0)
            if i % 2:
                raise Boom

    results = await asyncio.gather(*(work(i) for i in range(10)), return_exceptions=True)
    assert sum(isinstance(r, Boom) for r in results) == 5
    assert await names(items) == [f"n{i:02}" for i in range(0, 10, 2)]


async def test_cancelled_transaction_leaves_nothing_and_pool_healthy(
    items: dualdb.Database,
) -> None:
    started = asyncio.Event()

    async def slow() -> None:
        async with items.transaction() as tx:
            await tx.execute(INSERT, id=uuid.uuid4(), name="cancelled")
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await names(items) == []
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="next")
    assert await names(items) == ["next"]


async def test_a_transaction_that_runs_no_statement_leaves_the_connection_usable(
    items: dualdb.Database,
) -> None:
    for _ in range(3):  # a pool of several: each connection comes back clean
        async with items.transaction():
            pass
        with pytest.raises(Boom):
            async with items.transaction():
                raise Boom
    async with items.transaction() as tx:
        await tx.execute(INSERT, id=uuid.uuid4(), name="a")
    assert await names(items) == ["a"]
    assert items.pool_stats().in_use == 0


async def test_a_savepoint_as_the_first_statement_opens_the_transaction(
    items: dualdb.Database,
) -> None:
    with pytest.raises(Boom):
        async with items.transaction() as tx:
            async with tx.transaction() as inner:
                await inner.execute(INSERT, id=uuid.uuid4(), name="kept")
            await tx.execute(INSERT, id=uuid.uuid4(), name="also")
            raise Boom
    assert await names(items) == []
    async with items.transaction() as tx:
        async with tx.transaction() as inner:
            await inner.execute(INSERT, id=uuid.uuid4(), name="a")
    assert await names(items) == ["a"]


async def test_a_transaction_reads_a_consistent_snapshot_from_its_first_statement(
    items: dualdb.Database,
) -> None:
    """What a transaction has read stays as it was while others commit changes."""
    await items.execute(INSERT, id=uuid.uuid4(), name="a")
    async with items.transaction(isolation="serializable", readonly=True) as tx:
        assert await names(tx) == ["a"]
        await items.execute(INSERT, id=uuid.uuid4(), name="b")  # another connection
        assert await names(tx) == ["a"]
    assert await names(items) == ["a", "b"]
