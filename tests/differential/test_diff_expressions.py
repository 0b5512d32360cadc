"""Expressions that probing found answering differently on the backends, now the same:
negated compound expressions, casts of computed decimals, literals and computed operands,
``%`` of floats and decimals, numeric edges, casts and Params in CASE/COALESCE branches
and UNION members, and expressions assigned to columns.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from _differential import (
    ITEMS,
    Pair,
    agree,
    canon,
    canon_rows,
    fetch_all,
    fetch_val,
    on_both,
    one_row,
    scratch,
)
from pypika.terms import Case, ValueWrapper

import dualdb
from dualdb import Param, Query, fn

pytestmark = pytest.mark.postgresql


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        (-(ITEMS.qty - ITEMS.qty), 0),
        (-(ITEMS.qty + 1), -6),
        (-(-ITEMS.qty), 5),  # noqa: B002 - a negation of a negation, on purpose
        (ITEMS.qty - (-ITEMS.qty), 10),
        (ITEMS.qty * -(ITEMS.qty + 1), -30),
    ],
    ids=["-(n - n)", "-(n + 1)", "-(-n)", "n - -n", "n * -(n + 1)"],
)
async def test_a_negated_compound_expression_keeps_its_parentheses(
    pair: Pair, expression: Any, value: int
) -> None:
    """PyPika writes -(n - m) as "-n-m", and n - -m as "n--m" (a comment from "--")."""
    query = Query.from_(ITEMS).select(expression.as_("v"))
    async with scratch(pair) as txs:
        await one_row(txs, qty=5)
        assert await on_both(txs, fetch_val(query)) == [value, value]


async def test_a_param_typed_by_arithmetic_is_compared_as_itself_elsewhere(pair: Pair) -> None:
    """``price * :k`` types ``:k`` as a numeric; ``CAST(name AS INTEGER) > :k`` still
    compares numbers on SQLite (bound as decimal text, it compared as text)."""
    k = Param("k")
    query = (
        Query.from_(ITEMS)
        .select((ITEMS.price * k).as_("v"))
        .where(fn.Cast(ITEMS.name, "INTEGER") > k)
    )
    async with scratch(pair) as txs:
        await one_row(txs, name="12", price=Decimal("2.50"))
        got = await on_both(txs, lambda db: db.fetch_all(query, k=2))
    assert [canon_rows(rows) for rows in got] == [[(("v",), (canon(Decimal("5.00")),))]] * 2


@pytest.mark.parametrize(
    "cast",
    [
        fn.Cast(fn.Coalesce(ITEMS.price, 0), "INTEGER"),
        fn.Cast(fn.Sum(ITEMS.price * 2), "BIGINT"),
        fn.Cast(fn.Abs(ITEMS.price), "SMALLINT"),
        fn.Cast(fn.Cast(ITEMS.price, "TEXT"), "INTEGER"),
    ],
    ids=["coalesce", "sum of arithmetic", "abs", "text of a decimal"],
)
async def test_a_cast_of_a_computed_decimal_agrees(pair: Pair, cast: Any) -> None:
    """A decimal computed by dualdb is decimal text on SQLite, cast as a number; a decimal
    cast to text first is text, which PostgreSQL refuses as an integer ('2.50')."""
    query = Query.from_(ITEMS).select(cast.as_("v"))
    async with scratch(pair) as txs:
        await one_row(txs, price=Decimal("2.50"))
        agree(await on_both(txs, fetch_val(query)))


@pytest.mark.parametrize(
    "expression",
    [
        fn.Cast(ITEMS.qty, "SMALLINT") * 2,
        fn.Abs(ValueWrapper(Decimal("-1.50"))),
        ValueWrapper(Decimal("1.50")) * 2,
        ValueWrapper(2**63 - 1) + ValueWrapper(2**63 - 1),
        ValueWrapper(1e308) * 2,
        ITEMS.price + ValueWrapper(2) * 3,
        fn.Abs(fn.Sum(ITEMS.price * ITEMS.qty)),
        -fn.Coalesce(ITEMS.price, 0),
    ],
    ids=[
        "smallint cast times a literal",
        "abs of a decimal literal",
        "decimal literal times 2",
        "bigint literals overflowing",
        "float literal overflowing",
        "decimal plus literal arithmetic",
        "abs of a sum",
        "minus a coalesce",
    ],
)
async def test_literals_and_computed_operands_have_postgresqls_types(
    pair: Pair, expression: Any
) -> None:
    """A literal nothing types is what PostgreSQL makes it (``2`` an integer, ``1.50`` a
    numeric); ABS and minus of a decimal dualdb computed stay exact."""
    query = Query.from_(ITEMS).select(expression.as_("v"))
    async with scratch(pair) as txs:
        await one_row(txs, qty=20000, price=Decimal("-2.50"))
        agree(await on_both(txs, fetch_val(query)))


@pytest.mark.parametrize(
    ("expression", "postgresql"),
    [
        (ITEMS.ratio % 2, ("raises", "ProgrammingError")),
        (fn.Cast(ITEMS.qty, "FLOAT") % 2, ("raises", "ProgrammingError")),
        (fn.Cast(ITEMS.price, "NUMERIC") % 2, None),
    ],
    ids=["float column", "cast to float", "cast to numeric"],
)
async def test_percent_of_a_float_or_a_decimal_expression_is_refused_on_sqlite(
    pair: Pair, expression: Any, postgresql: Any
) -> None:
    """PostgreSQL has no % of a float; dualdb computes none of a decimal on SQLite (as
    for a decimal column), rather than SQLite's float remainder."""
    query = Query.from_(ITEMS).select(expression.as_("v"))
    outcomes = await on_both((pair.sqlite, pair.postgresql), fetch_val(query))
    assert outcomes[0] == ("raises", "UnsupportedFeature")
    assert outcomes[1] == postgresql


