"""PyPika's DDL builders run on both backends, with dualdb's logical column types."""

from __future__ import annotations

import re
import textwrap
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypika import Column

import dualdb
from dualdb import Json, Param, Query, Table
from dualdb.dialects import dialect_names, get_dialect
from dualdb.sql.compile import compile_query

T = Table("things")

EVERY_TYPE: dict[str, tuple[str, Any]] = {
    "u": ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    "s": ("text", "tea"),
    "n": ("bigint", 2**62),
    "i": ("integer", -7),
    "b": ("boolean", True),
    "at": ("timestamptz", datetime(2026, 12, 2, 9, 30, tzinfo=UTC)),
    "d": ("date", date(2026, 12, 2)),
    "price": ("numeric", Decimal("123456789012345678.91")),
    "doc": ("json", {"a": [1, 2]}),
    "raw": ("bytes", b"\x00\xff"),
    "f": ("float", 0.5),
}


@pytest.fixture
async def things(db: dualdb.Database) -> dualdb.Database:
    columns = [Column(name, logical) for name, (logical, _) in EVERY_TYPE.items()]
    await db.execute(
        Query.create_table(T)
        .columns(Column("id", "bigint", nullable=False), *columns)
        .primary_key("id")
    )
    return db


async def test_a_table_made_with_logical_types_returns_the_same_values_on_every_backend(
    things: dualdb.Database,
) -> None:
    values = {name: value for name, (_, value) in EVERY_TYPE.items()}
    names = ["id", *values]
    insert = Query.into(T).columns(*names).insert(*(Param(n) for n in names))
    await things.execute(
        insert, id=1, **{k: Json(v) if k == "doc" else v for k, v in values.items()}
    )
    row = await things.fetch_one(Query.from_(T).select(*values))
    assert row is not None
    for name, value in values.items():
        assert row[name] == value and isinstance(row[name], type(value)), name


async def test_numeric_keeps_every_digit_of_money(things: dualdb.Database) -> None:
    money = Decimal("99999999999999999.99")
    await things.execute(Query.into(T).columns(T.id, T.price).insert(1, Param("p")), p=money)
    assert await things.fetch_val(Query.from_(T).select(T.price)) == money


async def test_a_default_is_written_as_a_literal_with_its_quotes_doubled(
    db: dualdb.Database,
) -> None:
    await db.execute(
        Query.create_table(T).columns(
            Column("id", "bigint"), Column("label", "text", default="it's; DROP TABLE things")
        )
    )
    await db.execute(Query.into(T).columns(T.id).insert(1))
    assert await db.fetch_val(Query.from_(T).select(T.label)) == "it's; DROP TABLE things"


async def test_a_unique_partial_index_is_enforced_where_it_applies(
    things: dualdb.Database,
) -> None:
    await things.execute(
        Query.create_index("one_per_text").on(T).columns("s").where(T.b == True).unique()  # noqa: E712
    )
    insert = Query.into(T).columns(T.id, T.s, T.b).insert(Param("id"), "x", Param("b"))
    await things.execute(insert, id=1, b=True)
    await things.execute(insert, id=2, b=False)  # outside the index
    with pytest.raises(dualdb.UniqueViolation):
        await things.execute(insert, id=3, b=True)


async def test_a_quote_in_an_index_name_stays_part_of_the_name(things: dualdb.Database) -> None:
    quote = things.dialect.quote_char
    name = f"ix{quote}; DROP TABLE things; --"
    await things.execute(Query.create_index(name).on(T).columns("n"))
    await things.execute(Query.drop_index(name))
    await things.execute(Query.create_index(name).on(T).columns("n"))  # it was dropped
    assert await things.fetch_all(Query.from_(T).select(T.id)) == []


async def test_drop_table_if_exists_drops_it_once(things: dualdb.Database) -> None:
    await things.execute(Query.drop_table(T).if_exists())
    await things.execute(Query.drop_table(T).if_exists())
    with pytest.raises(dualdb.ProgrammingError):
        await things.fetch_all(Query.from_(T).select(T.id))


async def test_a_param_in_ddl_is_refused_before_anything_runs(db: dualdb.Database) -> None:
    with pytest.raises(dualdb.QueryError, match="Param"):
        await db.execute(Query.create_table(T).columns(Column("s", "text", default=Param("s"))))


@pytest.mark.parametrize("declared", ["text; DROP TABLE users", "TEXT) --", "int'", ""])
async def test_a_column_type_that_is_not_a_type_name_is_refused(
    db: dualdb.Database, declared: str
) -> None:
    with pytest.raises(dualdb.QueryError, match="column type"):
        await db.execute(Query.create_table(T).columns(Column("c", declared)))


@pytest.mark.parametrize("dialect", dialect_names())
@given(declared=st.text(max_size=40))
def test_any_column_type_renders_as_one_type_name_or_is_refused(
    dialect: str, declared: str
) -> None:
    try:
        sql = compile_query(
            Query.create_table(T).columns(Column("c", declared)), get_dialect(dialect)
        ).sql
    except dualdb.QueryError:
        return
    quote = get_dialect(dialect).quote_char
    body = sql.split(f"{quote}c{quote} ", 1)[1][:-1]
    assert ";" not in body and "'" not in body and "--" not in body and ")" not in body.rstrip(")")


VALUES_PAGE = (Path(__file__).resolve().parents[2] / "docs" / "values-and-rows.md").read_text()


async def test_the_docs_ddl_example_runs(db: dualdb.Database) -> None:
    section = VALUES_PAGE.split("PyPika's DDL builders take these names", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    body = textwrap.indent(code.group(1), "    ")
    namespace: dict[str, Any] = {"Table": Table, "Query": Query}
    exec(f"async def example(db):\n{body}", namespace)  # noqa: S102 - our docs
    await namespace["example"](db)
    await db.execute(Query.into(Table("things")).columns("id").insert(uuid.uuid4()))
    assert await db.fetch_val(Query.from_(Table("things")).select("note")) == "none"
