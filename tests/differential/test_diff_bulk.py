"""A bulk insert stores what inserting the rows one at a time stores, and fails as that does.

``execute_many`` of a plain ``INSERT … VALUES (Param…)`` takes each backend's fastest path:
COPY on PostgreSQL, and on SQLite multi-row VALUES with each column encoded at once. Rows
generated with every column type (NULLs, unicode, int64 bounds, decimals, instants in any
time zone, nested JSON, bytes) go into ``items`` through ``execute_many`` and into a copy of
it through ``execute`` row by row: the two must hold the same stored values (compared as
each backend writes them out) and read back identical, on both backends. A batch with a
value to refuse, or a row that breaks a constraint, raises the error a row-by-row insert
raises, stores nothing of the batch, and shows no bound value.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from _differential import (
    COLUMN_VALUES,
    INSERT_ITEM,
    ITEM_COLUMNS,
    ITEMS,
    KV,
    Pair,
    canon,
    canon_rows,
    examples,
    json_documents,
    schema,
    scratch,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dualdb
from dualdb import Json, Param, Query, Table, raw

ITEMS_ONE = Table("items_one")  # the columns of ``items``, filled one row at a time
INSERT_ONE: Any = (
    Query.into(ITEMS_ONE)
    .columns(ITEMS_ONE.id, *(ITEMS_ONE.field(c) for c in ITEM_COLUMNS))
    .insert(Param("id"), *(Param(c) for c in ITEM_COLUMNS))
)
INSERT_KV = (
    Query.into(KV).columns(KV.k, KV.v, KV.note).insert(Param("k"), Param("v"), Param("note"))
)
ALL_KV = Query.from_(KV).select("*").orderby(KV.k)

#: JSON as applications pass it: a dict or list as it is, any other value in ``Json``.
documents = json_documents.map(lambda d: d if isinstance(d, dict | list) else Json(d))
_VALUES = COLUMN_VALUES | {"doc": documents | json_documents.map(Json)}
#: Rows with NULLs anywhere, and rows without (whole columns of one type, as most bulk
#: data is, which SQLite encodes a column at a time).
rows_with_nulls = st.fixed_dictionaries({c: st.none() | s for c, s in _VALUES.items()})
full_rows = st.fixed_dictionaries(_VALUES)
batches = st.lists(rows_with_nulls, min_size=1, max_size=30) | st.lists(
    full_rows, min_size=1, max_size=30
)

_SECRET = "s3cret-bound-value"


def _stored_sqlite(table: str) -> str:
    """Every column's storage class and SQL literal, as SQLite holds it."""
    columns = ", ".join(f"typeof({c}) || ':' || quote({c})" for c in ("id", *ITEM_COLUMNS))
    return f"SELECT {columns} FROM {table} ORDER BY id"


def _stored_postgresql(table: str) -> str:
    """Every row in PostgreSQL's text output of its stored values."""
    return f"SELECT t::text FROM {table} t ORDER BY id"


def _in_order(rows: Sequence[Any]) -> list[Any]:
    """Rows as ``canon`` gives them, but with JSON objects' keys in the order stored."""

    def strict(value: Any) -> Any:
        if isinstance(value, dict):
            return ("dict", tuple((k, strict(v)) for k, v in value.items()))
        if isinstance(value, list):
            return ("list", tuple(strict(v) for v in value))
        return canon(value)

    return [tuple(strict(v) for v in row.values()) for row in rows]


def _one(**values: Any) -> dict[str, Any]:
    return dict.fromkeys(ITEM_COLUMNS) | values


def _nested(depth: int) -> list[Any]:
    """A JSON list ``depth`` levels deep, with a string at the bottom."""
    doc: list[Any] = ["x" * 300]
    for _ in range(depth - 1):
        doc = [doc]
    return doc