@pytest.mark.parametrize(
    ("text", "to"),
    [
        ("Infinity", "NUMERIC"),
        ("-inf", "NUMERIC"),
        ("NaN\x1c", "NUMERIC"),
        ("\xa0NaN", "NUMERIC"),
        ("1e131072", "NUMERIC"),
        ("1e-16384", "NUMERIC"),
        ("12", "NUMERIC(2,-1)"),
        ("x", "NUMERIC(2,-1)"),
    ],
)
async def test_numeric_edgesagree(pair: Pair, text: str, to: str) -> None:
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.name, to))
    async with scratch(pair) as txs:
        await one_row(txs, name=text)
        agree(await on_both(txs, fetch_val(query)))


async def test_a_float_infinity_cast_to_numeric_agrees(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.ratio, "NUMERIC"))
    async with scratch(pair) as txs:
        await one_row(txs, ratio=float("-inf"))
        agree(await on_both(txs, fetch_val(query)))


@pytest.mark.parametrize(
    "branches",
    [
        (fn.Cast(ITEMS.name, "INTEGER"), ITEMS.price),
        (ITEMS.qty, fn.Cast(ITEMS.name, "NUMERIC")),
        (ITEMS.price, fn.Cast(ITEMS.name, "DOUBLE PRECISION")),
        (Param("k"), ITEMS.price),
        (Param("k"), ITEMS.ratio),
    ],
    ids=[
        "int cast + decimal",
        "bigint + numeric cast",
        "decimal + float cast",
        "param + decimal",
        "param + float",
    ],
)
async def test_casts_and_params_in_branches_take_the_common_type(
    pair: Pair, branches: tuple[Any, Any]
) -> None:
    first, second = branches
    values = {"k": 2} if isinstance(first, Param) else {}
    queries = [
        Query.from_(ITEMS).select(Case().when(ITEMS.id == 1, first).else_(second).as_("v")),
        Query.from_(ITEMS).select(fn.Coalesce(first, second).as_("v")),
    ]
    async with scratch(pair) as txs:
        await one_row(txs, qty=7, name="12", price=Decimal("2.50"), ratio=0.5)
        for query in queries:
            agree(await on_both(txs, fetch_val(query, **values)))


