"""Every portable value comes back identical (value and type) from SQLite and PostgreSQL.

One generated row per example holds a value, or NULL, in every column type; it is written
and read back through plain SELECT, ``SELECT *`` and ``INSERT … RETURNING`` on both
backends, inside a transaction that is rolled back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from _differential import (
    INSERT_ITEM,
    ITEM_COLUMNS,
    ITEMS,
    SPECIAL_DATETIMES,
    Pair,
    canon,
    canon_rows,
    datetimes,
    examples,
    expected,
    item_rows,
    scratch,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dualdb
from dualdb import Json, Param, Query

SELECT_ONE = (
    Query.from_(ITEMS)
    .select(ITEMS.id, *(ITEMS.field(c) for c in ITEM_COLUMNS))
    .where(ITEMS.id == Param("id"))
)
SELECT_STAR = Query.from_(ITEMS).select("*").where(ITEMS.id == Param("id"))
INSERT_RETURNING = INSERT_ITEM.returning(ITEMS.star)


def _row(**values: Any) -> dict[str, Any]:
    return dict.fromkeys(ITEM_COLUMNS) | values


@settings(max_examples=examples(1500))
@given(row=item_rows)
@example(row=_row(doc=Json(2.283844779429069e16), price=Decimal("1E+2")))
@example(row=_row(doc=Json({"n": [1e300, -1e16, 1.0, "1.0", "123"]}), price=Decimal("-0")))
@example(row=_row(price=Decimal("sNaN")))  # PostgreSQL turns a signalling NaN into NaN
@example(row=_row(price=Decimal("1E-30"), ratio=float("-inf")))
@example(row=_row(name="e\u0301👍🏽", grp="", qty=-(2**63), flag=False))
@example(row=_row(at=SPECIAL_DATETIMES[2], day=None, blob=b"\x00\xff"))
@example(row=_row(ratio=0.0))  # SQLite's RETURNING * handed out the int 0
@example(row=_row(price=Decimal("1415610313415527343750000")))  # asyncpg: 1.4156…E+24
async def test_every_value_round_trips_identically_on_both(pair: Pair, row: dict[str, Any]) -> None:
    async with scratch(pair) as backends:
        results = []
        for number, tx in enumerate(backends, 1):
            returned = await tx.fetch_all(INSERT_RETURNING, id=number, **row)
            selected = await tx.fetch_all(SELECT_ONE, id=number)
            star = await tx.fetch_all(SELECT_STAR, id=number)
            streamed = [r async for r in tx.iterate(SELECT_STAR, id=number)]
            assert canon_rows(returned) == canon_rows(star)
            assert canon_rows(selected) == canon_rows(star)
            assert canon_rows(streamed) == canon_rows(star)
            results.append([values[1:] for _, values in canon_rows(star)])
    sqlite, postgresql = results
    assert sqlite == postgresql
    want = tuple(
        expected(Decimal("NaN") if isinstance(v, Decimal) and v.is_nan() else v)
        for v in (row[c] for c in ITEM_COLUMNS)
    )
    assert sqlite == [_normalized(want)]


def _normalized(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """PostgreSQL's numeric has no negative zero: dualdb drops the sign on both."""
    return tuple(
        ("Decimal", value[1].removeprefix("-"))
        if isinstance(value, tuple) and value[0] == "Decimal" and not value[1].strip("-0.")
        else value
        for value in values
    )


@settings(max_examples=examples(300))
@given(moment=datetimes)
async def test_instants_compare_and_sort_alike_across_time_zones(
    pair: Pair, moment: datetime
) -> None:
    """A stored instant equals itself given in any zone, and sorts among fixed neighbours."""
    neighbours = [SPECIAL_DATETIMES[0], SPECIAL_DATETIMES[8], moment]
    q = (
        Query.from_(ITEMS)
        .select(ITEMS.id)
        .where(ITEMS.at >= Param("moment"))
        .orderby(ITEMS.at)
        .orderby(ITEMS.id)
    )
    async with scratch(pair) as backends:
        results = []
        for tx in backends:
            for number, at in enumerate(neighbours, 1):
                await tx.execute(INSERT_ITEM, **_row(at=at), id=number)
            in_utc = moment.astimezone(UTC)
            results.append([r["id"] for r in await tx.fetch_all(q, moment=in_utc)])
    assert results[0] == results[1]
    assert 3 in results[0]


@given(value=st.sampled_from(["x", 1, 2.5, True, None, [1, "a"], {"k": None}]))
async def test_json_wrapped_scalars_round_trip_on_both(pair: Pair, value: Any) -> None:
    async with scratch(pair) as backends:
        got = []
        for tx in backends:
            await tx.execute(INSERT_ITEM, **_row(doc=Json(value)), id=1)
            got.append(canon(await tx.fetch_val(Query.from_(ITEMS).select(ITEMS.doc))))
    assert got == [expected(value)] * 2


async def test_sql_null_and_json_null_are_told_apart_on_both(pair: Pair) -> None:
    """``None`` stores SQL NULL; ``Json(None)`` stores the JSON value ``null``."""
    is_null = Query.from_(ITEMS).select(ITEMS.id).where(ITEMS.doc.isnull()).orderby(ITEMS.id)
    async with scratch(pair) as backends:
        for tx in backends:
            await tx.execute(INSERT_ITEM, **_row(doc=None), id=1)
            await tx.execute(INSERT_ITEM, **_row(doc=Json(None)), id=2)
            assert [r["id"] for r in await tx.fetch_all(is_null)] == [1]
            docs = await tx.fetch_all(Query.from_(ITEMS).select(ITEMS.doc).orderby(ITEMS.id))
            assert [r["doc"] for r in docs] == [None, None]


async def test_record_interface_is_the_same_on_both(pair: Pair) -> None:
    for db in pair:
        await db.execute(INSERT_ITEM, **_row(name="n", qty=1), id=1)
        row = await db.fetch_one(SELECT_ONE, id=1)
        assert row is not None
        assert isinstance(row, dualdb.Record)
        assert row["name"] == row[1] == "n"
        assert list(row.keys())[:3] == ["id", "name", "grp"]
        assert dict(row)["qty"] == 1
        assert "qty" in row and "nope" not in row
        assert row.get("nope", 7) == 7


@settings(max_examples=examples(300))
@given(rows=st.lists(item_rows, min_size=1, max_size=5))
async def test_bulk_insert_stores_what_single_inserts_store(
    pair: Pair, rows: list[dict[str, Any]]
) -> None:
    """``execute_many`` takes PostgreSQL's COPY path (binary) and SQLite's executemany:
    the rows must read back exactly as rows inserted one by one."""
    everything = Query.from_(ITEMS).select("*").orderby(ITEMS.id)
    async with scratch(pair) as backends:
        results = []
        for tx in backends:
            await tx.execute_many(INSERT_ITEM, [{"id": n, **r} for n, r in enumerate(rows)])
            bulk = canon_rows(await tx.fetch_all(everything))
            await tx.execute(Query.from_(ITEMS).delete())
            for n, row in enumerate(rows):
                await tx.execute(INSERT_ITEM, id=n, **row)
            assert canon_rows(await tx.fetch_all(everything)) == bulk
            results.append(bulk)
    assert results[0] == results[1]