@settings(max_examples=examples(200))
@given(rows=batches)
@example(
    rows=[
        _one(qty=-(2**63), doc={"é": 1, "b": [True, None, "x"], "aa": {"z": -1}}),
        _one(qty=2**63 - 1, doc=[1e16, 0.1, -0.0], price=Decimal("-0.00")),
        _one(at=datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), price=Decimal("1E+2")),
        _one(name="👍🏽\u200b", blob=b"\x00\xff", uid=UUID(int=5), doc=Json("text")),
    ]
)
@example(  # documents the quick JSON path passes to dump_json's own checks
    rows=[
        _one(doc=_nested(200)),
        _one(doc={"k": "\\u0000 is text here", "n": [1e300, -1e-300]}),
        _one(doc=None),
        _one(doc=Json("e+")),
    ]
)
async def test_bulk_rows_store_what_rows_inserted_one_by_one_store_on_both(
    pair: Pair, rows: list[dict[str, Any]]
) -> None:
    async with scratch(pair) as backends:
        read_back = []
        stored_forms = (_stored_sqlite, _stored_postgresql)
        for tx, db, stored in zip(backends, pair, stored_forms, strict=True):
            create_items = schema(db)[0]
            await tx.execute(raw(create_items.replace("items", "items_one", 1)))
            await tx.execute_many(INSERT_ITEM, [{"id": n, **row} for n, row in enumerate(rows)])
            for n, row in enumerate(rows):
                await tx.execute(INSERT_ONE, id=n, **row)
            bulk = await tx.fetch_all(Query.from_(ITEMS).select("*").orderby(ITEMS.id))
            single = await tx.fetch_all(Query.from_(ITEMS_ONE).select("*").orderby(ITEMS_ONE.id))
            assert _in_order(bulk) == _in_order(single)
            as_stored = await tx.fetch_all(raw(stored("items")))
            assert [tuple(r) for r in as_stored] == [
                tuple(r) for r in await tx.fetch_all(raw(stored("items_one")))
            ]
            read_back.append(canon_rows(bulk))
    assert read_back[0] == read_back[1]