async def test_a_param_in_a_union_member_takes_the_other_members_type(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(Param("k")).union_all(Query.from_(ITEMS).select(ITEMS.qty))
    async with scratch(pair) as txs:
        await one_row(txs, qty=7)
        got = await on_both(txs, lambda db: db.fetch_all(query, k=2))
    assert [sorted(canon(r[0]) for r in rows) for rows in got] == [[("int", 2), ("int", 7)]] * 2


async def test_a_param_alone_in_a_select_list_typed_by_another_term_agrees(pair: Pair) -> None:
    k = Param("k")
    query = Query.from_(ITEMS).select(fn.Cast(k, "INTEGER").as_("a"), k)
    async with scratch(pair) as txs:
        await one_row(txs)
        got = await on_both(txs, lambda db: db.fetch_all(query, k=1))
    expected = [(("a", "?column?"), (("int", 1), ("int", 1)))]
    assert [canon_rows(rows) for rows in got] == [expected] * 2


@pytest.mark.parametrize(
    ("column", "value", "stored"),
    [
        (ITEMS.qty, ITEMS.price, 3),
        (ITEMS.qty, ITEMS.ratio * 5, 12),
        (ITEMS.qty, fn.Cast(ITEMS.name, "NUMERIC"), 13),
        (ITEMS.price, ITEMS.ratio * 3, Decimal("7.5")),
    ],
    ids=[
        "decimal into bigint",
        "float into bigint",
        "numeric cast into bigint",
        "float into decimal",
    ],
)
async def test_an_expression_assigned_to_a_column_is_converted_as_on_postgresql(
    pair: Pair, column: Any, value: Any, stored: Any
) -> None:
    """PostgreSQL rounds a decimal or float into an integer column; SQLite would keep it
    as a float there."""
    update = Query.update(ITEMS).set(column, value)
    read = Query.from_(ITEMS).select(column)
    async with scratch(pair) as txs:
        await one_row(txs, name="12.5", price=Decimal("2.50"), ratio=2.5)
        for tx in txs:
            await tx.execute(update)
        got = await on_both(txs, fetch_val(read))
    assert [canon(v) for v in got] == [canon(stored)] * 2


async def test_an_expression_beyond_a_32_bit_column_is_refused_on_both(pair: Pair) -> None:
    counts = dualdb.Table("counts")
    async with scratch(pair) as txs:
        for tx in txs:
            ty = tx.dialect.column_type
            await tx.execute(
                dualdb.raw(f"CREATE TABLE counts (id {ty('bigint')}, n {ty('integer')})")
            )
            await tx.execute(Query.into(counts).columns(counts.id, counts.n).insert(1, 5))
        update = Query.update(counts).set(counts.n, fn.Cast(counts.id * 3_000_000_000, "BIGINT"))
        got = await on_both(txs, lambda db: db.execute(update))
    assert got == [("raises", "DataError")] * 2


@pytest.mark.parametrize("value", [Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
async def test_a_decimal_that_is_no_number_is_a_data_error_against_an_integer(
    pair: Pair, value: Decimal
) -> None:
    """(SQLite's binding raised a raw decimal.InvalidOperation.)"""
    query = Query.from_(ITEMS).select(ITEMS.id).where(ITEMS.qty == Param("k"))
    got = await on_both((pair.sqlite, pair.postgresql), lambda db: db.fetch_all(query, k=value))
    assert got == [("raises", "DataError")] * 2


@pytest.mark.parametrize(
    "build",
    [
        lambda: Query.from_(ITEMS).select(fn.Count("*")).having(fn.Sum(ITEMS.price * 2) > 0),
        lambda: Query.from_(ITEMS).select(fn.Count("*")).having(fn.Sum(fn.Abs(ITEMS.price)) < 1),
        lambda: (
            Query.from_(ITEMS)
            .select(ITEMS.id)
            .where(fn.Coalesce(ITEMS.price, ITEMS.qty) > 2)
            .orderby(ITEMS.id)
        ),
        lambda: (
            Query.from_(ITEMS)
            .select(ITEMS.id)
            .where(Case().when(ITEMS.qty > 6, ITEMS.price).else_(ITEMS.qty) == Decimal("2.5"))
            .orderby(ITEMS.id)
        ),
        lambda: (
            Query.from_(ITEMS)
            .select(fn.Coalesce(ITEMS.price, ITEMS.qty).as_("c"), fn.Count("*").as_("n"))
            .groupby(fn.Coalesce(ITEMS.price, ITEMS.qty))
        ),
        lambda: Query.from_(ITEMS).select(fn.Count(fn.Coalesce(ITEMS.price, ITEMS.qty)).distinct()),
    ],
    ids=[
        "HAVING SUM of arithmetic",
        "HAVING SUM of ABS",
        "WHERE COALESCE",
        "WHERE CASE",
        "GROUP BY COALESCE",
        "COUNT DISTINCT COALESCE",
    ],
)
async def test_computed_decimals_compare_and_group_by_value(
    pair: Pair, build: Callable[[], Any]
) -> None:
    """Decimal text from dualdb's arithmetic, aggregates, CASE and COALESCE compares,
    sorts and groups by value on SQLite, as numerics on PostgreSQL (2.50 = 2.5 > 2)."""
    rows = [(1, 5, Decimal("2.50")), (2, 6, Decimal("2.5")), (3, 7, Decimal("-2.5"))]
    query = build()
    async with scratch(pair) as txs:
        for tx in txs:
            for id_, qty, price in rows:
                await tx.execute(
                    Query.into(ITEMS)
                    .columns(ITEMS.id, ITEMS.qty, ITEMS.price)
                    .insert(id_, qty, price)
                )
        sqlite, postgresql = await on_both(txs, fetch_all(query))
    assert sorted(map(str, (canon_rows(sqlite)))) == sorted(map(str, canon_rows(postgresql)))
