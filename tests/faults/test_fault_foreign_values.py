"""Values dualdb did not write: another tool's rows, or a column type that would change
the value. Reading one is a DataError naming the column, never a raw ValueError; a
column type that would not keep a value exactly is refused when a value is written.

SQLite stores any value in any column, so these arise on SQLite only; PostgreSQL refuses
the same writes at the server (see test_diff_binds for what both refuse from dualdb).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import dualdb
from dualdb import Param, Query, Table

T = Table("t")


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("column", "declared", "stored"),
    [
        ("u", "UUID", "not-a-uuid"),
        ("at", "TIMESTAMPTZ", "yesterday"),
        ("d", "DATE", "2024-13-45"),
        ("price", "DECIMAL TEXT", "abc"),
        ("doc", "JSON TEXT", "{bad"),
    ],
)
async def test_a_value_another_tool_stored_is_a_data_error_naming_the_column(
    tmp_path: Path, backend: str, column: str, declared: str, stored: str
) -> None:
    path = tmp_path / "foreign.db"
    async with dualdb.connect(f"sqlite:///{path}") as db:
        await db.execute(f"CREATE TABLE t (id BIGINT, {column} {declared})")
        other = sqlite3.connect(path)  # another tool, writing without dualdb's checks
        other.execute(f"INSERT INTO t VALUES (1, '{stored}')")
        other.commit()
        other.close()
        with pytest.raises(dualdb.DataError, match=f"column {column} ") as info:
            await db.fetch_val(Query.from_(T).select(T.field(column)))
        assert stored not in str(info.value)
        assert await db.fetch_val(Query.from_(T).select(T.id)) == 1  # the rest still reads


@dataclass
class Holder:
    id: int
    value: Any


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("declared", "stored"), [("UUID", "not-a-uuid"), ("TIMESTAMPTZ", "yesterday")]
)
async def test_a_value_another_tool_stored_is_the_same_data_error_read_into_a_model(
    tmp_path: Path, backend: str, declared: str, stored: str
) -> None:
    """``as_=`` reads rows as plain tuples (no Record per row): a value that cannot be
    read is named the same way."""
    path = tmp_path / "foreign.db"
    async with dualdb.connect(f"sqlite:///{path}") as db:
        await db.execute(f"CREATE TABLE t (id BIGINT, value {declared})")
        other = sqlite3.connect(path)
        other.execute(f"INSERT INTO t VALUES (1, '{stored}')")
        other.commit()
        other.close()
        query = Query.from_(T).select(T.id, T.value)
        with pytest.raises(dualdb.DataError, match="column value ") as info:
            await db.fetch_all(query, as_=Holder)
        assert stored not in str(info.value)
        with pytest.raises(dualdb.DataError, match="column value "):
            await db.fetch_all(query)


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("declared", ["NUMERIC(20,2)", "DECIMAL(10, 2)", "NUMERIC"])
@pytest.mark.parametrize("value", [Decimal("123456789012345678.91"), Decimal("9.00")])
async def test_a_decimal_column_sqlite_would_round_refuses_decimals(
    tmp_path: Path, backend: str, declared: str, value: Decimal
) -> None:
    """NUMERIC(20,2) — natural in a migration written for both backends — has NUMERIC
    affinity on SQLite, which stores 9.00 as the integer 9 and keeps 15 digits of a
    larger number. dualdb refuses the value rather than change it; the logical type
    ``decimal`` (``DECIMAL TEXT`` on SQLite) keeps every digit."""
    async with dualdb.connect(f"sqlite:///{tmp_path / 'money.db'}") as db:
        await db.execute(f"CREATE TABLE t (id BIGINT, price {declared})")
        with pytest.raises(dualdb.DataError, match="DECIMAL TEXT"):
            await db.execute(Query.into(T).columns(T.id, T.price).insert(1, Param("p")), p=value)
        await db.execute(f"CREATE TABLE exact (price {db.dialect.column_type('decimal')})")
        exact = Table("exact")
        await db.execute(Query.into(exact).columns(exact.price).insert(Param("p")), p=value)
        got = await db.fetch_val(Query.from_(exact).select(exact.price))
        assert str(got) == str(value)
