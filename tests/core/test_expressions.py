"""Expressions compute the same answer on both backends, and a malformed builder argument
is a QueryError before anything runs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dualdb
from dualdb import Order, Param, Query, Table, fn

T = Table("nums")


@pytest.fixture
async def nums(db: dualdb.Database) -> dualdb.Database:
    ty = db.dialect.column_type
    await db.execute(
        dualdb.raw(
            f"CREATE TABLE nums (id {ty('bigint')} PRIMARY KEY, a {ty('bigint')}, s {ty('text')})"
        )
    )
    insert = Query.into(T).columns(T.id, T.a, T.s).insert(Param("id"), Param("a"), Param("s"))
    await db.execute_many(
        insert, [{"id": 1, "a": 5, "s": "apple"}, {"id": 2, "a": None, "s": "bean"}]
    )
    return db


async def test_like_with_an_alias_in_the_select_list_is_a_bool(nums: dualdb.Database) -> None:
    query = Query.from_(T).select(T.s.like("a%").as_("starts")).orderby(T.id)
    assert [r["starts"] for r in await nums.fetch_all(query)] == [True, False]


def _remainder(x: int, y: int) -> int:
    """PostgreSQL's MOD: the sign of the dividend (truncated division)."""
    r = abs(x) % abs(y)
    return -r if x < 0 else r


@given(
    a=st.integers(-50, 50),
    b=st.integers(-9, 9).filter(bool),
    c=st.integers(-9, 9),
)
async def test_remainder_of_compound_operands_is_computed_as_written(
    nums: dualdb.Database, a: int, b: int, c: int
) -> None:
    await nums.execute(Query.update(T).set(T.a, Param("a")).where(T.id == 1), a=a)
    cases: list[tuple[Any, int]] = [
        ((T.a + c) % Param("b"), _remainder(a + c, b)),
        (T.a % (T.id * Param("b")), _remainder(a, b)),  # id is 1
        ((T.a * 2) % (T.id + Param("b") - 1) + c, _remainder(a * 2, b) + c),
    ]
    for expression, want in cases:
        query = Query.from_(T).select(expression.as_("r")).where(T.id == 1)
        assert await nums.fetch_val(query, b=b) == want


@pytest.mark.parametrize("spelling", ["DESC", "desc", Order.desc])
async def test_order_may_be_given_as_asc_or_desc_text(nums: dualdb.Database, spelling: Any) -> None:
    query = Query.from_(T).select(T.id).orderby(T.a, order=spelling)
    assert [r["id"] for r in await nums.fetch_all(query)] == [2, 1]  # NULLs first descending


@pytest.mark.parametrize("order", ["DESC; DROP TABLE nums", "sideways", 1])
async def test_any_other_order_is_a_query_error(nums: dualdb.Database, order: Any) -> None:
    with pytest.raises(dualdb.QueryError, match="order"):
        await nums.fetch_all(Query.from_(T).select(T.id).orderby(T.a, order=order))


@pytest.mark.parametrize(
    "expression",
    [
        lambda: T.a / 0,
        lambda: T.a / (T.id - 1),  # id is 1
        lambda: (fn.Cast(T.a, "DOUBLE PRECISION") * 1.5) / (T.id - 1),
        lambda: T.a % (T.id - 1),
    ],
    ids=["by a literal", "by an expression", "float", "remainder"],
)
async def test_division_by_zero_is_a_data_error_on_both(
    nums: dualdb.Database, expression: Any
) -> None:
    query = Query.from_(T).select(expression().as_("r")).where(T.id == 1)
    with pytest.raises(dualdb.DataError, match="division by zero"):
        await nums.fetch_val(query)
    assert await nums.fetch_val(Query.from_(T).select((T.a / 2).as_("r")).where(T.id == 1)) == 2


@pytest.mark.parametrize(
    "expression",
    [lambda: T.a / T.a, lambda: T.a / 0, lambda: T.a % 0, lambda: (T.a + 1) / (T.id - 2)],
    ids=["by NULL", "NULL by zero", "NULL remainder by zero", "an expression by zero"],
)
async def test_division_of_null_is_null_on_both_even_by_zero(
    nums: dualdb.Database, expression: Any
) -> None:
    """PostgreSQL's division of NULL is NULL, whatever the divisor."""
    query = Query.from_(T).select(expression().as_("r")).where(T.id == 2)  # a is NULL
    assert await nums.fetch_val(query) is None


@pytest.mark.parametrize(
    "write",
    [
        lambda: Query.update(T).set(T.s, "pear").where(T.id == 1),
        lambda: Query.from_(T).delete().where(T.id == 1),
    ],
    ids=["update", "delete"],
)
async def test_returning_the_tables_star_returns_its_row_on_both(
    nums: dualdb.Database, write: Any
) -> None:
    row = await nums.fetch_one(write().returning(T.star))
    assert row is not None and row["id"] == 1 and row["a"] == 5
