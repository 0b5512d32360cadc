"""Generated queries over generated tables give the same rows, in the same order, on both.

Rows are drawn from small pools of values (so that filters match some rows and ties
happen), including NULLs, the 64-bit edges, look-alike texts and LIKE metacharacters.
Filters are trees of AND/OR/NOT over comparisons, IN, BETWEEN, LIKE (with escapes) and
IS [NOT] NULL; every ORDER BY has a NULL-holding key and ends with a tie-break on the
primary key, so the order is fully determined.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from _differential import (
    INSERT_ITEM,
    ITEM_COLUMNS,
    ITEMS,
    TAGS,
    Pair,
    canon_rows,
    examples,
    scratch,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pypika import Order
from pypika import analytics as an
from pypika.terms import Criterion, Not

from dualdb import Param, Query, escape_like, fn

_U = [uuid.UUID(int=n) for n in (0, 1, 2**127, 2**128 - 1)] + [uuid.UUID(int=0xABC << 64)]
_T = [
    datetime(2021, 11, 7, 1, 30, tzinfo=timezone(timedelta(hours=-4))),
    datetime(2021, 11, 7, 5, 30, tzinfo=UTC),  # the same instant as above
    datetime(1, 1, 1, 12, tzinfo=UTC),
    datetime(9999, 12, 31, 12, tzinfo=UTC),
    datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=14))),
]

#: Values a column holds, and values it is compared with (the pool plus a few misses).
POOLS: dict[str, list[Any]] = {
    "name": ["a", "A", "ab", "aB", "b", "", "é", "e\u0301", "É", "z", "a%b", "a_b", "a\\b", "👍"],
    "qty": [-(2**63), -7, -1, 0, 1, 2, 7, 2**31, 2**63 - 1],
    "flag": [True, False],
    "at": _T,
    "day": [date(1, 1, 1), date(1999, 12, 31), date(2000, 1, 1), date(9999, 12, 31)],
    "uid": _U,
    "ratio": [float("-inf"), -1.5, 0.0, 0.1, 1.0, 2.5, 1e300, float("inf")],
    # Same-scale decimals only: SQLite compares them as text (a declared difference),
    # which agrees with numeric equality exactly when the scales are equal.
    "price": [Decimal("0.00"), Decimal("1.10"), Decimal("2.50"), Decimal("-3.25")],
}
PROBES: dict[str, list[Any]] = {
    **POOLS,
    "name": [*POOLS["name"], "aa", "Z", "ä", "👍🏽"],
    "qty": [*POOLS["qty"], 3, -(2**63) + 1],
    "ratio": [*POOLS["ratio"], 0.5],
}
#: Comparisons with NULL (``x < NULL``, ``x IN (1, NULL)``) are unknown on both.
PROBES = {column: [*values, None] for column, values in PROBES.items()}
ORDERABLE = ["name", "qty", "flag", "at", "day", "uid", "ratio"]
#: SQLite compares stored decimals as text: equality is portable, ordering is not.
EQUALITY_ONLY = ["price"]

pool_rows = st.lists(
    st.fixed_dictionaries({c: st.none() | st.sampled_from(POOLS[c]) for c in POOLS}),
    max_size=10,
)


def _comparison(column: str) -> st.SearchStrategy[Criterion]:
    field = ITEMS.field(column)
    probe = st.sampled_from(PROBES[column])
    ops = ["==", "!="] if column in EQUALITY_ONLY else ["==", "!=", "<", "<=", ">", ">="]

    def compare(op: str, value: object) -> Criterion:
        return {
            "==": field == value,
            "!=": field != value,
            "<": field < value,
            "<=": field <= value,
            ">": field > value,
            ">=": field >= value,
        }[op]

    shapes = [
        st.builds(compare, st.sampled_from(ops), probe),
        st.builds(lambda vs: field.isin(vs), st.lists(probe, max_size=3)),
        st.builds(lambda vs: field.notin(vs), st.lists(probe, max_size=3)),
        st.just(field.isnull()),
        st.just(field.notnull()),
    ]
    if column not in EQUALITY_ONLY:
        shapes.append(st.builds(lambda lo, hi: field.between(lo, hi), probe, probe))
    return st.one_of(shapes)


_LIKE_PIECES = ["%", "_", "a", "A", "b", "é", "e", "\u0301", "👍", "\\%", "\\_", "\\\\"]
like_patterns = st.lists(st.sampled_from(_LIKE_PIECES), max_size=4).map("".join) | st.builds(
    lambda text, tail: escape_like(text) + tail,
    st.sampled_from(POOLS["name"]),
    st.sampled_from(["", "%", "_"]),
)
_likes = st.builds(lambda p: ITEMS.name.like(p), like_patterns) | st.builds(
    lambda p: ITEMS.name.not_like(p), like_patterns
)

leaves = st.one_of(*(_comparison(c) for c in POOLS), _likes)
filters = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        st.builds(Not, inner),
    ),
    max_leaves=6,
)


async def _fill(tx: Any, rows: list[dict[str, Any]]) -> None:
    for number, row in enumerate(rows, 1):
        values = dict.fromkeys(ITEM_COLUMNS) | row
        await tx.execute(INSERT_ITEM, id=number, **values)


async def _both(pair: Pair, rows: list[dict[str, Any]], *queries: Any) -> list[list[Any]]:
    """Fill both databases with ``rows`` (in a rolled-back transaction); run each query on
    both; return [[sqlite results], [postgresql results]] in canonical form."""
    out: list[list[Any]] = []
    async with scratch(pair) as backends:
        for tx in backends:
            await _fill(tx, rows)
            out.append([canon_rows(await tx.fetch_all(q)) for q in queries])
    return out


@settings(max_examples=examples(2000))
@given(
    rows=pool_rows,
    where=filters,
    key=st.sampled_from(ORDERABLE),
    order=st.sampled_from([None, Order.asc, Order.desc]),
    limit=st.none() | st.integers(0, 6),
    offset=st.integers(0, 3),
)
@example(  # SQLite's grammar has no OFFSET without LIMIT
    rows=[{"name": "a"}, {"name": "b"}],
    where=ITEMS.name.notnull(),
    key="name",
    order=None,
    limit=None,
    offset=1,
)
@example(  # NULLs sort first on SQLite unless dualdb says NULLS LAST
    rows=[{"name": None}, {"name": "a"}],
    where=ITEMS.name.isnull() | ITEMS.name.notnull(),
    key="name",
    order=None,
    limit=None,
    offset=0,
)
@example(  # ... and last descending unless it says NULLS FIRST
    rows=[{"qty": None}, {"qty": 1}],
    where=ITEMS.qty.isnull() | (ITEMS.qty > -1),
    key="qty",
    order=Order.desc,
    limit=None,
    offset=0,
)
@example(  # code point order: 'Z' < 'a' < 'é' < '👍' under C.UTF-8 and SQLite's BINARY
    rows=[{"name": n} for n in ("é", "a", "Z", "e\u0301", "👍", "A")],
    where=ITEMS.name.notnull(),
    key="name",
    order=Order.asc,
    limit=None,
    offset=0,
)
@example(  # LIKE is case-sensitive, '_' is one code point, '\' escapes on both
    rows=[{"name": n} for n in ("a_b", "aXb", "A_b", "e\u0301", "é")],
    where=ITEMS.name.like("a\\_%") | ITEMS.name.like("e_") | ITEMS.name.like("_"),
    key="name",
    order=Order.asc,
    limit=None,
    offset=0,
)
async def test_filtered_sorted_page_is_the_same_on_both(
    pair: Pair,
    rows: list[dict[str, Any]],
    where: Criterion,
    key: str,
    order: Order | None,
    limit: int | None,
    offset: int,
) -> None:
    field = ITEMS.field(key)
    q = Query.from_(ITEMS).select(ITEMS.id, field).where(where)
    q = (q.orderby(field) if order is None else q.orderby(field, order=order)).orderby(ITEMS.id)
    if limit is not None:
        q = q.limit(limit)
    if offset:
        q = q.offset(offset)
    sqlite, postgresql = await _both(pair, rows, q)
    assert sqlite == postgresql


@settings(max_examples=examples(1000))
@given(rows=pool_rows, where=filters)
@example(rows=[{"qty": None}, {"qty": 1}], where=Not(ITEMS.qty == 1))  # NOT of unknown
async def test_three_valued_logic_matches(
    pair: Pair, rows: list[dict[str, Any]], where: Criterion
) -> None:
    """WHERE c, WHERE NOT c and WHERE c IS NULL split the rows the same way on both."""
    base = Query.from_(ITEMS).select(ITEMS.id).orderby(ITEMS.id)
    sqlite, postgresql = await _both(pair, rows, base.where(where), base.where(Not(where)))
    assert sqlite == postgresql


tag_rows = st.lists(
    st.fixed_dictionaries(
        {
            "item_id": st.none() | st.integers(1, 6),
            "label": st.none() | st.sampled_from(["x", "y", "X", "", "ÿ"]),
            "weight": st.none() | st.integers(-100, 100),
        }
    ),
    max_size=10,
)
group_rows = st.lists(
    st.fixed_dictionaries(
        {
            "grp": st.none() | st.sampled_from(["g1", "g2", "G", ""]),
            "name": st.none() | st.sampled_from(POOLS["name"]),
            "qty": st.none() | st.integers(-1000, 1000),
            "at": st.none() | st.sampled_from(_T),
            "ratio": st.none() | st.sampled_from([-1.5, 0.0, 0.25, 2.5]),
        }
    ),
    max_size=8,
)

_COUNT = fn.Count("*").as_("n")
_SUM = fn.Cast(fn.Sum(ITEMS.qty), "BIGINT").as_("total")  # the portable SUM (see docs)
_AVG = fn.Cast(fn.Avg(ITEMS.qty), "DOUBLE PRECISION").as_("mean")  # the portable AVG


@settings(max_examples=examples(600))
@given(items=group_rows, tags=tag_rows, having=st.integers(0, 3))
async def test_joins_and_aggregates_are_the_same_on_both(
    pair: Pair, items: list[dict[str, Any]], tags: list[dict[str, Any]], having: int
) -> None:
    grouped = (
        Query.from_(ITEMS)
        .select(
            ITEMS.grp,
            _COUNT,
            fn.Count(ITEMS.name).as_("names"),
            fn.Min(ITEMS.name).as_("first"),
            fn.Max(ITEMS.qty).as_("top"),
            fn.Min(ITEMS.at).as_("earliest"),
            fn.Max(ITEMS.ratio).as_("widest"),
            _SUM,
            fn.Count(ITEMS.qty).distinct().as_("distinct_qty"),
        )
        .groupby(ITEMS.grp)
        .having(fn.Count("*") >= having)
        .orderby(ITEMS.grp)
    )
    left = (
        Query.from_(ITEMS)
        .left_join(TAGS)
        .on(TAGS.item_id == ITEMS.id)
        .select(ITEMS.id, ITEMS.name, TAGS.label, TAGS.weight)
        .orderby(ITEMS.id)
        .orderby(TAGS.weight, order=Order.desc)
        .orderby(TAGS.id)
    )
    inner = (
        Query.from_(ITEMS)
        .join(TAGS)
        .on((TAGS.item_id == ITEMS.id) & (TAGS.weight > 0))
        .select(
            ITEMS.grp,
            fn.Count(TAGS.id).as_("tags"),
            fn.Cast(fn.Sum(TAGS.weight), "BIGINT").as_("weight"),
            fn.Max(TAGS.label).as_("label"),
        )
        .groupby(ITEMS.grp)
        .orderby(ITEMS.grp, order=Order.desc)
    )
    subquery = (
        Query.from_(ITEMS)
        .select(ITEMS.id)
        .where(ITEMS.id.isin(Query.from_(TAGS).select(TAGS.item_id).where(TAGS.label.notnull())))
        .orderby(ITEMS.id)
    )
    # A literal is bound once per occurrence; PostgreSQL only matches a GROUP BY
    # expression to the select list when both use the same placeholder, i.e. a Param.
    bucket = ITEMS.qty % Param("m")
    averaged = Query.from_(ITEMS).select(_AVG, bucket.as_("r")).where(ITEMS.qty.notnull())
    averaged = averaged.groupby(bucket).orderby(bucket)
    ranked = (
        Query.from_(ITEMS)
        .select(
            ITEMS.id,
            an.RowNumber().over(ITEMS.grp).orderby(ITEMS.qty).orderby(ITEMS.id).as_("rank"),
            an.Max(ITEMS.qty).over(ITEMS.grp).as_("group_top"),
        )
        .orderby(ITEMS.id)
    )
    distinct = Query.from_(ITEMS).select(ITEMS.grp, ITEMS.name).distinct()
    distinct = distinct.orderby(ITEMS.grp).orderby(ITEMS.name)
    out: list[list[Any]] = []
    async with scratch(pair) as backends:
        for tx in backends:
            await _fill(tx, items)
            for number, tag in enumerate(tags, 1):
                await tx.execute(
                    Query.into(TAGS)
                    .columns(TAGS.id, TAGS.item_id, TAGS.label, TAGS.weight)
                    .insert(number, tag["item_id"], tag["label"], tag["weight"])
                )
            out.append(
                [
                    canon_rows(await tx.fetch_all(q))
                    for q in (grouped, left, inner, subquery, ranked, distinct)
                ]
                + [canon_rows(await tx.fetch_all(averaged, m=7))]
            )
    assert out[0] == out[1]


@settings(max_examples=examples(300))
@given(rows=pool_rows, size=st.integers(1, 4))
async def test_keyset_pages_cover_every_row_once_in_the_same_order(
    pair: Pair, rows: list[dict[str, Any]], size: int
) -> None:
    """Paging by (name, id) after the last row seen gives the same pages on both."""
    page = (
        Query.from_(ITEMS)
        .select(ITEMS.id, ITEMS.name)
        .where(
            ITEMS.name.notnull()
            & (
                (ITEMS.name > Param("name"))
                | ((ITEMS.name == Param("name")) & (ITEMS.id > Param("id")))
            )
        )
        .orderby(ITEMS.name)
        .orderby(ITEMS.id)
        .limit(size)
    )
    seen: list[list[Any]] = []
    async with scratch(pair) as backends:
        for tx in backends:
            await _fill(tx, rows)
            after: tuple[str, int] = ("", 0)
            collected: list[Any] = []
            while True:
                batch = await tx.fetch_all(page, name=after[0], id=after[1])
                if not batch:
                    break
                collected += [(r["id"], r["name"]) for r in batch]
                after = (batch[-1]["name"], batch[-1]["id"])
            seen.append(collected)
    assert seen[0] == seen[1]
    assert sorted(i for i, _ in seen[0]) == sorted(
        n for n, row in enumerate(rows, 1) if row["name"] is not None
    )


set_operations = st.sampled_from(["union", "union_all", "intersect", "except_of"])
directions = st.sampled_from([Order.asc, Order.desc])


@settings(max_examples=examples(600))
@given(
    rows=pool_rows,
    first=filters,
    second=filters,
    operation=set_operations,
    order=directions,
)
async def test_set_operations_are_the_same_on_both(
    pair: Pair,
    rows: list[dict[str, Any]],
    first: Criterion,
    second: Criterion,
    operation: str,
    order: Order,
) -> None:
    """UNION [ALL] / INTERSECT / EXCEPT of two filtered SELECTs, ordered as a whole
    (SQLite takes the members without parentheses; dualdb renders them so)."""
    left = Query.from_(ITEMS).select(ITEMS.name, ITEMS.qty).where(first)
    right = Query.from_(ITEMS).select(ITEMS.name, ITEMS.qty).where(second)
    combined = getattr(left, operation)(right).orderby(ITEMS.name, order=order)
    combined = combined.orderby(ITEMS.qty)
    sqlite, postgresql = await _both(pair, rows, combined)
    assert sqlite == postgresql


@settings(max_examples=examples(300))
@given(
    rows=pool_rows,
    first=filters,
    second=filters,
    operation=set_operations,
    order=directions,
    limit=st.integers(0, 4),
    offset=st.integers(0, 2),
)
async def test_set_operation_members_with_their_own_order_and_limit_are_the_same_on_both(
    pair: Pair,
    rows: list[dict[str, Any]],
    first: Criterion,
    second: Criterion,
    operation: str,
    order: Order,
    limit: int,
    offset: int,
) -> None:
    """A member's own ORDER BY/LIMIT/OFFSET picks its rows on both (SQLite's grammar has
    no parenthesised members: dualdb selects from such a member as a subquery there)."""
    left = (
        Query.from_(ITEMS)
        .select(ITEMS.name, ITEMS.qty)
        .where(first)
        .orderby(ITEMS.qty, order=order)
        .orderby(ITEMS.id)
        .limit(limit)
        .offset(offset)
    )
    right = Query.from_(ITEMS).select(ITEMS.name, ITEMS.qty).where(second)
    if limit % 2:
        right = right.orderby(ITEMS.id, order=Order.desc).limit(limit)
    combined = getattr(left, operation)(right).orderby(ITEMS.name).orderby(ITEMS.qty)
    sqlite, postgresql = await _both(pair, rows, combined)
    assert sqlite == postgresql


@pytest.mark.parametrize(
    "query",
    [
        Query.from_(ITEMS).select((ITEMS.qty % 3).as_("r")).groupby(ITEMS.qty % 3),
        Query.from_(ITEMS).select(ITEMS.qty % 3).groupby(ITEMS.qty % 3).orderby(ITEMS.qty % 3),
        Query.from_(ITEMS)
        .select((ITEMS.qty % 3).as_("qty"), fn.Count("*").as_("n"))
        .groupby(ITEMS.qty % 3)
        .orderby(ITEMS.qty % 3),
        Query.from_(ITEMS)
        .select(fn.Coalesce(ITEMS.name, "none").as_("g"), fn.Count("*").as_("n"))
        .groupby(fn.Coalesce(ITEMS.name, "none"))
        .orderby(fn.Coalesce(ITEMS.name, "none")),
    ],
    ids=["aliased", "unaliased, ordered", "aliased as a column's name", "a function"],
)
async def test_an_expression_with_literals_in_select_and_group_by_runs_on_both(
    pair: Pair, query: Any
) -> None:
    """Each literal is bound; PostgreSQL matches a GROUP BY (or ORDER BY) expression to the
    select list by its text, placeholders included: dualdb renders an expression written
    twice from the select list's objects, so both share their placeholders. (Grouped by
    the expression, not by a column that its alias names.)"""
    rows: list[dict[str, Any]] = [
        {"qty": 1, "name": None},
        {"qty": 4, "name": "a"},
        {"qty": 2, "name": "a"},
    ]
    [sqlite], [postgresql] = await _both(pair, rows, query)
    assert sorted(sqlite) == sorted(postgresql)
    assert len(sqlite) == 2
