"""One row interface on both backends."""

from __future__ import annotations

import pytest

import dualdb
from dualdb import raw


@pytest.fixture
async def row(db: dualdb.Database) -> dualdb.Record:
    record = await db.fetch_one(raw("SELECT 1 AS a, 'x' AS b, NULL AS c"))
    assert record is not None
    return record


def test_row_is_a_dualdb_record(row: dualdb.Record) -> None:
    assert isinstance(row, dualdb.Record)


def test_access_by_name_and_by_index(row: dualdb.Record) -> None:
    assert (row["a"], row["b"], row["c"]) == (1, "x", None)
    assert (row[0], row[1], row[-1]) == (1, "x", None)


def test_unknown_name_raises_key_error(row: dualdb.Record) -> None:
    with pytest.raises(KeyError):
        row["missing"]


def test_keys_values_items(row: dualdb.Record) -> None:
    assert list(row.keys()) == ["a", "b", "c"]
    assert list(row.values()) == [1, "x", None]
    assert list(row.items()) == [("a", 1), ("b", "x"), ("c", None)]


def test_get_with_default(row: dualdb.Record) -> None:
    assert row.get("a") == 1
    assert row.get("missing", 42) == 42


def test_dict_of_row(row: dualdb.Record) -> None:
    assert dict(row) == {"a": 1, "b": "x", "c": None}


def test_row_equals_tuple_of_its_values(row: dualdb.Record) -> None:
    assert row == (1, "x", None)
    assert tuple(row) == (1, "x", None)
    assert len(row) == 3


def test_in_tests_column_names(row: dualdb.Record) -> None:
    assert "a" in row
    assert "zzz" not in row
