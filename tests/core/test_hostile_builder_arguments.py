"""No builder argument becomes SQL: what PyPika writes into the SQL text as it is given
(function names, CAST types, date parts, window frames and partitions, CTE names, time
zones, join collations, PyPika's own Parameter, LIMIT terms) is checked, and anything but
a plain name is a ``QueryError`` before anything is sent, on both dialects.

Found by an audit of PyPika's rendering: each of these ran an injected subquery (reading
another table) or, through a CTE name, a DELETE, on both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypika import Interval, JoinType
from pypika import analytics as an
from pypika.enums import SqlTypes
from pypika.queries import AliasedQuery
from pypika.terms import AtTimezone, Function, LiteralValue, Parameter

import dualdb
from dualdb import Param, Query, QueryError, Table, fn, raw
from dualdb.dialects import get_dialect
from dualdb.sql.compile import compile_query

t = Table("users")
u = Table("secrets")
LEAK = "(SELECT 1 FROM secrets)"
HOSTILE = f"x) || {LEAK} || (1"


def sql_of(query: Any, dialect: str) -> str:
    return compile_query(query, get_dialect(dialect)).sql


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


HOSTILE_QUERIES: dict[str, Callable[[], Any]] = {
    "function name": lambda: Query.from_(t).select(Function(f"{LEAK} || abs", t.id)),
    "CAST type": lambda: Query.from_(t).select(fn.Cast(t.id, f"text) || {LEAK} || CAST(1 AS text")),
    "CAST VARCHAR length": lambda: Query.from_(t).select(
        fn.Cast(t.name, SqlTypes.VARCHAR(f"10)) || {LEAK} || (CAST(1 AS VARCHAR(1"))  # type: ignore[arg-type]
    ),
    "EXTRACT date part": lambda: Query.from_(t).select(
        fn.Extract(f"YEAR FROM d) || {LEAK} || EXTRACT(YEAR", t.at)
    ),
    "DATE_ADD date part": lambda: Query.from_(t).select(fn.DateAdd(HOSTILE, 1, t.at)),
    "Interval weeks": lambda: Query.from_(t).select(t.at + Interval(weeks=f"1' || {LEAK} || '")),  # type: ignore[arg-type]
    "time zone": lambda: Query.from_(t).select(AtTimezone(t.at, f"UTC' || {LEAK} || '")),
    "window partition str": lambda: Query.from_(t).select(
        an.Rank().over(f"1) AS r, {LEAK} AS leak, (1")
    ),
    "window frame str": lambda: Query.from_(t).select(
        an.FirstValue(t.id).orderby(t.id).rows(f"UNBOUNDED PRECEDING) AS r, {LEAK} AS leak, (1")  # type: ignore[attr-defined]
    ),
    "window frame edge": lambda: Query.from_(t).select(
        an.FirstValue(t.id).orderby(t.id).rows(an.Preceding(HOSTILE))  # type: ignore[attr-defined]
    ),
    "CTE name": lambda: (
        Query.with_(Query.from_(t).select(t.id), "gone AS (DELETE FROM secrets RETURNING 1), x")
        .from_(t)
        .select(t.id)
    ),
    "CTE reference": lambda: Query.from_(AliasedQuery("secrets; --")).select("*"),
    "join collation": lambda: (
        Query.from_(t).join(u).on(t.name == u.name, collate='"C" OR 1=1').select(t.id)
    ),
    "PyPika Parameter": lambda: Query.from_(t).select(t.id).where(t.id == Parameter("0 OR 1=1")),
    "LIMIT term": lambda: Query.from_(t).select(t.id).limit(LiteralValue("1; DROP TABLE t")),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("construct", sorted(HOSTILE_QUERIES))
def test_a_hostile_builder_argument_is_refused_before_sending(dialect: str, construct: str) -> None:
    query = HOSTILE_QUERIES[construct]()
    with pytest.raises(QueryError):
        sql_of(query, dialect)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Query.from_(t).select(fn.Cast(t.id, "NUMERIC(10, 2)")),
        lambda: Query.from_(t).select(fn.Cast(t.id, SqlTypes.VARCHAR(20))),
        lambda: Query.from_(t).select(fn.Cast(t.id, "DOUBLE PRECISION")),
        lambda: Query.from_(t).select(fn.Cast(t.id, "TIMESTAMP WITH TIME ZONE")),
        lambda: Query.from_(t).select(fn.Cast(t.id, "integer[]")),
        lambda: Query.from_(t).select(Function("my_func", t.id)),
        lambda: Query.from_(t).select(an.Rank().over(t.name).orderby(t.id)),
        lambda: Query.from_(t).select(
            an.Sum(t.id).over(t.name).orderby(t.id).rows(an.Preceding(2), an.CURRENT_ROW)  # type: ignore[attr-defined]
        ),
        lambda: (
            Query.with_(Query.from_(t).select(t.id), "recent")
            .from_(AliasedQuery("recent"))
            .select("*")
        ),
        lambda: Query.from_(t).select(t.id).limit(Param("n")),  # type: ignore[arg-type]
    ],
    ids=[
        "numeric(p,s)",
        "varchar(n)",
        "double precision",
        "timestamp with time zone",
        "array type",
        "function",
        "partition",
        "frame",
        "CTE",
        "LIMIT Param",
    ],
)
def test_plain_names_still_render(dialect: str, build: Callable[[], Any]) -> None:
    assert sql_of(build(), dialect)


def test_a_time_zone_name_still_renders() -> None:
    query = Query.from_(t).select(AtTimezone(t.at, "America/New_York"))
    assert "AT TIME ZONE 'America/New_York'" in sql_of(query, "postgresql")


@settings(max_examples=300)
@given(text=st.text(max_size=40))
def test_any_text_as_a_function_name_or_cast_type_is_refused_or_a_plain_name(text: str) -> None:
    """Whatever the text, it either is refused or appears in the SQL as a name: no
    character that could end the name (quote, parenthesis, semicolon, space...)."""
    for build in (
        lambda: Query.from_(t).select(Function(text, t.id)),
        lambda: Query.from_(t).select(fn.Cast(t.id, text)),
        lambda: Query.with_(Query.from_(t).select(t.id), text).from_(t).select(t.id),
    ):
        for dialect in ("sqlite", "postgresql"):
            try:
                sql_of(build(), dialect)
            except (QueryError, dualdb.UnsupportedFeature):
                continue
            assert not set(text) & set("'\";()-/*\\\n\r\x00`")


async def test_a_hostile_cte_name_deletes_nothing(db: dualdb.Database) -> None:
    """The audit's worst case: a CTE name that deleted every row of another table."""
    await db.execute(raw("CREATE TABLE secrets (pw TEXT)"))
    await db.execute(raw("CREATE TABLE users (id BIGINT, name TEXT)"))
    await db.execute(Query.into(u).columns(u.pw).insert("hunter2"))
    with pytest.raises(QueryError):
        await db.fetch_all(HOSTILE_QUERIES["CTE name"]())
    assert await db.fetch_val(Query.from_(u).select(fn.Count("*"))) == 1


