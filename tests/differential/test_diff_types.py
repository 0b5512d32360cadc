"""Expressions have PostgreSQL's types on both backends: casts, ABS, float arithmetic,
literals with no column to type them, and the branches of CASE, COALESCE and UNION.

SQLite's CAST reads ``'x'`` as 0 and truncates 2.7 to 2, its float arithmetic overflows
to infinity, and its CASE keeps each branch's own type; PostgreSQL refuses the first,
rounds, raises ``value out of range`` and gives a CASE one type. dualdb writes these
places on SQLite through functions of its own, by the types of the columns involved, and
decodes what comes back by the type PostgreSQL would give it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from _differential import (
    ITEMS,
    Pair,
    agree,
    canon,
    canon_rows,
    examples,
    fetch_all,
    fetch_val,
    on_both,
    one_row,
    scratch,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pypika.terms import Case, ValueWrapper

import dualdb
from dualdb import Param, Query, fn

pytestmark = pytest.mark.postgresql


# ---------------------------------------------------------------------------- casts

#: Text that is a number to one reader and not to another.
numberish_text = st.sampled_from(
    [
        " 12 ",
        "-7",
        "+3",
        "1.5",
        "-2.5",
        "x",
        "",
        " ",
        "1e3",
        ".5",
        "5.",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "1_000",
        "0x10",
        "99999999999",
        "2147483648",
        "-2147483648",
        "32768",
        "1e400",
        "1e-400",
        "12abc",
        "١٢",
        "+-1",
    ]
) | st.from_regex(r"\s?[+-]?\d{1,20}(\.\d{0,5})?([eE][+-]?\d{1,3})?\s?", fullmatch=True)

CAST_TYPES = [
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "NUMERIC",
    "NUMERIC(6,2)",
    "NUMERIC(3)",
    "DOUBLE PRECISION",
    "REAL",
]


@settings(max_examples=examples(150))
@given(text=numberish_text, to=st.sampled_from(CAST_TYPES))
async def test_text_cast_to_a_number_agrees_or_fails_alike(pair: Pair, text: str, to: str) -> None:
    """PostgreSQL refuses text that is no number of the type (``'x'``, ``'1.5'`` for an
    integer) with a DataError; SQLite's CAST would read the digits it can."""
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.name, to))
    async with scratch(pair) as txs:
        await one_row(txs, name=text)
        agree(await on_both(txs, lambda db: db.fetch_val(query)))


@settings(max_examples=examples(150))
@given(
    price=st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**8), max_value=10**8
    ),
    to=st.sampled_from(CAST_TYPES),
)
async def test_a_decimal_cast_to_a_number_is_rounded_as_on_postgresql(
    pair: Pair, price: Decimal, to: str
) -> None:
    """Half away from zero, with ``numeric field overflow`` past the precision."""
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.price, to))
    async with scratch(pair) as txs:
        await one_row(txs, price=price)
        agree(await on_both(txs, lambda db: db.fetch_val(query)))


@settings(max_examples=examples(150))
@given(
    ratio=st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f + 0.0)
    | st.sampled_from([0.5, 1.5, 2.5, -2.5, 2.7, 1e15 + 0.5, 2.0**31, -(2.0**31) - 0.5]),
    to=st.sampled_from(CAST_TYPES),
)
async def test_a_float_cast_to_a_number_is_rounded_as_on_postgresql(
    pair: Pair, ratio: float, to: str
) -> None:
    """Half to even for integers, 15 significant digits for a numeric."""
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.ratio, to))
    async with scratch(pair) as txs:
        await one_row(txs, ratio=ratio)
        agree(await on_both(txs, lambda db: db.fetch_val(query)))


@settings(max_examples=examples(100))
@given(qty=st.integers(-(2**63), 2**63 - 1), to=st.sampled_from(CAST_TYPES))
async def test_an_integer_cast_to_a_number_agrees_or_overflows_alike(
    pair: Pair, qty: int, to: str
) -> None:
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.qty, to))
    async with scratch(pair) as txs:
        await one_row(txs, qty=qty)
        agree(await on_both(txs, lambda db: db.fetch_val(query)))


async def test_a_cast_decimal_compares_by_value_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(ITEMS.id).where(fn.Cast(ITEMS.name, "NUMERIC") > Decimal("9"))
    async with scratch(pair) as txs:
        await one_row(txs, name="10.00")
        got = await on_both(txs, lambda db: db.fetch_all(query))
    assert [canon_rows(rows) for rows in got] == [[(("id",), (("int", 1),))]] * 2


