"""A value refused on its way to the database never appears in the error, in the error's
chained causes, or in the traceback a logger prints; and a value nested too deep is a
DataError, not a RecursionError, on both backends."""

from __future__ import annotations

import traceback
from datetime import datetime
from typing import Any

import pytest

import dualdb
from dualdb import Param, Query, Table

T = Table("t")
SECRET = "secret-password-123"


@pytest.fixture
async def t(db: dualdb.Database) -> dualdb.Database:
    ty = db.dialect.column_type
    await db.execute(
        f"CREATE TABLE t (id {ty('bigint')}, ok {ty('boolean')}, doc {ty('json')}, "
        f"at {ty('timestamptz')})"
    )
    return db


def _everything_printed(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize(
    ("column", "value"),
    [("ok", SECRET), ("id", SECRET), ("doc", SECRET + '{"a":'), ("at", SECRET)],
)
async def test_a_refused_value_is_in_no_message_cause_or_traceback(
    t: dualdb.Database, column: str, value: Any
) -> None:
    insert = Query.into(T).columns(T.field(column)).insert(Param("v"))
    with pytest.raises(dualdb.DataError) as info:
        await t.execute(insert, v=value)
    assert SECRET not in _everything_printed(info.value)
    assert "Param v" in str(info.value)


async def test_a_naive_datetime_names_its_param_on_both(t: dualdb.Database) -> None:
    insert = Query.into(T).columns(T.id, T.at).insert(Param("id"), Param("when"))
    with pytest.raises(dualdb.DataError, match=r"Param when.*naive datetime"):
        await t.execute(insert, id=1, when=datetime(2026, 1, 1))


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [3000, 300])
async def test_a_plain_list_nested_too_deep_is_a_data_error(t: dualdb.Database, depth: int) -> None:
    insert = Query.into(T).columns(T.id, T.doc).insert(1, Param("doc"))
    with pytest.raises(dualdb.DataError, match="deep"):
        await t.execute(insert, doc=_nested(depth))
