"""The mistakes a new user makes get a dualdb error that says what to do, never a raw
TypeError, ValueError or AttributeError."""

from __future__ import annotations

from typing import Any

import pytest

import dualdb
from dualdb import Param, Query, Table

T = Table("t")


@pytest.mark.parametrize("name", ["", "1x", "a-b", 1])
def test_a_param_name_must_be_an_identifier(name: Any) -> None:
    with pytest.raises(dualdb.QueryError, match="identifier"):
        Param(name)


async def test_numeric_is_another_name_for_decimal(db: dualdb.Database) -> None:
    assert db.dialect.column_type("numeric") == db.dialect.column_type("decimal")


async def test_an_unknown_logical_type_is_a_query_error(db: dualdb.Database) -> None:
    with pytest.raises(dualdb.QueryError, match="unknown logical type 'uuuid'"):
        db.dialect.column_type("uuuid")


async def test_execute_many_rows_must_be_mappings(db: dualdb.Database) -> None:
    await db.execute(f"CREATE TABLE t (a {db.dialect.column_type('bigint')})")
    insert = Query.into(T).columns(T.a).insert(Param("a"))
    with pytest.raises(dualdb.QueryError, match="mapping"):
        await db.execute_many(insert, [(1,), (2,)])  # type: ignore[list-item]  # the mistake
    await db.execute_many(insert, [{"a": 1}, {"a": 2}])
    assert await db.fetch_val("SELECT count(*) FROM t") == 2


async def test_a_database_used_without_await_says_how_to_open_it(database_url: str) -> None:
    pending: Any = dualdb.connect(database_url)
    with pytest.raises(dualdb.QueryError, match="await connect"):
        await pending.fetch_val("SELECT 1")


@pytest.mark.parametrize(
    "option",
    [
        {"pool_timeout": "abc"},
        {"pool_timeout": -1},
        {"sqlite_pool_size": "x"},
        {"connect_timeout": None},
        {"pool_max_size": True},
    ],
)
async def test_connect_options_are_checked_like_the_environment(
    database_url: str, option: dict[str, Any]
) -> None:
    with pytest.raises(dualdb.ConfigurationError, match=next(iter(option))):
        dualdb.connect(database_url, **option)


async def test_a_param_as_a_whole_in_list_is_a_query_error_with_the_alternative(
    db: dualdb.Database,
) -> None:
    await db.execute(f"CREATE TABLE t (a {db.dialect.column_type('bigint')})")
    with pytest.raises(dualdb.QueryError, match="one value per placeholder"):
        await db.fetch_all(Query.from_(T).select(T.a).where(T.a.isin(Param("xs"))), xs=[1, 2])
    assert await db.fetch_all(Query.from_(T).select(T.a).where(T.a.isin([1, 2]))) == []


async def test_raw_sql_with_the_wrong_number_of_values_is_a_query_error(
    db: dualdb.Database, backend: str
) -> None:
    """The same mistake, the same class on both (PostgreSQL's was an OperationalError)."""
    placeholder = "$1" if backend == "postgresql" else "?"
    with pytest.raises(dualdb.QueryError):
        await db.fetch_val(dualdb.raw(f"SELECT {placeholder}"))
    with pytest.raises(dualdb.QueryError):
        await db.fetch_val(dualdb.raw("SELECT 1", 5))
