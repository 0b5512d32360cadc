"""A value bound against a column gets the same answer on both backends: stored and read
back identically, or refused with DataError on both.

Hypothesis binds values of every Python type dualdb takes to every column type, as an
INSERT, an UPDATE's SET, and a comparison in WHERE. Where asyncpg is looser than
PostgreSQL's own types (it would truncate 2.7 into an integer column, or take UUID(int=5)
as 5), dualdb refuses on both.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from _differential import ITEM_COLUMNS, ITEMS, Pair, canon, examples, on_both, scratch
from hypothesis import given, settings
from hypothesis import strategies as st

import dualdb
from dualdb import Json, Param, Query, fn

pytestmark = pytest.mark.postgresql

values = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, 2**31, -(2**31) - 1, 2**40]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([1.0, 2.5, -0.5]),
    st.text(max_size=8).filter(lambda s: "\x00" not in s),
    st.sampled_from(
        ["10", "2.5", "true", "no", "2024-01-02", "yesterday", '{"a":1}', "[1,", "not-a-uuid"]
    ),
    st.uuids(),
    st.integers(0, 2**63 - 1).map(lambda n: uuid.UUID(int=n)),  # fits an integer column
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.datetimes(
        timezones=st.just(UTC), min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)
    ),
    st.dates(),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**12), max_value=10**12
    ),
    st.binary(max_size=6),
    st.dictionaries(st.text(max_size=3), st.integers(-5, 5), max_size=2),
    st.lists(st.integers(-5, 5), max_size=3),
)


def _outcome(result: Any) -> Any:
    if isinstance(result, tuple) and result and result[0] == "raises":
        return result
    return canon(result)


@settings(max_examples=examples(400))
@given(
    column=st.sampled_from(sorted(ITEM_COLUMNS)),
    value=values,
    how=st.sampled_from(["insert", "update", "where"]),
)
async def test_a_value_meets_a_column_the_same_way_on_both(
    pair: Pair, column: str, value: Any, how: str
) -> None:
    field = ITEMS.field(column)
    bound = Json(value) if isinstance(value, dict | list) else value

    async def write_and_read(db: Any) -> Any:
        if how == "insert":
            await db.execute(
                Query.into(ITEMS).columns(ITEMS.id, field).insert(1, Param("v")), v=bound
            )
        elif how == "update":
            await db.execute(Query.into(ITEMS).columns(ITEMS.id).insert(1))
            await db.execute(
                Query.update(ITEMS).set(field, Param("v")).where(ITEMS.id == 1), v=bound
            )
        else:
            rows = await db.fetch_all(
                Query.from_(ITEMS).select(ITEMS.id).where(field == Param("v")), v=bound
            )
            return len(rows)
        return await db.fetch_val(Query.from_(ITEMS).select(field))

    async with scratch(pair) as txs:
        sqlite, postgresql = (_outcome(r) for r in await on_both(txs, write_and_read))
    if sqlite == postgresql:
        return
    logical = ITEM_COLUMNS[column]
    if how == "where" and column == "doc":
        return  # jsonb = jsonb has no SQLite equivalent (a declared difference)
    if isinstance(value, float) and value == 0 and math.copysign(1, value) < 0:
        return  # -0.0 loses its sign on SQLite (a declared difference)
    raise AssertionError(f"{logical} {how}: sqlite {sqlite}, postgresql {postgresql}")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("flag", "no"),  # was stored as the text 'no' in a BOOLEAN column
        ("qty", "10"),
        ("name", 123),
        ("uid", "not-a-uuid"),
        ("at", "yesterday"),
        ("day", "2024-13-45"),
        ("day", "2024-01-02"),
        ("doc", "[1,"),
        ("doc", '["\\u0000"]'),  # JSON text with an escaped NUL (jsonb cannot hold it)
    ],
)
async def test_what_postgresql_refuses_sqlite_refuses_naming_the_param_and_column(
    pair: Pair, column: str, value: Any
) -> None:
    insert = Query.into(ITEMS).columns(ITEMS.id, ITEMS.field(column)).insert(1, Param("v"))
    async with scratch(pair) as txs:
        outcomes = await on_both(txs, lambda db: db.execute(insert, v=value))
        assert outcomes == [("raises", "DataError")] * 2
        for tx in txs:
            with pytest.raises(dualdb.DataError) as info:
                async with tx.transaction() as savepoint:
                    await savepoint.execute(insert, v=value)
            # (PostgreSQL's server-side checks name no argument: dualdb lists the candidates.)
            assert f"Param v for items.{column}" in str(info.value) or (
                tx is txs[1] and "Param v)" in str(info.value)
            )
            assert str(value) not in str(info.value)
            if f"for items.{column}" in str(info.value):
                assert (info.value.table, info.value.column) == ("items", column)


async def test_a_uuid_given_as_text_in_any_case_matches_on_both(pair: Pair) -> None:
    uid = uuid.uuid4()
    insert = Query.into(ITEMS).columns(ITEMS.id, ITEMS.uid).insert(1, Param("u"))
    query = Query.from_(ITEMS).select(ITEMS.id).where(ITEMS.uid == Param("u"))
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(insert, u=str(uid).upper())
        found = await on_both(txs, lambda db: db.fetch_all(query, u=str(uid).upper()))
        assert [len(rows) for rows in found] == [1, 1]
        got = await on_both(txs, lambda db: db.fetch_val(Query.from_(ITEMS).select(ITEMS.uid)))
        assert [canon(v) for v in got] == [("UUID", str(uid))] * 2


async def test_a_date_into_a_timestamp_column_is_midnight_utc_on_both(pair: Pair) -> None:
    insert = (
        Query.into(ITEMS).columns(ITEMS.id, ITEMS.at, ITEMS.day).insert(1, Param("a"), Param("d"))
    )
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(insert, a=date(2024, 1, 2), d=datetime(2024, 1, 2, 23, 30, tzinfo=UTC))
        got = await on_both(
            txs, lambda db: db.fetch_one(Query.from_(ITEMS).select(ITEMS.at, ITEMS.day))
        )
        assert [(canon(r["at"]), canon(r["day"])) for r in got] == [
            (canon(datetime(2024, 1, 2, tzinfo=UTC)), canon(date(2024, 1, 2)))
        ] * 2


async def test_a_limit_given_as_text_is_refused_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(ITEMS.id).limit(cast(int, Param("n")))
    async with scratch(pair) as txs:
        assert (
            await on_both(txs, lambda db: db.fetch_all(query, n="10"))
            == [("raises", "DataError")] * 2
        )


@pytest.mark.parametrize("value", [2.7, Decimal("2.5"), -0.5, float("inf"), uuid.UUID(int=5)])
@pytest.mark.parametrize("how", ["insert", "update", "where", "arithmetic", "expression"])
async def test_a_fractional_number_or_uuid_meeting_an_integer_column_is_refused_on_both(
    pair: Pair, value: Any, how: str
) -> None:
    """asyncpg would truncate it to fit (``qty = 7.5`` would match 7, and a UUID that
    fits 64 bits its number); dualdb refuses it on both, naming the Param and the column.
    Round explicitly, or CAST the column."""
    queries = {
        "insert": Query.into(ITEMS).columns(ITEMS.id, ITEMS.qty).insert(2, Param("v")),
        "update": Query.update(ITEMS).set(ITEMS.qty, Param("v")),
        "where": Query.from_(ITEMS).select(ITEMS.id).where(ITEMS.qty == Param("v")),
        "arithmetic": Query.from_(ITEMS).select((ITEMS.qty + Param("v")).as_("x")),
        "expression": Query.from_(ITEMS).select((Param("v") * (ITEMS.qty + 1)).as_("x")),
    }
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(Query.into(ITEMS).columns(ITEMS.id, ITEMS.qty).insert(1, 7))
            with pytest.raises(dualdb.DataError) as info:
                async with tx.transaction() as savepoint:
                    await savepoint.fetch_all(queries[how], v=value)
            message = str(info.value)
            assert "invalid value for Param v for " in message
            assert f"expected an int, got {type(value).__name__}" in message
            assert str(value) not in message


async def test_a_whole_float_meeting_an_integer_column_is_that_integer_on_both(
    pair: Pair,
) -> None:
    query = Query.from_(ITEMS).select(ITEMS.qty).where(ITEMS.qty == Param("v"))
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(Query.into(ITEMS).columns(ITEMS.id, ITEMS.qty).insert(1, 7))
        got = await on_both(txs, lambda db: db.fetch_val(query, v=7.0))
    assert [canon(v) for v in got] == [canon(7)] * 2
    portable = (
        Query.from_(ITEMS)
        .select(ITEMS.id)
        .where(fn.Cast(ITEMS.qty, "DOUBLE PRECISION") == Param("v"))
    )
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(Query.into(ITEMS).columns(ITEMS.id, ITEMS.qty).insert(1, 7))
            assert await tx.fetch_all(portable, v=7.5) == []