def _printed(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


async def _failure(tx: dualdb.Queryable, call: Callable[[dualdb.Queryable], Any]) -> Exception:
    """The error ``call`` raises, run in a savepoint that then rolls back."""
    try:
        async with tx.transaction() as sp:
            await call(sp)
    except dualdb.DatabaseError as exc:
        return exc
    raise AssertionError("no error raised")


async def test_a_duplicate_key_mid_batch_stores_nothing_of_the_batch_as_a_row_would_fail(
    pair: Pair,
) -> None:
    """The batch fails inside a transaction's savepoint: the transaction goes on with
    nothing of the batch, and the error is the one the duplicate row alone raises."""
    batch = [{"k": f"{_SECRET}-{n}", "v": n, "note": _SECRET} for n in range(6)]
    batch.insert(4, {"k": f"{_SECRET}-2", "v": 99, "note": None})
    async with scratch(pair) as backends:
        for tx in backends:
            await tx.execute(INSERT_KV, k=f"{_SECRET}-2", v=0, note=None)
            single = await _failure(tx, lambda sp: sp.execute(INSERT_KV, **batch[4]))
            bulk = await _failure(tx, lambda sp: sp.execute_many(INSERT_KV, batch))
            assert [r["k"] for r in await tx.fetch_all(ALL_KV)] == [f"{_SECRET}-2"]
            assert type(bulk) is type(single) is dualdb.UniqueViolation
            assert str(bulk) == str(single)
            assert _SECRET not in _printed(bulk)


async def test_a_batch_outside_a_transaction_is_all_or_nothing_on_both(pair: Pair) -> None:
    batch = [{"k": f"k{n}", "v": n, "note": None} for n in range(5)]
    batch.append({"k": "k6", "v": None, "note": _SECRET})  # v is NOT NULL
    for db in pair:
        single = await _failure(db, lambda sp: sp.execute(INSERT_KV, **batch[-1]))
        with pytest.raises(dualdb.DatabaseError) as info:
            await db.execute_many(INSERT_KV, batch)
        bulk = info.value
        assert type(bulk) is type(single) is dualdb.NotNullViolation
        assert _SECRET not in _printed(bulk)
        assert await db.fetch_all(ALL_KV) == []


#: (column, value refused there): each on its own, and with the secret where it can be.
REFUSED = [
    ("qty", 1.5),  # a fraction into bigint: refused, never truncated
    ("qty", Decimal("2.5")),
    ("qty", UUID(int=5)),
    ("qty", 2**63),
    ("at", datetime(2026, 1, 1)),  # naive
    ("at", datetime.min.replace(tzinfo=UTC)),  # PostgreSQL's -infinity
    ("price", Decimal("1E+200000")),
    ("price", Decimal(f"1E-{16384}")),
    ("ratio", float("nan")),
    ("name", f"{_SECRET}\x00"),
    ("name", f"{_SECRET}\ud800"),  # a lone surrogate
    ("doc", {"k": f"{_SECRET}\x00"}),
    ("doc", {"k": [f"{_SECRET}\ud800"]}),
    ("doc", {"k": float("nan")}),
    ("doc", {"k": _nested(300)}),  # nested deeper than dualdb stores
    ("doc", f'{_SECRET}{{"a":'),  # JSON text that does not parse
    ("uid", _SECRET),
    ("flag", _SECRET),
    ("day", _SECRET),
]


@pytest.mark.parametrize(
    ("column", "value"), REFUSED, ids=[f"{c}-{i}" for i, (c, _) in enumerate(REFUSED)]
)
async def test_a_value_refused_in_a_batch_is_refused_as_when_alone(
    pair: Pair, column: str, value: Any
) -> None:
    good = [
        _one(qty=n, at=datetime(2026, 1, 1, tzinfo=UTC), price=Decimal("1.5")) for n in range(3)
    ]
    bad = good[0] | {column: value}
    batch = [{"id": n, **row} for n, row in enumerate([*good[:2], bad, good[2]])]
    messages = []
    async with scratch(pair) as backends:
        for tx in backends:
            single = await _failure(tx, lambda sp: sp.execute(INSERT_ITEM, id=9, **bad))
            bulk = await _failure(tx, lambda sp: sp.execute_many(INSERT_ITEM, batch))
            assert type(bulk) is type(single), (bulk, single)
            assert str(bulk) == str(single)
            # The Param is named where the driver tells which argument it refused (not
            # PostgreSQL's own refusal of NUL in text, nor sqlite3's of a lone surrogate).
            assert (
                f"Param {column}" in str(bulk) or "\\x00" in repr(value) or "\\ud800" in repr(value)
            )
            assert _SECRET not in _printed(bulk)
            assert await tx.fetch_all(Query.from_(ITEMS).select(ITEMS.id)) == []
            messages.append(type(bulk).__name__)
    assert messages[0] == messages[1]


# Where COPY would not do what INSERT does, PostgreSQL inserts the rows as INSERT would.

_THROUGH_SQLITE = [
    "CREATE VIEW kv_view AS SELECT k, v, note FROM kv",
    "CREATE TRIGGER kv_view_insert INSTEAD OF INSERT ON kv_view BEGIN "
    "INSERT INTO kv (k, v, note) VALUES (NEW.k, NEW.v, NEW.note); END",
    "CREATE TABLE kv_ruled (k TEXT, v BIGINT, note TEXT)",
    "CREATE TRIGGER kv_ruled_insert BEFORE INSERT ON kv_ruled BEGIN "
    "INSERT INTO kv (k, v, note) VALUES (NEW.k, NEW.v * 10, NEW.note); SELECT RAISE(IGNORE); END",
]
_THROUGH_POSTGRESQL = [
    "CREATE VIEW kv_view AS SELECT k, v, note FROM kv",  # updatable: INSERT writes kv
    "CREATE TABLE kv_ruled (k TEXT, v BIGINT, note TEXT)",
    "CREATE RULE kv_ruled_insert AS ON INSERT TO kv_ruled DO INSTEAD "
    "INSERT INTO kv (k, v, note) VALUES (NEW.k, NEW.v * 10, NEW.note)",
]


@pytest.mark.parametrize("table", ["kv_view", "kv_ruled"])
async def test_a_bulk_insert_through_a_view_or_rule_writes_what_inserts_write_on_both(
    pair: Pair, table: str
) -> None:
    """COPY cannot write through a view and ignores rules: such a target gets INSERTs."""
    target = Table(table)
    insert = (
        Query.into(target)
        .columns(target.k, target.v, target.note)
        .insert(Param("k"), Param("v"), Param("note"))
    )
    rows = [{"k": f"k{n}", "v": n, "note": None if n % 2 else "é"} for n in range(5)]
    stored = []
    async with scratch(pair) as backends:
        for tx, statements in zip(backends, (_THROUGH_SQLITE, _THROUGH_POSTGRESQL), strict=True):
            for statement in statements:
                await tx.execute(raw(statement))
            await tx.execute_many(insert, rows[:3])
            for row in rows[3:]:
                await tx.execute(insert, **row)
            stored.append(canon_rows(await tx.fetch_all(ALL_KV)))
    assert stored[0] == stored[1]
    assert len(stored[0]) == 5


async def test_a_bulk_insert_in_a_read_only_transaction_fails_as_an_insert_does(
    pair: Pair,
) -> None:
    batch = [{"k": f"k{n}", "v": n, "note": None} for n in range(3)]
    for db in pair:
        async with db.transaction(readonly=True) as tx:
            single = await _failure(tx, lambda sp: sp.execute(INSERT_KV, **batch[0]))
            bulk = await _failure(tx, lambda sp: sp.execute_many(INSERT_KV, batch))
        assert type(bulk) is type(single)
        assert str(bulk) == str(single)
