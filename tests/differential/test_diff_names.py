"""Result columns are named alike on both backends.

SQLite names an unaliased expression by its text (``COUNT(*)``, ``MAX(`n`)``);
PostgreSQL by rules of its own (``count``, ``max``, ``?column?``). dualdb aliases such
expressions on SQLite with PostgreSQL's name, so ``row["count"]`` works on both.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from _differential import ITEMS, TAGS, Pair, on_both, scratch
from pypika.terms import Case, ValueWrapper

from dualdb import Param, Query, fn

pytestmark = pytest.mark.postgresql

EXPRESSIONS: list[tuple[str, Any]] = [
    ("count", fn.Count("*")),
    ("max", fn.Max(ITEMS.qty)),
    ("sum", fn.Sum(ITEMS.qty)),
    ("avg", fn.Avg(ITEMS.price)),
    ("coalesce", fn.Coalesce(ITEMS.qty, 0)),
    ("lower", fn.Lower(ITEMS.name)),
    ("abs", fn.Abs(ITEMS.qty)),
    ("?column?", ITEMS.qty + 1),
    ("?column?", ITEMS.qty == 1),
    ("?column?", ITEMS.qty.isin([1, 2])),
    ("?column?", ITEMS.qty.isnull()),
    ("case", Case().when(ITEMS.qty == 1, 1).else_(fn.Cast(ValueWrapper(2), "BIGINT"))),
    ("lower", Case().when(ITEMS.qty == 1, ITEMS.name).else_(fn.Lower(ITEMS.name))),
    ("qty", Case().when(ITEMS.qty == 1, 1).else_(ITEMS.qty)),
    ("qty", fn.Cast(ITEMS.qty, "TEXT")),
    ("count", fn.Cast(fn.Count("*"), "BIGINT")),
    ("int8", fn.Cast(ValueWrapper(1), "BIGINT")),
    ("float8", fn.Cast(ValueWrapper(1), "DOUBLE PRECISION")),
    ("max", Query.from_(TAGS).select(fn.Max(TAGS.weight))),
    ("n", Query.from_(TAGS).select(fn.Max(TAGS.weight).as_("n"))),
]


@pytest.mark.parametrize(("name", "expression"), EXPRESSIONS, ids=[n for n, _ in EXPRESSIONS])
async def test_an_unaliased_expression_is_named_as_postgresql_names_it(
    pair: Pair, name: str, expression: Any
) -> None:
    query: Any = Query.from_(ITEMS).select(expression)
    if name not in ("count", "max", "sum", "avg") or isinstance(expression, Query):
        query = query.groupby(ITEMS.qty, ITEMS.name, ITEMS.price)
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(Query.into(ITEMS).columns(ITEMS.id, ITEMS.qty).insert(1, 1))
        rows = await on_both(txs, lambda db: db.fetch_all(query))
    assert [list(r[0].keys()) for r in rows] == [[name], [name]]


async def test_names_repeat_alike_and_aliases_win_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(
        fn.Count("*"), fn.Count(ITEMS.id), fn.Count("*").as_("rows"), ITEMS.qty
    )
    query = query.groupby(ITEMS.qty)
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(Query.into(ITEMS).columns(ITEMS.id, ITEMS.qty).insert(1, 1))
        rows = await on_both(txs, lambda db: db.fetch_one(query))
    assert [list(r.keys()) for r in rows] == [["count", "count", "rows", "qty"]] * 2
    assert [r["count"] for r in rows] == [1, 1]


async def test_returning_names_expressions_as_postgresql_does(pair: Pair) -> None:
    insert = cast(Any, Query.into(ITEMS)).columns(ITEMS.id, ITEMS.qty).insert(1, Param("q"))
    insert = insert.returning(ITEMS.id, ITEMS.qty + 1)
    async with scratch(pair) as txs:
        rows = await on_both(txs, lambda db: db.fetch_one(insert, q=4))
    assert [dict(r) for r in rows] == [{"id": 1, "?column?": 5}] * 2
