"""Every portable type comes back as the same Python value, of the same type, on both backends."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import dualdb
from dualdb import Json, Param, Query

t = dualdb.Table("items")
COLUMNS = ("name", "qty", "flag", "at", "day", "doc", "price", "blob", "ratio")
INSERT = (
    Query.into(t)
    .columns(t.id, *(t.field(c) for c in COLUMNS))
    .insert(Param("id"), *(Param(c) for c in COLUMNS))
)
SELECT = Query.from_(t).select(*(t.field(c) for c in COLUMNS)).where(t.id == Param("id"))
SELECT_STAR = Query.from_(t).select("*").where(t.id == Param("id"))


class Rollback(Exception):
    pass


async def roundtrip(db: dualdb.Queryable, **values: Any) -> dualdb.Record:
    row_values = dict.fromkeys(COLUMNS) | values
    uid = uuid.uuid4()
    await db.execute(INSERT, id=uid, **row_values)
    row = await db.fetch_one(SELECT, id=uid)
    assert row is not None
    return row


async def roundtrip_in_rollback(db: dualdb.Database, column: str, value: Any) -> Any:
    """Store and read back one value inside a transaction that is then rolled back."""
    result: list[Any] = []
    try:
        async with db.transaction() as tx:
            result.append((await roundtrip(tx, **{column: value}))[column])
            raise Rollback
    except Rollback:
        pass
    return result[0]


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


async def test_uuid_comes_back_as_uuid(items: dualdb.Database) -> None:
    uid = uuid.uuid4()
    await items.execute(INSERT, id=uid, **dict.fromkeys(COLUMNS))
    value = await items.fetch_val(Query.from_(t).select(t.id))
    assert isinstance(value, uuid.UUID)
    assert value == uid


async def test_aware_datetime_comes_back_in_utc(items: dualdb.Database) -> None:
    paris = timezone(timedelta(hours=2))
    stored = datetime(2026, 7, 1, 12, 30, 45, 123456, tzinfo=paris)
    value = (await roundtrip(items, at=stored))["at"]
    assert value == stored
    assert value.utcoffset() == timedelta(0)
    assert value.hour == 10


async def test_naive_datetime_is_rejected(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.DataError, match="naive datetime"):
        await roundtrip(items, at=datetime(2026, 1, 1))


async def test_date_comes_back_as_date(items: dualdb.Database) -> None:
    assert same((await roundtrip(items, day=date(1999, 12, 31)))["day"], date(1999, 12, 31))


async def test_bool_comes_back_as_bool(items: dualdb.Database) -> None:
    assert (await roundtrip(items, flag=True))["flag"] is True
    assert (await roundtrip(items, flag=False))["flag"] is False


async def test_decimal_keeps_its_digits(items: dualdb.Database) -> None:
    assert same((await roundtrip(items, price=Decimal("1.10")))["price"], Decimal("1.10"))


async def test_bytes_come_back_as_bytes(items: dualdb.Database) -> None:
    data = bytes(range(256))
    assert same((await roundtrip(items, blob=data))["blob"], data)


async def test_select_star_decodes_every_column(items: dualdb.Database) -> None:
    uid = uuid.uuid4()
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await items.execute(INSERT, id=uid, **(dict.fromkeys(COLUMNS) | {"at": at, "flag": True}))
    row = await items.fetch_one(SELECT_STAR, id=uid)
    assert row is not None
    assert (row["id"], row["at"], row["flag"]) == (uid, at, True)


async def test_max_of_a_column_keeps_its_type(items: dualdb.Database) -> None:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    await roundtrip(items, at=at)
    assert same(await items.fetch_val(Query.from_(t).select(dualdb.fn.Max(t.at))), at)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.0, "1.0", None, True]},
        [1, 2.5, {"x": "y"}],
        Json("1.0"),
        Json(1.0),
        Json(1),
        Json(True),
        Json("plain text"),
        Json([]),
        Json({}),
        Json(None),
    ],
    ids=repr,
)
async def test_json_value_comes_back_identical(items: dualdb.Database, value: Any) -> None:
    expected = value.value if isinstance(value, Json) else value
    got = (await roundtrip(items, doc=value))["doc"]
    assert same(got, expected) or (expected is None and got is None)


async def test_json_float_one_stays_a_float(items: dualdb.Database) -> None:
    assert same((await roundtrip(items, doc=Json(1.0)))["doc"], 1.0)


async def test_json_with_nul_is_rejected(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.DataError, match="NUL"):
        await roundtrip(items, doc={"a": "x\x00y"})


async def test_json_nan_is_rejected(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.DataError):
        await roundtrip(items, doc=Json(float("nan")))


async def test_text_with_nul_is_rejected_on_both(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.DataError):
        await roundtrip(items, name="a\x00b")


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
async def test_integer_beyond_64_bits_is_rejected_on_both(
    items: dualdb.Database, value: int
) -> None:
    with pytest.raises(dualdb.DataError):
        await roundtrip(items, qty=value)


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 0])
async def test_64_bit_edges_round_trip(items: dualdb.Database, value: int) -> None:
    assert same((await roundtrip(items, qty=value))["qty"], value)


async def test_nan_float_is_rejected_on_both(items: dualdb.Database) -> None:
    with pytest.raises(dualdb.DataError, match="NaN"):
        await roundtrip(items, ratio=float("nan"))


async def test_null_comes_back_as_none_for_every_type(items: dualdb.Database) -> None:
    row = await roundtrip(items)
    assert all(row[c] is None for c in COLUMNS)


async def test_failed_insert_leaves_data_unchanged(items: dualdb.Database) -> None:
    await roundtrip(items, name="kept")
    with pytest.raises(dualdb.DataError):
        await roundtrip(items, name="bad\x00")
    rows = await items.fetch_all(Query.from_(t).select(t.name))
    assert [r["name"] for r in rows] == ["kept"]


@given(text=st.text())
async def test_any_text_without_nul_round_trips(items: dualdb.Database, text: str) -> None:
    text = text.replace("\x00", "")
    assert same(await roundtrip_in_rollback(items, "name", text), text)


@given(number=st.integers(min_value=-(2**63), max_value=2**63 - 1))
async def test_any_64_bit_integer_round_trips(items: dualdb.Database, number: int) -> None:
    assert same(await roundtrip_in_rollback(items, "qty", number), number)


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    )
)
async def test_any_utc_datetime_round_trips(items: dualdb.Database, moment: datetime) -> None:
    assert same(await roundtrip_in_rollback(items, "at", moment), moment)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text().map(lambda s: s.replace("\x00", ""))
    | st.floats(allow_nan=False, allow_infinity=False, width=32),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=5).map(lambda s: s.replace("\x00", "")), inner, max_size=4
        )
    ),
    max_leaves=10,
)


@given(document=_json)
@example(document=2.283844779429069e16)  # jsonb once turned this float into an int
@example(document={"n": [1e300, -1e16, 1.0]})
@example(document="\\u0000")  # the text backslash-u0000 once passed for an escaped NUL
@example(document={"\\\\u0000": ["\\\\\\u0000x"]})
async def test_any_json_document_round_trips(items: dualdb.Database, document: Any) -> None:
    assert await roundtrip_in_rollback(items, "doc", Json(document)) == document


@given(
    amount=st.decimals(
        allow_nan=False, allow_infinity=False, places=4, max_value=10**12, min_value=-(10**12)
    )
)
async def test_any_decimal_round_trips(items: dualdb.Database, amount: Decimal) -> None:
    assert await roundtrip_in_rollback(items, "price", amount) == amount


async def test_dualdb_registers_no_process_wide_sqlite_converters(
    items: dualdb.Database, tmp_path: Any
) -> None:
    await roundtrip(items, at=datetime(2026, 1, 1, tzinfo=UTC), flag=True)
    conn = sqlite3.connect(tmp_path / "other.db", detect_types=sqlite3.PARSE_DECLTYPES)
    try:
        conn.execute('CREATE TABLE x (id UUID, at TIMESTAMPTZ, flag BOOLEAN, doc "JSON TEXT")')
        conn.execute("INSERT INTO x VALUES ('6f1c…', '2026-01-01', 1, '[1]')")
        assert conn.execute("SELECT * FROM x").fetchone() == ("6f1c…", "2026-01-01", 1, "[1]")
    finally:
        conn.close()
    assert not {"UUID", "TIMESTAMPTZ", "BOOLEAN", "JSON"} & set(sqlite3.converters)
