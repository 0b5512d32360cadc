"""Another connection alters a table (a migration running beside the application) after
the application prepared statements on it: work outside a transaction re-prepares and
succeeds with every method, and a transaction aborted by the change is retried by
``run_in_transaction``.

On PostgreSQL, ``SELECT *`` prepared before ``ALTER TABLE … ADD COLUMN`` fails with
"cached plan must not change result type" when run again.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

import dualdb
from dualdb import Param, Query, Table, raw

T = Table("t")
SELECT_STAR = Query.from_(T).select("*").where(T.id == Param("id"))
UPDATE_RETURNING = (
    cast(Any, Query.update(T)).set(T.n, T.n + 1).where(T.id == Param("id")).returning("*")
)


async def _prepared_then_altered(database_url: str) -> dualdb.Database:
    """A one-connection Database whose statements on ``t`` were prepared before another
    connection added a column to ``t``."""
    db = await dualdb.connect(database_url, pool_max_size=1, sqlite_pool_size=1)
    await db.execute(raw("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)"))
    await db.execute(raw("INSERT INTO t (id, n) VALUES (1, 10)"))
    assert dict(await db.fetch_one(SELECT_STAR, id=1) or {}) == {"id": 1, "n": 10}
    async with db.transaction() as tx:  # the statements of the transactions below
        await tx.fetch_one(SELECT_STAR, id=1)
        await tx.fetch_one(UPDATE_RETURNING, id=1)
        await tx.execute(raw("UPDATE t SET n = n - 1 WHERE id = 1"))
    async for _row in db.iterate(SELECT_STAR, id=1):
        pass
    async with dualdb.connect(database_url) as migration:
        await migration.execute(raw("ALTER TABLE t ADD COLUMN extra INTEGER"))
    return db


@pytest.mark.parametrize("method", ["fetch_all", "fetch_one", "fetch_val"])
async def test_a_query_prepared_before_a_column_was_added_is_prepared_again(
    database_url: str, method: str
) -> None:
    db = await _prepared_then_altered(database_url)
    async with db:
        result = await getattr(db, method)(SELECT_STAR, id=1)
    assert result is not None


async def test_a_stream_prepared_before_a_column_was_added_is_prepared_again(
    database_url: str,
) -> None:
    db = await _prepared_then_altered(database_url)
    async with db:
        rows = [dict(row) async for row in db.iterate(SELECT_STAR, id=1)]
    assert rows == [{"id": 1, "n": 10, "extra": None}]


async def test_a_transaction_aborted_by_a_column_added_meanwhile_is_retried(
    database_url: str,
) -> None:
    db = await _prepared_then_altered(database_url)
    attempts = 0

    async def bump(tx: dualdb.Transaction) -> dualdb.Record | None:
        nonlocal attempts
        attempts += 1
        await tx.fetch_one(SELECT_STAR, id=1)
        return await tx.fetch_one(UPDATE_RETURNING, id=1)

    async with db:
        row = await dualdb.run_in_transaction(db, bump, base_delay=0)
        assert await db.fetch_val(raw("SELECT n FROM t WHERE id = 1")) == 11
    assert row is not None and dict(row) == {"id": 1, "n": 11, "extra": None}
    assert attempts <= 2
