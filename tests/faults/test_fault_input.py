"""Values neither backend can store faithfully raise DataError on both, before or at the
database, never a raw driver exception, and the pool stays usable afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pypika.terms import Function

import dualdb
from dualdb import Json, Param, Query, Table, raw
from dualdb.dialects._values import MAX_JSON_DEPTH

T = Table("t")


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


BY_ID = Query.from_(T).select(T.id).where(T.id == Param("id"))

BAD_VALUES: dict[str, tuple[str, Any]] = {
    "NUL in text": ("s", "a\x00b"),
    "lone surrogate in text": ("s", "a\ud800b"),
    "lone surrogate in JSON": ("doc", {"k": "\udfff"}),
    "NUL in JSON": ("doc", Json("\x00")),
    "NaN float": ("f", float("nan")),
    "NaN in JSON": ("doc", [float("nan")]),
    "infinity in JSON": ("doc", {"x": float("inf")}),
    "not JSON-serialisable": ("doc", Json({1, 2})),
    "integer above 64 bits": ("n", 2**63),
    "integer below 64 bits": ("n", -(2**63) - 1),
    "naive datetime": ("at", datetime(2026, 1, 1)),
    "instant before year 1 in UTC": (
        "at",
        datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
    ),
    "instant after year 9999 in UTC": (
        "at",
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    ),
    "PostgreSQL's -infinity instant": ("at", datetime(1, 1, 1, tzinfo=UTC)),
    "PostgreSQL's infinity instant": ("at", datetime.max.replace(tzinfo=UTC)),
    # PostgreSQL's numeric holds < 10**131072 (asyncpg sent this one as zero) and at most
    # 16383 digits after the point.
    "decimal of 131073 digits": ("d", Decimal("1E+131072")),
    "decimal with 16384 fractional digits": ("d", Decimal("1E-16384")),
    # Deeper than Python's json can read back: stored, the row could never be read.
    "JSON nested 5,000 deep": ("doc", Json(_nested(5000))),
    "JSON nested one level too deep": ("doc", Json(_nested(MAX_JSON_DEPTH + 1))),
}


@pytest.fixture
async def t(db: dualdb.Database) -> dualdb.Database:
    ty = db.dialect.column_type
    await db.execute(
        raw(
            f"CREATE TABLE t (id {ty('bigint')} PRIMARY KEY NOT NULL, s {ty('text')}, "
            f"n {ty('bigint')}, f {ty('float')}, at {ty('timestamptz')}, doc {ty('json')}, "
            f"d {ty('decimal')})"
        )
    )
    return db


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
async def test_unstorable_value_raises_data_error_and_stores_nothing(
    t: dualdb.Database, case: str
) -> None:
    column, value = BAD_VALUES[case]
    insert = Query.into(T).columns(T.id, T.field(column)).insert(1, Param("v"))
    with pytest.raises(dualdb.DataError):
        await t.execute(insert, v=value)
    with pytest.raises(dualdb.DataError):  # in a WHERE clause as well
        await t.fetch_all(Query.from_(T).select(T.id).where(T.field(column) == Param("v")), v=value)
    async with t.transaction() as tx:  # and inside a transaction, which stays usable
        with pytest.raises(dualdb.DataError):
            async with tx.transaction() as savepoint:
                await savepoint.execute(insert, v=value)
        await tx.execute(Query.into(T).columns(T.id).insert(2))
    assert [r["id"] for r in await t.fetch_all(Query.from_(T).select(T.id))] == [2]


async def test_the_deepest_json_and_the_widest_decimals_round_trip(t: dualdb.Database) -> None:
    deepest = _nested(MAX_JSON_DEPTH)
    await t.execute(Query.into(T).columns(T.id, T.doc).insert(1, Param("v")), v=Json(deepest))
    assert await t.fetch_val(Query.from_(T).select(T.doc)) == deepest
    for number, value in enumerate([Decimal("9" * 131072), Decimal("1E-16383")], 2):
        await t.execute(Query.into(T).columns(T.id, T.d).insert(number, Param("v")), v=value)
        got = await t.fetch_val(Query.from_(T).select(T.d).where(T.id == number))
        assert got == value


async def test_data_error_is_also_a_value_error(t: dualdb.Database) -> None:
    with pytest.raises(ValueError, match=r"NUL|0x00"):
        await t.execute(Query.into(T).columns(T.id, T.s).insert(1, "\x00"))


async def test_the_last_storable_instants_and_integers_round_trip(t: dualdb.Database) -> None:
    edges: dict[str, list[datetime | int]] = {
        "at": [
            datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC),
        ],
        "n": [-(2**63), 2**63 - 1],
    }
    for column, values in edges.items():
        for number, value in enumerate(values, 1):
            row = {"id": number + 10 * len(column), "v": value}
            await t.execute(
                Query.into(T).columns(T.id, T.field(column)).insert(Param("id"), Param("v")), **row
            )
            got = await t.fetch_val(Query.from_(T).select(T.field(column)).where(T.id == row["id"]))
            assert got == value and type(got) is type(value)
            if isinstance(got, datetime):
                assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("query", "values", "error"),
    [
        (Query.from_(T).select(T.id).where(T.id == Param("id")), {}, dualdb.QueryError),
        (
            Query.from_(T).select(T.id).where(T.id == Param("id")),
            {"id": 1, "x": 2},
            dualdb.QueryError,
        ),
        (Query.from_(Table("no_such_table")).select("*"), {}, dualdb.ProgrammingError),
        # (An unknown *column* is a string constant on SQLite: see test_diff_differences.)
        (Query.from_(T).select(Function("NOPE", T.id)), {}, dualdb.ProgrammingError),
        ("SELEKT 1", {}, dualdb.ProgrammingError),
        (Query.from_(T).select(T.id).where(T.id == None), {}, None),  # noqa: E711 - rewritten
    ],
    ids=[
        "missing Param",
        "unexpected value",
        "unknown table",
        "unknown function",
        "syntax",
        "== None",
    ],
)
async def test_malformed_queries_raise_the_documented_errors(
    t: dualdb.Database, query: Any, values: dict[str, Any], error: type[Exception] | None
) -> None:
    if error is None:
        assert await t.fetch_all(query, **values) == []
        return
    with pytest.raises(error):
        await t.fetch_all(query, **values)
    assert await t.fetch_val(raw("SELECT 1")) == 1


async def test_decimal_forms_are_stored_as_postgresql_would_return_them(
    t: dualdb.Database,
) -> None:
    """Exponent forms, negative zero and signalling NaN come back identically on both."""
    cases = [
        (Decimal("1E+2"), "100"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("sNaN"), "NaN"),
        (Decimal("1.10"), "1.10"),
    ]
    for number, (value, text) in enumerate(cases, 1):
        await t.execute(Query.into(T).columns(T.id, T.d).insert(number, value))
        got = await t.fetch_val(Query.from_(T).select(T.d).where(T.id == number))
        assert format(got, "f") == text
