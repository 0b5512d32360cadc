"""Aggregates over the same rows agree on both backends.

SUM over a decimal column keeps every digit on SQLite as on PostgreSQL (SQLite's own
sum() adds decimal text as floats). The types of SUM and AVG over every kind of number,
and the order of decimals, are in test_diff_numbers.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from _differential import ITEMS, Pair, canon, examples, on_both, scratch
from hypothesis import given, settings
from hypothesis import strategies as st

from dualdb import Param, Query, fn

pytestmark = pytest.mark.postgresql

money = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-(10**15), max_value=10**15
)
prices = st.lists(
    st.none() | money | st.sampled_from([Decimal("0.10"), Decimal("9.00")]), max_size=12
)


@settings(max_examples=examples(150))
@given(values=prices, grouped=st.booleans())
async def test_sum_of_a_decimal_column_is_exact_and_a_decimal_on_both(
    pair: Pair, values: list[Decimal | None], grouped: bool
) -> None:
    insert = (
        Query.into(ITEMS)
        .columns(ITEMS.id, ITEMS.grp, ITEMS.price)
        .insert(Param("id"), Param("grp"), Param("price"))
    )
    rows = [{"id": i, "grp": "ab"[i % 2], "price": v} for i, v in enumerate(values)]
    total = fn.Sum(ITEMS.price).as_("total")
    query: Any = (
        Query.from_(ITEMS).select(ITEMS.grp, total).groupby(ITEMS.grp).orderby(ITEMS.grp)
        if grouped
        else Query.from_(ITEMS).select(total)
    )
    async with scratch(pair) as txs:
        for tx in txs:
            if rows:
                await tx.execute_many(insert, rows)
        sqlite, postgresql = await on_both(txs, lambda db: db.fetch_all(query))
        assert [[canon(v) for v in r.values()] for r in sqlite] == [
            [canon(v) for v in r.values()] for r in postgresql
        ]
    if not grouped:
        present = [v for v in values if v is not None]
        expected = sum(present, Decimal(0)) if present else None
        got = sqlite[0]["total"]
        assert got == expected and (got is None or type(got) is Decimal)


async def test_sum_of_a_decimal_column_with_distinct_is_exact_on_both(pair: Pair) -> None:
    insert = Query.into(ITEMS).columns(ITEMS.id, ITEMS.price).insert(Param("id"), Param("p"))
    values = [Decimal("123456789012345678.91"), Decimal("123456789012345678.91"), Decimal("0.09")]
    query = Query.from_(ITEMS).select(fn.Sum(ITEMS.price).distinct().as_("total"))
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute_many(insert, [{"id": i, "p": v} for i, v in enumerate(values)])
        got = await on_both(txs, lambda db: db.fetch_val(query))
        assert [canon(v) for v in got] == [canon(Decimal("123456789012345679.00"))] * 2
