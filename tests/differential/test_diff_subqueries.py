"""A column read through a subquery, a CTE, a join or a scalar subquery has its table
column's type (or the type of what the subquery computes) on both backends.

PostgreSQL types a subquery's result columns; SQLite does not, so dualdb follows each
such column to where the subquery reads or computes it. Before, ``sub.price * 2`` was
binary floating point on SQLite (``18.2`` for ``9.10 * 2`` could come back as
``18.199999999999999``), a decimal read through a CTE sorted as text, and a bad value
compared with it went unchecked.
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
    canon_rows,
    examples,
    fetch_all,
    fetch_val,
    on_both,
    scratch,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pypika.queries import AliasedQuery
from pypika.terms import Field, ValueWrapper

from dualdb import Param, Query, Table, fn

pytestmark = pytest.mark.postgresql

#: What the outer queries read: the table's columns, and two the subquery computes.
_INNER = Query.from_(ITEMS).select(
    ITEMS.id,
    ITEMS.qty,
    ITEMS.price,
    ITEMS.ratio,
    ITEMS.uid,
    (ITEMS.price * 2).as_("double"),
    fn.Cast(ITEMS.name, "NUMERIC").as_("parsed"),
)

Column = Callable[[str], Any]


def _through(how: str) -> tuple[Any, Column]:
    """A query reading ``_INNER`` ``how``, and the columns of what it reads."""
    if how == "subquery":
        sub = _INNER.as_("sub")
        return Query.from_(sub), sub.field
    if how == "CTE":
        cte = AliasedQuery("c")
        return Query.with_(_INNER, "c").from_(cte), lambda name: Field(name, table=cte)
    if how == "CTE named as a table":
        table = Table("c")
        return Query.with_(_INNER, "c").from_(table), table.field
    if how == "joined subquery":
        sub = _INNER.as_("sub")
        return Query.from_(ITEMS).join(sub).on(sub.id == ITEMS.id), sub.field
    assert how == "nested subquery"
    sub = _INNER.as_("sub")
    names = ("id", "qty", "price", "ratio", "uid", "double", "parsed")
    outer = Query.from_(sub).select(*(sub.field(n) for n in names)).as_("outer")
    return Query.from_(outer), outer.field


WAYS = ("subquery", "CTE", "CTE named as a table", "joined subquery", "nested subquery")

#: Arithmetic on what a subquery reads (``k`` is bound as a Param).
EXPRESSIONS: dict[str, Callable[[Column], Any]] = {
    "price * 2": lambda c: c("price") * 2,
    "price / 3": lambda c: c("price") / 3,
    "price + :k": lambda c: c("price") + Param("k"),
    "-price": lambda c: -c("price"),
    "qty * :k": lambda c: c("qty") * Param("k"),
    "qty + 1": lambda c: c("qty") + 1,
    "double - price": lambda c: c("double") - c("price"),
    "parsed * 2": lambda c: c("parsed") * 2,
    "ratio * 2": lambda c: c("ratio") * 2,
    "ABS(price)": lambda c: fn.Abs(c("price")),
    "SUM(price)": lambda c: fn.Sum(c("price")),
}

some_decimals = st.builds(
    lambda n, places: Decimal(n).scaleb(-places),
    st.integers(-(10**20), 10**20) | st.integers(-1200, 1200),
    st.integers(0, 4),
)


async def _row(txs: Any, **values: Any) -> None:
    columns = ("id", "name", "qty", "price", "ratio", "uid")
    query = Query.into(ITEMS).columns(*columns).insert(*(Param(c) for c in columns))
    row = {"id": 1, "name": None, "qty": None, "price": None, "ratio": None, "uid": None}
    for tx in txs:
        await tx.execute(query, **{**row, **values})


@settings(max_examples=examples(150))
@given(
    how=st.sampled_from(WAYS),
    expression=st.sampled_from(sorted(EXPRESSIONS)),
    price=st.none() | some_decimals,
    qty=st.none() | st.integers(-(2**63), 2**63 - 1) | st.integers(-1000, 1000),
    k=some_decimals | st.integers(-1000, 1000),
)
async def test_arithmetic_on_a_column_read_through_a_query_agrees(
    pair: Pair, how: str, expression: str, price: Any, qty: Any, k: Any
) -> None:
    """Decimals stay exact, integers overflow alike, and a Param takes the column's type."""
    query, column = _through(how)
    query = query.select(EXPRESSIONS[expression](column).as_("v"))
    async with scratch(pair) as txs:
        await _row(txs, price=price, qty=qty, ratio=1.5, name="12.50")
        agree(await on_both(txs, fetch_val(query, k=k)))


