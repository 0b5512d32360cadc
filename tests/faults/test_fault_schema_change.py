"""Another connection changes a table's schema while the application keeps querying it
with the same prebuilt query objects: rows stay correctly labelled and typed.

"Another connection" is a second dualdb Database or the raw driver (``sqlite3``,
``asyncpg``), as a migration tool run beside the application would be. The changes are
the rebuild recipe of docs/migrations.md (new table, copy, drop, rename) with the columns reordered
and one retyped, an added column, and a column's type changed in place.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import pytest

import dualdb
from _pgbouncer import driver_url
from dualdb import Param, Query, Table, raw

T = Table("t")
ID = uuid.UUID("3f1c9c1e-7a52-4f7e-9d1b-6a0d2c9e8b11")
REF = "b9e2d7a4-1c3f-4e8a-a6b5-0f9d8c7e6a52"
AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
SEEN = datetime(2026, 1, 1, tzinfo=UTC)

CREATE = "CREATE TABLE t (id UUID PRIMARY KEY, n INTEGER, at TIMESTAMPTZ, ref TEXT)"
BEFORE = {"id": ID, "n": 1, "at": AT, "ref": REF}

SELECT_STAR = Query.from_(T).select("*").where(T.id == Param("id"))
SELECT_COLUMNS = Query.from_(T).select(T.id, T.n, T.at, T.ref).where(T.id == Param("id"))
UPDATE_RETURNING = (
    cast(Any, Query.update(T)).set(T.n, Param("n")).where(T.id == Param("id")).returning("*")
)
SELECT_ALL = Query.from_(T).select("*").orderby(T.n)


def _rebuild(columns: str, copied: str, copied_pg: str) -> dict[str, list[str]]:
    """The rename recipe on both backends (PostgreSQL wants the text cast to uuid)."""
    steps = [
        f"CREATE TABLE t_new ({columns})",
        "INSERT INTO t_new SELECT {} FROM t",
        "DROP TABLE t",
        "ALTER TABLE t_new RENAME TO t",
    ]
    return {
        "sqlite": [s.format(copied) for s in steps],
        "postgresql": [s.format(copied_pg) for s in steps],
    }


ADD_COLUMN = "ALTER TABLE t ADD COLUMN seen TIMESTAMPTZ DEFAULT '2026-01-01 00:00:00+00:00'"
RETYPED = "id UUID PRIMARY KEY, n INTEGER, at TIMESTAMPTZ, ref UUID"
#: name -> (statements per backend, the columns of ``SELECT *`` afterwards, in order).
CHANGES: dict[str, tuple[dict[str, list[str]], dict[str, Any]]] = {
    "rebuilt with its columns reordered and one retyped": (
        _rebuild(
            "ref UUID, at TIMESTAMPTZ, n INTEGER, id UUID PRIMARY KEY",
            "ref, at, n, id",
            "ref::uuid, at, n, id",
        ),
        {"ref": uuid.UUID(REF), "at": AT, "n": 1, "id": ID},
    ),
    "given a new column": (
        {"sqlite": [ADD_COLUMN], "postgresql": [ADD_COLUMN]},
        {**BEFORE, "seen": SEEN},
    ),
    "given a new type for a column": (
        {
            # SQLite cannot alter a type: the same columns in the same order, rebuilt.
            "sqlite": _rebuild(RETYPED, "*", "")["sqlite"],
            "postgresql": ["ALTER TABLE t ALTER COLUMN ref TYPE UUID USING ref::uuid"],
        },
        {**BEFORE, "ref": uuid.UUID(REF)},
    ),
}
#: Changes that alter what an explicit column list returns (a new column does not).
RETYPING = [name for name in CHANGES if name != "given a new column"]


async def _by_dualdb(url: str, statements: list[str]) -> None:
    async with dualdb.connect(url) as other, other.transaction() as tx:
        for statement in statements:
            await tx.execute(raw(statement))


async def _by_driver(url: str, statements: list[str]) -> None:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.executescript("BEGIN;" + ";".join(statements) + ";COMMIT;")
        finally:
            conn.close()
    else:
        pg = await asyncpg.connect(driver_url(url), statement_cache_size=0)
        try:
            async with pg.transaction():
                for statement in statements:
                    await pg.execute(statement)
        finally:
            await pg.close()


OTHERS: dict[str, Callable[[str, list[str]], Awaitable[None]]] = {
    "another Database": _by_dualdb,
    "the raw driver": _by_driver,
}


async def _seed(db: dualdb.Database, rows: int = 1) -> None:
    await db.execute(raw(CREATE))
    insert = Query.into(T).columns(T.id, T.n, T.at, T.ref).insert(*map(Param, "inar"))
    await db.execute(insert, i=ID, n=1, a=AT, r=REF)
    for n in range(2, rows + 1):
        await db.execute(insert, i=uuid.uuid4(), n=n, a=AT, r=REF)


def _labelled(record: Any) -> dict[str, Any]:
    """The record as a dict, after checking it has exactly one key per value."""
    assert len(list(record.keys())) == len(record)
    return dict(record.items())


def _typed(values: dict[str, Any]) -> list[tuple[str, type]]:
    # == alone would not tell an aware datetime from a naive one that is never equal, nor
    # say which column came back with the wrong type.
    return [(key, type(value)) for key, value in values.items()]


def _assert_row(record: Any, expected: dict[str, Any]) -> None:
    got = _labelled(record)
    assert got == expected
    assert list(got) == list(expected)  # the table's column order
    assert all(isinstance(got[k], type(v)) for k, v in expected.items()), _typed(got)
    assert all(v.tzinfo is not None for v in got.values() if isinstance(v, datetime))


async def _change(other: str, url: str, backend: str, change: str) -> dict[str, Any]:
    statements, after = CHANGES[change]
    await OTHERS[other](url, statements[backend])
    return after


@pytest.mark.parametrize("other", OTHERS)
@pytest.mark.parametrize("change", CHANGES)
async def test_select_star_is_labelled_by_the_new_columns_after_the_table_is_changed(
    db: dualdb.Database, database_url: str, backend: str, change: str, other: str
) -> None:
    await _seed(db)
    _assert_row(await db.fetch_one(SELECT_STAR, id=ID), BEFORE)
    after = await _change(other, database_url, backend, change)
    _assert_row(await db.fetch_one(SELECT_STAR, id=ID), after)
    (row,) = await db.fetch_all(SELECT_STAR, id=ID)
    _assert_row(row, after)


@pytest.mark.parametrize("other", OTHERS)
@pytest.mark.parametrize("change", RETYPING)
async def test_explicit_columns_are_decoded_by_the_new_types_after_the_table_is_changed(
    db: dualdb.Database, database_url: str, backend: str, change: str, other: str
) -> None:
    await _seed(db)
    _assert_row(await db.fetch_one(SELECT_COLUMNS, id=ID), BEFORE)
    after = await _change(other, database_url, backend, change)
    expected = {key: after[key] for key in BEFORE}
    _assert_row(await db.fetch_one(SELECT_COLUMNS, id=ID), expected)


@pytest.mark.parametrize("other", OTHERS)
@pytest.mark.parametrize("change", CHANGES)
async def test_returning_star_is_labelled_by_the_new_columns_after_the_table_is_changed(
    db: dualdb.Database, database_url: str, backend: str, change: str, other: str
) -> None:
    await _seed(db)
    _assert_row(await db.fetch_one(UPDATE_RETURNING, id=ID, n=1), BEFORE)
    after = await _change(other, database_url, backend, change)
    _assert_row(await db.fetch_one(UPDATE_RETURNING, id=ID, n=1), after)


@pytest.mark.parametrize("change", CHANGES)
async def test_a_stream_after_the_table_is_changed_is_labelled_in_every_batch(
    db: dualdb.Database, database_url: str, backend: str, change: str
) -> None:
    await _seed(db, rows=5)
    assert len([row async for row in db.iterate(SELECT_ALL, batch_size=2)]) == 5
    after = await _change("another Database", database_url, backend, change)
    rows = [row async for row in db.iterate(SELECT_ALL, batch_size=2)]
    assert [row["n"] for row in rows] == [1, 2, 3, 4, 5]
    _assert_row(rows[0], after)
    for row in rows[1:]:
        assert list(_labelled(row)) == list(after)
        assert [type(v) for v in row] == [type(v) for v in rows[0]]


async def test_a_stream_begun_before_a_change_keeps_the_columns_it_began_with(
    db: dualdb.Database, database_url: str, backend: str
) -> None:
    await _seed(db, rows=5)
    change = "rebuilt with its columns reordered and one retyped"
    stream = db.iterate(SELECT_ALL, batch_size=2)
    rows = [await anext(stream)]
    done = asyncio.create_task(_change("the raw driver", database_url, backend, change))
    if backend == "sqlite":
        # WAL: the rebuild commits beside the open read; on PostgreSQL it waits for the
        # stream's lock, so it is awaited after the stream.
        await done
    rows += [row async for row in stream]
    await done
    assert [row["n"] for row in rows] == [1, 2, 3, 4, 5]
    _assert_row(rows[0], BEFORE)
    for row in rows[1:]:
        assert list(_labelled(row)) == list(BEFORE)
        assert isinstance(row["id"], uuid.UUID)
        assert isinstance(row["ref"], str)


@pytest.mark.parametrize("change", CHANGES)
async def test_a_transaction_open_during_the_change_sees_the_new_columns_once_retried(
    db: dualdb.Database, database_url: str, backend: str, change: str
) -> None:
    await _seed(db)
    _assert_row(await db.fetch_one(SELECT_STAR, id=ID), BEFORE)
    changed: list[dict[str, Any]] = []

    async def work(tx: dualdb.Transaction) -> None:
        if not changed:  # the first attempt is open while the change commits
            changed.append(await _change("the raw driver", database_url, backend, change))
        # PostgreSQL may abort the attempt with SchemaChanged (a prepared statement's
        # result type changed), which run_in_transaction retries.
        _assert_row(await tx.fetch_one(SELECT_STAR, id=ID), changed[0])
        _assert_row(await tx.fetch_one(UPDATE_RETURNING, id=ID, n=1), changed[0])

    await dualdb.run_in_transaction(db, work)


async def test_a_transaction_that_read_before_the_change_keeps_its_columns(
    db: dualdb.Database, database_url: str, backend: str
) -> None:
    await _seed(db)
    change = "rebuilt with its columns reordered and one retyped"
    async with db.transaction(readonly=True) as tx:
        _assert_row(await tx.fetch_one(SELECT_STAR, id=ID), BEFORE)
        done = asyncio.create_task(_change("the raw driver", database_url, backend, change))
        if backend == "sqlite":
            # WAL: the change commits beside the reader, and the pool's other connection
            # sees it while this transaction still reads the old table.
            after = await done
            _assert_row(await db.fetch_one(SELECT_STAR, id=ID), after)
        _assert_row(await tx.fetch_one(SELECT_STAR, id=ID), BEFORE)
    after = await done
    _assert_row(await db.fetch_one(SELECT_STAR, id=ID), after)


class _Undo(Exception):
    pass


async def test_a_change_the_application_rolled_back_is_forgotten(
    db: dualdb.Database, database_url: str, backend: str
) -> None:
    await _seed(db)
    with pytest.raises(_Undo):
        async with db.transaction() as tx:
            await tx.execute(raw("ALTER TABLE t ADD COLUMN mistake INTEGER"))
            _assert_row(await tx.fetch_one(SELECT_STAR, id=ID), {**BEFORE, "mistake": None})
            raise _Undo
    # Another schema change of the same size, as SQLite counts versions, now commits.
    after = await _change("the raw driver", database_url, backend, "given a new column")
    _assert_row(await db.fetch_one(SELECT_STAR, id=ID), after)


async def _own_statement_hook(conn: Any) -> None:
    """An on_connect hook that takes a per-statement hook of the driver connection for
    itself: on SQLite the authorizer (here one that allows everything), through which
    dualdb learns that a statement was prepared again for a changed schema."""
    if isinstance(conn, asyncpg.Connection):
        await conn.execute("SELECT set_config('application_name', 'hooked', false)")
    else:
        await conn.set_authorizer(lambda *_: sqlite3.SQLITE_OK)


@pytest.mark.parametrize("change", RETYPING)
async def test_a_change_is_seen_on_connections_whose_hook_took_their_statement_hook(
    database_url: str, backend: str, change: str
) -> None:
    async with dualdb.connect(
        database_url, on_connect=_own_statement_hook, pool_max_size=1, sqlite_pool_size=1
    ) as db:
        await _seed(db)
        _assert_row(await db.fetch_one(SELECT_COLUMNS, id=ID), BEFORE)
        after = await _change("the raw driver", database_url, backend, change)
        _assert_row(await db.fetch_one(SELECT_COLUMNS, id=ID), {k: after[k] for k in BEFORE})


async def test_a_change_made_through_the_driver_connection_after_taking_its_hook_is_seen(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url) as seeding:
        await _seed(seeding)
    # force_rollback: one connection for everything, the driver connection included.
    async with dualdb.connect(database_url, force_rollback=True) as db:
        _assert_row(await db.fetch_one(SELECT_COLUMNS, id=ID), BEFORE)
        statements, after = CHANGES["given a new type for a column"]
        async with db.connection() as conn:
            await _own_statement_hook(conn)
        _assert_row(await db.fetch_one(SELECT_COLUMNS, id=ID), BEFORE)
        async with db.connection() as conn:
            for statement in statements[backend]:
                await conn.execute(statement)

        async def read(tx: dualdb.Transaction) -> Any:
            # (PostgreSQL's prepared statement may fail once with SchemaChanged: retried)
            return await tx.fetch_one(SELECT_COLUMNS, id=ID)

        _assert_row(await dualdb.run_in_transaction(db, read), {k: after[k] for k in BEFORE})