async def test_a_param_cast_to_a_type_is_checked_as_that_type_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(fn.Cast(Param("k"), "BIGINT"))
    async with scratch(pair) as txs:
        await one_row(txs)
        assert await on_both(txs, lambda db: db.fetch_val(query, k=5)) == [5, 5]
        refused = await on_both(txs, lambda db: db.fetch_val(query, k="5"))
    assert refused == [("raises", "DataError")] * 2


async def test_a_uuid_column_cast_to_a_number_is_refused_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.uid, "INTEGER"))
    outcomes = await on_both((pair.sqlite, pair.postgresql), lambda db: db.fetch_val(query))
    assert outcomes[0] == ("raises", "UnsupportedFeature")
    assert outcomes[1] == ("raises", "ProgrammingError")


# ---------------------------------------------------------------------------- ABS


@settings(max_examples=examples(100))
@given(
    qty=st.none() | st.integers(-(2**63), 2**63 - 1),
    price=st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2),
    ratio=st.none() | st.floats(allow_nan=False).map(lambda f: f + 0.0),
)
async def test_abs_has_its_arguments_type_on_both(
    pair: Pair, qty: int | None, price: Decimal | None, ratio: float | None
) -> None:
    """ABS of a decimal is the exact Decimal; of the smallest bigint, an overflow."""
    async with scratch(pair) as txs:
        await one_row(txs, qty=qty, price=price, ratio=ratio)
        for column in (ITEMS.qty, ITEMS.price, ITEMS.ratio):
            query = Query.from_(ITEMS).select(fn.Abs(column))
            agree(await on_both(txs, fetch_val(query)))


# ---------------------------------------------------------------------------- float range

extreme_floats = st.sampled_from(
    [1e308, -1e308, 1e-308, 5e-324, -5e-324, 1.5, 0.0, 2.0, math.inf, -math.inf]
) | st.floats(allow_nan=False).map(lambda f: f + 0.0)


@settings(max_examples=examples(150))
@given(ratio=extreme_floats, other=extreme_floats, operator=st.sampled_from("+-*/"))
async def test_float_arithmetic_beyond_the_range_fails_alike(
    pair: Pair, ratio: float, other: float, operator: str
) -> None:
    """PostgreSQL's float8 raises ``value out of range`` where a finite result would be
    infinite (overflow) or zero (underflow); SQLite would return infinity or 0.0."""
    expression = {
        "+": ITEMS.ratio + other,
        "-": ITEMS.ratio - other,
        "*": ITEMS.ratio * other,
        "/": ITEMS.ratio / other,
    }[operator]
    query = Query.from_(ITEMS).select(expression.as_("v"))
    async with scratch(pair) as txs:
        await one_row(txs, ratio=ratio)
        agree(await on_both(txs, lambda db: db.fetch_val(query)))  # (inf - inf is NaN)


async def test_a_float_product_too_large_is_out_of_range_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select((ITEMS.ratio * ITEMS.ratio).as_("v"))
    async with scratch(pair) as txs:
        await one_row(txs, ratio=1e308)
        for db in txs:
            with pytest.raises(dualdb.DataError, match="value out of range: overflow"):
                async with db.transaction() as sp:
                    await sp.fetch_val(query)


# ---------------------------------------------------------------------------- literals


@pytest.mark.parametrize("value", [1, 3_000_000_000, 2.5, Decimal("1.50"), True, "a"], ids=repr)
async def test_a_literal_alone_in_a_select_list_comes_back_as_itself_on_both(
    pair: Pair, value: Any
) -> None:
    """PostgreSQL cannot type a bare parameter (``SELECT $1`` is text): dualdb writes a
    literal with the type PostgreSQL gives it written inline."""
    query = Query.from_(ITEMS).select(ValueWrapper(value))  # (a str alone names a column)
    async with scratch(pair) as txs:
        await one_row(txs)
        got = await on_both(txs, lambda db: db.fetch_all(query))
    assert [canon_rows(rows) for rows in got] == [[(("?column?",), (canon(value),))]] * 2


async def test_a_literal_integer_beyond_64_bits_is_refused_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(ValueWrapper(2**70))
    async with scratch(pair) as txs:
        await one_row(txs)
        got = await on_both(txs, lambda db: db.fetch_all(query))
    assert got == [("raises", "DataError")] * 2