@pytest.mark.parametrize("how", WAYS)
async def test_a_decimal_read_through_a_query_sorts_and_compares_by_value(
    pair: Pair, how: str
) -> None:
    """'10.00' sorts after '9.5' (as text it sorts before '9.00')."""
    query, column = _through(how)
    ordered = query.select(column("id")).orderby(column("price")).orderby(column("id"))
    above = query.select(column("id")).where(column("price") > Param("p")).orderby(column("id"))
    largest = query.select(fn.Max(column("price")).as_("v"))
    async with scratch(pair) as txs:
        for tx in txs:
            for id_, price in ((1, "10.00"), (2, "9.00"), (3, "9.5")):
                insert = Query.into(ITEMS).columns(ITEMS.id, ITEMS.price)
                await tx.execute(insert.insert(id_, Decimal(price)))
        for rows in (fetch_all(ordered), fetch_all(above, p=Decimal("9.1"))):
            sqlite, postgresql = await on_both(txs, rows)
            assert canon_rows(sqlite) == canon_rows(postgresql)
        agree(await on_both(txs, fetch_val(largest)))
        assert [r["id"] for r in await txs[0].fetch_all(ordered)] == [2, 3, 1]


@pytest.mark.parametrize(
    ("column", "value"),
    [("price", "abc"), ("uid", "not-a-uuid"), ("qty", 2**63)],
    ids=["text for a decimal", "text for a uuid", "an int beyond a bigint"],
)
@pytest.mark.parametrize("how", WAYS)
async def test_a_bad_value_compared_with_a_column_read_through_a_query_is_a_data_error(
    pair: Pair, how: str, column: str, value: Any
) -> None:
    query, read = _through(how)
    query = query.select(read("id")).where(read(column) == Param("v"))
    async with scratch(pair) as txs:
        await _row(txs, price=Decimal("1.5"))
        outcomes = await on_both(txs, fetch_all(query, v=value))
    assert outcomes == [("raises", "DataError")] * 2


async def test_a_scalar_subquery_operand_has_the_type_of_what_it_selects(pair: Pair) -> None:
    largest = Query.from_(ITEMS).select(fn.Max(ITEMS.price))
    query = Query.from_(ITEMS).select((ITEMS.price * largest).as_("v"))
    async with scratch(pair) as txs:
        await _row(txs, price=Decimal("9.10"))
        outcomes = await on_both(txs, fetch_val(query))
        agree(outcomes)
    assert outcomes[0] == Decimal("82.8100")


async def test_a_cte_reading_itself_is_an_error_on_both_not_a_hang(pair: Pair) -> None:
    """A CTE that names itself (no RECURSIVE) is PostgreSQL's error; following its
    columns on SQLite stops at the cycle."""
    c = Table("c")
    inner = Query.from_(c).select((c.price * 2).as_("price"))
    query = Query.with_(inner, "c").from_(c).select((c.price * 2).as_("v"))
    async with scratch(pair) as txs:
        outcomes = await on_both(txs, fetch_val(query))
    assert outcomes[0][0] == outcomes[1][0] == "raises"
    assert outcomes[0][1] == outcomes[1][1]


# ------------------------------------------------------------------- one type per Param

#: Uses of a Param ``k`` that type it, each in the select list or in WHERE.
OTHER = Table("items", alias="other")

