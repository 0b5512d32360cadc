"""``connect(..., force_rollback=True)``: everything visible inside, nothing kept after."""

from __future__ import annotations

import uuid

import pytest

import dualdb
from dualdb import Param, Query, fn

t = dualdb.Table("notes")
INSERT = Query.into(t).columns(t.id, t.body).insert(Param("id"), Param("body"))
BODIES = Query.from_(t).select(t.body).orderby(t.body)
COUNT = Query.from_(t).select(fn.Count("*"))


class Boom(Exception):
    pass


@pytest.fixture
async def notes_url(database_url: str) -> str:
    async with dualdb.connect(database_url) as db:
        c = db.dialect.column_type
        await db.execute(
            dualdb.raw(f"CREATE TABLE notes (id {c('uuid')} PRIMARY KEY, body {c('text')})")
        )
        await db.execute(INSERT, id=uuid.uuid4(), body="kept")
    return database_url


async def bodies(db: dualdb.Queryable) -> list[str]:
    return [r["body"] for r in await db.fetch_all(BODIES)]


async def test_work_committed_inside_is_seen_inside_and_gone_after_close(notes_url: str) -> None:
    async with dualdb.connect(notes_url, force_rollback=True) as db:
        await db.execute(INSERT, id=uuid.uuid4(), body="plain")
        async with db.transaction() as tx:
            await tx.execute(INSERT, id=uuid.uuid4(), body="committed")
            async with tx.transaction() as inner:
                await inner.execute(INSERT, id=uuid.uuid4(), body="nested")
        await db.execute_many(INSERT, [{"id": uuid.uuid4(), "body": "many"}])
        assert await bodies(db) == ["committed", "kept", "many", "nested", "plain"]
        assert len([r async for r in db.iterate(BODIES)]) == 5
    async with dualdb.connect(notes_url) as check:
        assert await bodies(check) == ["kept"]


async def test_a_failing_statement_leaves_no_trace_and_the_next_one_runs(notes_url: str) -> None:
    row = uuid.uuid4()
    async with dualdb.connect(notes_url, force_rollback=True) as db:
        await db.execute(INSERT, id=row, body="first")
        with pytest.raises(dualdb.UniqueViolation):
            await db.execute(INSERT, id=row, body="again")
        assert await db.fetch_val(COUNT) == 2


async def test_a_transaction_that_raises_rolls_back_its_own_work_only(notes_url: str) -> None:
    async with dualdb.connect(notes_url, force_rollback=True) as db:
        await db.execute(INSERT, id=uuid.uuid4(), body="before")
        with pytest.raises(Boom):
            async with db.transaction() as tx:
                await tx.execute(INSERT, id=uuid.uuid4(), body="lost")
                raise Boom
        assert await bodies(db) == ["before", "kept"]


async def test_a_caught_error_in_a_transaction_is_reported_at_its_end(notes_url: str) -> None:
    row = uuid.uuid4()
    async with dualdb.connect(notes_url, force_rollback=True) as db:
        with pytest.raises(dualdb.TransactionAborted, match="rolled back, not committed"):
            async with db.transaction() as tx:
                await tx.execute(INSERT, id=row, body="lost")
                with pytest.raises(dualdb.UniqueViolation):
                    await tx.execute(INSERT, id=row, body="clash")
        assert await bodies(db) == ["kept"]
        await db.execute(INSERT, id=uuid.uuid4(), body="after")
        assert await bodies(db) == ["after", "kept"]
