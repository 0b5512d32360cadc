"""Result columns come back as the same Python types on both backends however the query
reaches them: through comparisons, CASE, subqueries, CTEs, joins, a scalar subquery, or
raw SQL given ``types=``.

SQLite returns what it stored (UUIDs as text, booleans as 0/1); dualdb decodes each result
column by where it comes from. Hypothesis picks a column of every type and a random way of
reaching it; both backends must return the value that was written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pypika
import pytest
from _differential import (
    INSERT_ITEM,
    ITEM_COLUMNS,
    ITEMS,
    TAGS,
    Pair,
    canon,
    examples,
    expected,
    item_rows,
    on_both,
    scratch,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pypika import AliasedQuery, Case

import dualdb
from dualdb import Param, Query, fn, raw

pytestmark = pytest.mark.postgresql

#: Ways of reaching column ``c`` of ``items`` (row id 1), each returning one column.
PATHS = {
    "plain": lambda c: Query.from_(ITEMS).select(ITEMS.field(c)),
    "PyPika's own builder": lambda c: pypika.Query.from_(ITEMS).select(ITEMS.field(c)),
    "subquery *": lambda c: Query.from_(Query.from_(ITEMS).select(ITEMS.field(c))).select("*"),
    "subquery column": lambda c: Query.from_(Query.from_(ITEMS).select(ITEMS.field(c))).select(c),
    "subquery alias": lambda c: Query.from_(
        Query.from_(ITEMS).select(ITEMS.field(c).as_("renamed"))
    ).select("renamed"),
    "subquery of subquery": lambda c: Query.from_(
        Query.from_(Query.from_(ITEMS).select(ITEMS.field(c), ITEMS.id)).select(c)
    ).select(c),
    "CTE": lambda c: (
        Query.with_(Query.from_(ITEMS).select(ITEMS.field(c)), "cte")
        .from_(AliasedQuery("cte"))
        .select(c)
    ),
    "CASE": lambda c: Query.from_(ITEMS).select(
        Case().when(ITEMS.id == 1, ITEMS.field(c)).else_(ITEMS.field(c)).as_("v")
    ),
    "COALESCE": lambda c: Query.from_(ITEMS).select(fn.Coalesce(ITEMS.field(c), ITEMS.field(c))),
    "scalar subquery": lambda c: Query.from_(ITEMS).select(
        Query.from_(ITEMS).select(ITEMS.field(c)).where(ITEMS.id == 1).as_("v")
    ),
    "join": lambda c: (
        Query.from_(ITEMS)
        .left_join(TAGS)
        .on(TAGS.item_id == ITEMS.id)
        .select(ITEMS.field(c), TAGS.label)
    ),
}


async def _write(pair_txs: Any, row: dict[str, Any]) -> None:
    for tx in pair_txs:
        await tx.execute(INSERT_ITEM, id=1, **row)


@settings(max_examples=examples(200))
@given(
    row=item_rows, column=st.sampled_from(sorted(ITEM_COLUMNS)), path=st.sampled_from(sorted(PATHS))
)
async def test_a_column_reached_any_way_comes_back_as_written(
    pair: Pair, row: dict[str, Any], column: str, path: str
) -> None:
    async with scratch(pair) as txs:
        await _write(txs, row)
        query = PATHS[path](column)
        got = await on_both(txs, lambda db: db.fetch_val(query))
        written = row[column]
        if isinstance(written, Decimal) and written.is_zero():
            written = written.copy_abs()  # numeric has no negative zero (on both)
        assert [canon(v) for v in got] == [expected(written)] * 2


COMPARISONS = {
    "=": lambda: ITEMS.qty == 1,
    "IN": lambda: ITEMS.qty.isin([1, 2]),
    "BETWEEN": lambda: ITEMS.qty.between(0, 5),
    "IS NULL": lambda: ITEMS.qty.isnull(),
    "NOT": lambda: ~(ITEMS.qty == 1),
    "AND": lambda: (ITEMS.qty == 1) & (ITEMS.id == 1),
}


@settings(max_examples=examples(100))
@given(
    qty=st.none() | st.integers(-3, 3),
    name=st.none() | st.sampled_from(["a", "ab", "b"]),
    comparison=st.sampled_from(sorted(COMPARISONS)),
)
async def test_a_comparison_in_the_select_list_is_a_bool_on_both(
    pair: Pair, qty: int | None, name: str | None, comparison: str
) -> None:
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(
                Query.into(ITEMS)
                .columns(ITEMS.id, ITEMS.qty, ITEMS.name)
                .insert(1, Param("q"), Param("n")),
                q=qty,
                n=name,
            )
        query = Query.from_(ITEMS).select(COMPARISONS[comparison]().as_("v"))
        sqlite, postgresql = await on_both(txs, lambda db: db.fetch_val(query))
        assert canon(sqlite) == canon(postgresql)
        assert sqlite is None or type(sqlite) is bool


async def test_raw_sql_with_types_comes_back_as_on_postgresql(pair: Pair) -> None:
    uid = "12345678-1234-5678-1234-567812345678"
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(
                INSERT_ITEM,
                id=1,
                **dict.fromkeys(ITEM_COLUMNS),
            )
            await tx.execute(
                Query.update(ITEMS).set(ITEMS.uid, Param("u")).set(ITEMS.flag, True),
                u=__import__("uuid").UUID(uid),
            )
        sql = "SELECT uid, flag AS ok FROM items"
        got = await on_both(
            txs, lambda db: db.fetch_one(raw(sql, types={"uid": "uuid", "ok": "boolean"}))
        )
        assert [canon(r["uid"]) for r in got] == [("UUID", uid)] * 2
        assert [canon(r["ok"]) for r in got] == [("bool", True)] * 2


@pytest.mark.parametrize("types", [{"uid": "guid"}, {"uid": 5}])
def test_raw_types_must_be_logical_type_names(types: Any) -> None:
    with pytest.raises(dualdb.QueryError, match="logical types"):
        raw("SELECT uid FROM items", types=types)
