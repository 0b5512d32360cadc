"""The compiled-SQL cache on query objects never serves SQL for a query that has changed.

PyPika builders made with ``immutable=False`` change in place, some PyPika objects share
lists with the copies derived from them, and a derived query can land at the address of
its dead ancestor: in each case the SQL that runs must be the query's current SQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypika import Case
from pypika.terms import AnalyticFunction

import dualdb
from dualdb import Param, Query, Table
from dualdb.dialects import get_dialect
from dualdb.sql.compile import compile_query

t = Table("t")


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def sql_of(query: object, dialect: str) -> str:
    return compile_query(query, get_dialect(dialect)).sql


async def test_where_added_in_place_after_compiling_a_delete_is_honoured(
    db: dualdb.Database,
) -> None:
    await db.execute(dualdb.raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    for i in (1, 2, 3):
        await db.execute(Query.into(t).columns(t.id).insert(Param("id")), id=i)
    delete = Query.from_(t, immutable=False).delete()
    db.compile(delete)
    delete.where(t.id == 1)
    assert await db.execute(delete) == 1
    assert await db.fetch_val(Query.from_(t).select(dualdb.fn.Count("*"))) == 2


async def test_mutable_builder_runs_its_current_sql_after_each_change(
    db: dualdb.Database,
) -> None:
    await db.execute(dualdb.raw("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    for i in (1, 2, 3):
        await db.execute(Query.into(t).columns(t.id).insert(Param("id")), id=i)
    select = Query.from_(t, immutable=False).select(t.id).orderby(t.id)
    assert [r["id"] for r in await db.fetch_all(select)] == [1, 2, 3]
    select.where(t.id > 1)
    assert [r["id"] for r in await db.fetch_all(select)] == [2, 3]
    select.limit(1)
    assert [r["id"] for r in await db.fetch_all(select)] == [2]


def test_mutable_builder_is_never_cached(dialect: str) -> None:
    q = Query.from_(t, immutable=False).select(t.id)
    assert compile_query(q, get_dialect(dialect)) is not compile_query(q, get_dialect(dialect))


def test_mutable_subquery_changed_after_compiling_the_outer_query_is_rendered(dialect: str) -> None:
    inner = Query.from_(t, immutable=False).select(t.id)
    outer = Query.from_(t).select(t.id).where(t.id.isin(inner))
    sql_of(outer, dialect)
    inner.where(t.flag == Param("flag"))
    assert "flag" in sql_of(outer, dialect)


def test_query_derived_twice_from_a_dead_compiled_query_gets_its_own_sql(dialect: str) -> None:
    # The second copy is typically allocated where the first, dead, query lived.
    for _ in range(50):
        q = Query.from_(t).select(t.id)
        sql_of(q, dialect)
        q = q.where(t.a == Param("a"))
        q = q.limit(5)
        assert sql_of(q, dialect).endswith("LIMIT 5")


def test_set_operation_extended_after_compiling_renders_every_member(dialect: str) -> None:
    union = Query.from_(t).select(t.a) + Query.from_(t).select(t.b)
    sql_of(union, dialect)
    union + Query.from_(t).select(t.c)  # PyPika appends to a list `union` shares
    assert sql_of(union, dialect) == sql_of(
        Query.from_(t).select(t.a) + Query.from_(t).select(t.b) + Query.from_(t).select(t.c),
        dialect,
    )


def test_case_extended_after_compiling_its_query_renders_the_new_branch(dialect: str) -> None:
    case = Case().when(t.a == 1, "one")
    query = Query.from_(t).select(case)
    sql_of(query, dialect)
    case.when(t.a == 2, "two")  # PyPika appends to a list `query`'s Case shares
    assert sql_of(query, dialect).count("WHEN") == 2


def test_window_function_extended_after_compiling_its_query_renders_the_partition(
    dialect: str,
) -> None:
    rank = AnalyticFunction("RANK").over(t.a)
    query = Query.from_(t).select(rank)
    sql_of(query, dialect)
    rank.over(t.b)
    assert "PARTITION BY `a`,`b`" in sql_of(query, dialect).replace('"', "`")


def test_unchanged_case_query_is_served_from_the_cache(dialect: str) -> None:
    query = Query.from_(t).select(Case().when(t.a == 1, "one").else_("other"))
    assert compile_query(query, get_dialect(dialect)) is compile_query(query, get_dialect(dialect))


# One in-place step: (method name, arguments) applied to a mutable builder and replayed
# on an immutable one, whose SQL is the expected SQL.
_steps = st.one_of(
    st.tuples(st.just("where"), st.sampled_from(["a", "b", "c"]), st.integers(0, 9)),
    st.tuples(st.just("limit"), st.integers(1, 9)),
    st.tuples(st.just("offset"), st.integers(0, 9)),
    st.tuples(st.just("orderby"), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("select"), st.sampled_from(["a", "b", "c"])),
)


def _apply(query: Any, step: tuple[Any, ...]) -> Any:
    match step:
        case ("where", column, value):
            return query.where(t.field(column) == value)
        case ("limit" | "offset" as method, n):
            return getattr(query, method)(n)
        case (method, column):
            return getattr(query, method)(t.field(column))
    raise AssertionError(step)


@given(steps=st.lists(_steps, max_size=8))
def test_sequence_of_in_place_changes_always_compiles_to_the_current_sql(
    steps: list[tuple[Any, ...]], dialect: str
) -> None:
    mutable = Query.from_(t, immutable=False).select(t.id)
    expected = Query.from_(t).select(t.id)
    for step in steps:
        _apply(mutable, step)
        expected = _apply(expected, step)
        compiled = compile_query(mutable, get_dialect(dialect))
        fresh = compile_query(expected, get_dialect(dialect))
        assert (compiled.sql, compiled.arguments({})) == (fresh.sql, fresh.arguments({}))


@given(steps=st.lists(_steps, min_size=1, max_size=8))
def test_rebinding_a_compiled_query_to_derived_ones_always_compiles_to_the_current_sql(
    steps: list[tuple[Any, ...]], dialect: str
) -> None:
    query = Query.from_(t).select(t.id)
    for done, step in enumerate(steps, 1):
        compile_query(query, get_dialect(dialect))
        query = _apply(query, step)
        expected = Query.from_(t).select(t.id)
        for replayed in steps[:done]:
            expected = _apply(expected, replayed)
        compiled = compile_query(query, get_dialect(dialect))
        fresh = compile_query(expected, get_dialect(dialect))
        assert (compiled.sql, compiled.arguments({})) == (fresh.sql, fresh.arguments({}))