PARAM_USES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "JOIN ON other.price > :k": ("join", lambda k: OTHER.price > k),
    "JOIN ON other.qty < :k": ("join", lambda k: OTHER.qty < k),
    "qty > :k": ("where", lambda k: ITEMS.qty > k),
    "price = :k": ("where", lambda k: ITEMS.price == k),
    "ratio < :k": ("where", lambda k: ITEMS.ratio < k),
    "price * :k": ("select", lambda k: ITEMS.price * k),
    "ratio * :k": ("select", lambda k: ITEMS.ratio * k),
    "qty * :k": ("select", lambda k: ITEMS.qty * k),
    ":k + 1": ("select", lambda k: k + 1),
    ":k * 1.5": ("select", lambda k: k * 1.5),
    "CAST(:k AS INTEGER)": ("select", lambda k: fn.Cast(k, "INTEGER")),
}

param_values = (
    st.integers(-1000, 1000)
    | st.sampled_from((2**31, 2**63 - 1, 2**63))
    | some_decimals
    | st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 2) + 0.0)
    | st.sampled_from(("3", "2.5", "abc"))
)


@settings(max_examples=examples(200))
@given(
    uses=st.lists(st.sampled_from(sorted(PARAM_USES)), min_size=2, max_size=3, unique=True),
    value=param_values,
)
@example(  # a row filtered out: PostgreSQL may still evaluate the CAST while planning
    uses=["CAST(:k AS INTEGER)", "JOIN ON other.price > :k", "price = :k"], value=2**31
)
async def test_a_param_used_twice_has_the_type_its_first_use_gives_it(
    pair: Pair, uses: list[str], value: Any
) -> None:
    """PostgreSQL types a parameter once (JOIN before the select list before WHERE, each
    in text order) and converts it to what each other use needs; on SQLite a value the
    first use refuses is refused, and one it takes is taken everywhere (before, each use
    checked the value against its own column, or, for ``:k + 1``, not at all)."""
    k = Param("k")
    query = Query.from_(ITEMS)
    joined = [PARAM_USES[use][1](k) for use in uses if PARAM_USES[use][0] == "join"]
    if joined:
        on = joined[0]
        for term in joined[1:]:
            on &= term
        # (LEFT: a row whatever :k is. With no row, PostgreSQL may still evaluate a
        # CAST of a parameter while planning, where SQLite evaluates nothing.)
        query = query.left_join(OTHER).on(on)
    query = query.select(ITEMS.id)
    for use in uses:
        clause, build = PARAM_USES[use]
        term = build(k)
        if clause == "select":
            query = query.select(term.as_(f"v{len(query._selects)}"))
        elif clause == "where":
            # (OR TRUE: the row stays, whatever :k is; see the LEFT JOIN above.)
            query = query.where(term | ValueWrapper(True))
    async with scratch(pair) as txs:
        await _row(txs, qty=3, price=Decimal("2.5"), ratio=2.5)
        sqlite, postgresql = await on_both(txs, fetch_all(query, k=value))
    if isinstance(postgresql, tuple) or isinstance(sqlite, tuple):
        assert sqlite == postgresql
    else:
        assert canon_rows(sqlite) == canon_rows(postgresql)


@pytest.mark.parametrize(
    "value", [3, Decimal("2.5"), 2.5, "2"], ids=["int", "decimal", "float", "str"]
)
@pytest.mark.parametrize("where", ["join", "from subquery"])
async def test_a_param_in_from_or_join_is_typed_before_the_select_list(
    pair: Pair, value: Any, where: str
) -> None:
    """PostgreSQL's parser reads FROM and its JOINs before the select list: ``:k`` meeting
    a decimal in a JOIN's ON is a numeric in ``qty * :k`` too (dualdb used to follow the
    text, typing it by the select list's bigint and refusing 2.5 on SQLite)."""
    k = Param("k")
    other = Table("items", alias="other")
    if where == "join":
        query = (
            Query.from_(ITEMS)
            .join(other)
            .on(other.price > k)
            .select((ITEMS.qty * k).as_("v"))
            .where(ITEMS.id == 1)
        )
    else:
        sub = Query.from_(ITEMS).select(ITEMS.id, ITEMS.qty).where(ITEMS.price > k).as_("sub")
        query = Query.from_(sub).select((sub.qty * k).as_("v"))
    async with scratch(pair) as txs:
        await _row(txs, qty=3, price=Decimal("9.5"))
        agree(await on_both(txs, fetch_val(query, k=value)))