def test_a_join_type_given_as_text_is_a_query_error_not_an_attribute_error(
    dialect: str,
) -> None:
    """PyPika takes the str and fails on it when rendering: a QueryError, never a raw
    AttributeError."""
    query = Query.from_(t).join(u, how="LEFT; DROP").on(t.id == u.id).select(t.id)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="AttributeError"):
        sql_of(query, dialect)
    assert sql_of(Query.from_(t).join(u, how=JoinType.left).on(t.id == u.id).select(t.id), dialect)


async def test_a_quoted_literal_in_ddl_stays_one_literal_whatever_the_server_says(
    database_url: str, backend: str
) -> None:
    """PyPika writes a column default into the DDL as a quoted literal. With
    standard_conforming_strings off (a server's or database's setting), a backslash
    before the quote ended it: dualdb's connections keep the setting on."""
    from pypika import Column

    if backend == "postgresql":
        async with dualdb.connect(database_url) as setup:
            name = await setup.fetch_val(raw("SELECT current_database()"))
            await setup.execute(
                raw(f'ALTER DATABASE "{name}" SET standard_conforming_strings = off')
            )
    hostile = "x\\', injected text) --"
    async with dualdb.connect(database_url) as db:
        await db.execute(Query.create_table("notes").columns(Column("a", "TEXT", default=hostile)))
        await db.execute(Query.into(Table("notes")).columns("a").insert(Param("a")), a="y")
        await db.execute(raw("INSERT INTO notes DEFAULT VALUES"))
        stored = await db.fetch_all(Query.from_(Table("notes")).select("*"))
    assert [tuple(r) for r in stored] == [("y",), (hostile,)]


@pytest.mark.parametrize("order", ["DESC; DROP TABLE users", "desc nulls first --", 1])
def test_an_order_by_direction_is_order_asc_desc_or_their_names(dialect: str, order: Any) -> None:
    with pytest.raises(QueryError, match="order must be"):
        sql_of(Query.from_(t).select(t.id).orderby(t.id, order=order), dialect)
    assert "DESC" in sql_of(Query.from_(t).select(t.id).orderby(t.id, order="desc"), dialect)