async def test_an_aggregate_of_a_literal_agrees(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(
        fn.Sum(ValueWrapper(1)).as_("n"), fn.Count(ValueWrapper(1)).as_("c")
    )
    async with scratch(pair) as txs:
        await one_row(txs)
        got = await on_both(txs, lambda db: db.fetch_all(query))
    assert [canon_rows(rows) for rows in got] == [[(("n", "c"), (("int", 1), ("int", 1)))]] * 2


async def test_a_case_of_literals_only_agrees(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(Case().when(ITEMS.id == 1, 1).else_(2).as_("v"))
    async with scratch(pair) as txs:
        await one_row(txs)
        got = await on_both(txs, lambda db: db.fetch_val(query))
    assert [canon(v) for v in got] == [("int", 1)] * 2


async def test_a_param_alone_in_a_select_list_is_text_on_both(pair: Pair) -> None:
    """PostgreSQL types it as text: a str comes back, anything else is a DataError."""
    query = Query.from_(ITEMS).select(Param("k"))
    async with scratch(pair) as txs:
        await one_row(txs)
        assert await on_both(txs, lambda db: db.fetch_val(query, k="5")) == ["5", "5"]
        refused = await on_both(txs, lambda db: db.fetch_val(query, k=5))
    assert refused == [("raises", "DataError")] * 2


@settings(max_examples=examples(100))
@given(
    first=st.sampled_from([ITEMS.qty, ITEMS.price, ITEMS.ratio]),
    second=st.sampled_from([ITEMS.qty, ITEMS.price, ITEMS.ratio]),
    k=st.sampled_from([3, -1, 2.5, Decimal("0.25"), 2**40, "7"]),
)
async def test_a_param_in_two_expressions_has_one_type_on_both(
    pair: Pair, first: Any, second: Any, k: Any
) -> None:
    """PostgreSQL types ``:k`` by the first expression (``price * :k`` makes it a
    numeric), and the second (``qty + :k``) takes that type."""
    param = Param("k")
    query = Query.from_(ITEMS).select((first * param).as_("a"), (second + param).as_("b"))
    async with scratch(pair) as txs:
        await one_row(txs, qty=7, price=Decimal("9.50"), ratio=0.5)
        sqlite, postgresql = await on_both(txs, lambda db: db.fetch_all(query, k=k))
    if isinstance(sqlite, tuple):
        assert sqlite == postgresql
    else:
        assert canon_rows(sqlite) == canon_rows(postgresql)


# ---------------------------------------------------------------------------- one type

branch_values = st.sampled_from(
    [ITEMS.qty, ITEMS.price, ITEMS.ratio, 1, 3_000_000_000, 2.5, Decimal("0.10"), None]
)


@settings(max_examples=examples(100))
@given(
    qty=st.none() | st.integers(-(10**6), 10**6),
    price=st.none()
    | st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6
    ),
    ratio=st.none() | st.floats(-1e6, 1e6).map(lambda f: round(f, 3) + 0.0),
    first=branch_values,
    second=branch_values,
    pick=st.booleans(),
)
async def test_case_and_coalesce_give_their_branches_one_type_on_both(
    pair: Pair, qty: Any, price: Any, ratio: Any, first: Any, second: Any, pick: bool
) -> None:
    """An integer and a decimal are a numeric, anything and a float a float."""
    queries = [
        Query.from_(ITEMS).select(
            Case().when(ITEMS.id == (1 if pick else 2), first).else_(second).as_("v")
        ),
        Query.from_(ITEMS).select(fn.Coalesce(first, second).as_("v")),
    ]
    async with scratch(pair) as txs:
        await one_row(txs, qty=qty, price=price, ratio=ratio)
        for query in queries:
            sqlite, postgresql = await on_both(txs, fetch_all(query))
            assert canon_rows(sqlite) == canon_rows(postgresql), query


@pytest.mark.parametrize(
    ("first", "second"),
    [(ITEMS.qty, ITEMS.price), (ITEMS.price, ITEMS.ratio), (ITEMS.qty, 1.5), (ITEMS.price, 1)],
    ids=["bigint+decimal", "decimal+float", "bigint+float literal", "decimal+int literal"],
)
async def test_the_members_of_a_union_have_one_type_on_both(
    pair: Pair, first: Any, second: Any
) -> None:
    query = Query.from_(ITEMS).select(
        first.as_("v") if hasattr(first, "as_") else first
    ) + Query.from_(ITEMS).select(second)
    async with scratch(pair) as txs:
        await one_row(txs, qty=7, price=Decimal("9.50"), ratio=0.25)
        got = await on_both(txs, lambda db: db.fetch_all(query))
    sqlite, postgresql = (sorted(canon(r["v"]) for r in rows) for rows in got)
    assert sqlite == postgresql
