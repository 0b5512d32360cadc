"""The differences between the backends that remain, each pinned on each backend.

Every test here asserts what each backend does *today*; docs/backend-differences.md's "Remaining
differences" lists them by these names. If dualdb makes one of them agree, its test
fails and must move to the agreement tests (and the docs line must go).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from pypika.terms import ValueWrapper

import dualdb
from dualdb import Param, Query, Table, fn, raw

T = Table("t")


@pytest.fixture
async def t(db: dualdb.Database) -> dualdb.Database:
    """``db`` with a table ``t`` of the portable types, holding two rows (ids 1, 2)."""
    ty = db.dialect.column_type
    await db.execute(
        raw(
            f"CREATE TABLE t (id {ty('bigint')} PRIMARY KEY NOT NULL, n {ty('bigint')}, "
            f"small {ty('integer')}, s {ty('text')}, f {ty('float')}, d {ty('decimal')}, "
            f"u {ty('uuid')}, doc {ty('json')})"
        )
    )
    insert = Query.into(T).columns(T.id, T.n, T.s, T.d).insert(Param("id"), 7, "x", Param("d"))
    await db.execute(insert, id=1, d=Decimal("9.00"))
    await db.execute(insert, id=2, d=Decimal("10.00"))
    return db


def _by_backend(backend: str, sqlite: Any, postgresql: Any) -> Any:
    return sqlite if backend == "sqlite" else postgresql


# ---------------------------------------------------------------------------- arithmetic


async def test_integer_division_and_remainder_agree(t: dualdb.Database) -> None:
    """Not a difference: both truncate toward zero, and ``%`` is the integer remainder
    (dualdb renders PyPika's MOD as ``%`` on SQLite, whose MOD() returns a float)."""
    await t.execute(Query.update(T).set(T.n, -7).where(T.id == 2))
    q = Query.from_(T).select((T.n / 2).as_("q"), (T.n % 2).as_("r")).orderby(T.id)
    rows = [tuple(r) for r in await t.fetch_all(q)]
    assert rows == [(3, 1), (-3, -1)]
    assert all(type(v) is int for row in rows for v in row)


async def test_min_and_max_of_equal_decimals_keep_the_scale_of_another_row(
    t: dualdb.Database, backend: str
) -> None:
    """``0`` and ``0.0`` are one value, and both backends return it; which row's scale
    comes back follows the scan: PostgreSQL keeps the last of equal values it reads,
    SQLite the first."""
    await t.execute(Query.update(T).set(T.d, Decimal("0")).where(T.id == 1))
    await t.execute(Query.update(T).set(T.d, Decimal("0.0")).where(T.id == 2))
    row = await t.fetch_one(Query.from_(T).select(fn.Min(T.d), fn.Max(T.d)))
    assert row is not None
    expected = _by_backend(backend, Decimal("0"), Decimal("0.0"))
    assert [str(v) for v in row] == [str(expected)] * 2
    assert row[0] == row[1] == 0


# ---------------------------------------------------------------------------- types


async def test_negative_zero_loses_its_sign_in_a_sqlite_float_column(
    t: dualdb.Database, backend: str
) -> None:
    await t.execute(Query.update(T).set(T.f, -0.0).where(T.id == 1))
    value = await t.fetch_val(Query.from_(T).select(T.f).where(T.id == 1))
    assert repr(value) == _by_backend(backend, "0.0", "-0.0")


# ---------------------------------------------------------------------------- typing


async def test_a_nan_result_is_an_error_on_sqlite_which_has_no_nan(
    t: dualdb.Database, backend: str
) -> None:
    """SQLite would make a NaN NULL, silently; dualdb's functions raise instead."""
    await t.execute(Query.update(T).set(T.f, float("inf")))
    query = Query.from_(T).select((T.f - T.f).as_("v")).where(T.id == 1)
    if backend == "sqlite":
        with pytest.raises(dualdb.DataError, match="NaN"):
            await t.fetch_val(query)
    else:
        value = await t.fetch_val(query)
        assert value != value  # nan


async def test_real_arithmetic_is_double_precision_on_sqlite(
    t: dualdb.Database, backend: str
) -> None:
    """A CAST to REAL is rounded to 4-byte precision on both, but SQLite computes with
    8-byte floats from there: use DOUBLE PRECISION (the logical float type)."""
    real = fn.Cast(ValueWrapper(0.1), "REAL") + fn.Cast(ValueWrapper(0.2), "REAL")
    value = await t.fetch_val(Query.from_(T).select(real.as_("v")).where(T.id == 1))
    assert value == _by_backend(backend, 0.30000000447034836, 0.30000001192092896)


# ---------------------------------------------------------------------------- collation


async def test_text_sorts_by_code_point_on_both_with_the_test_clusters_collation(
    t: dualdb.Database, backend: str
) -> None:
    """SQLite's BINARY collation and PostgreSQL's C.UTF-8 (the test clusters' locale) both
    sort by code point. A production database created with another collation (e.g.
    en_US.UTF-8) sorts 'a' < 'B' < 'é' and differs from SQLite."""
    if backend == "postgresql":
        collation = await t.fetch_val(
            raw("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        )
        assert collation in ("C.UTF-8", "C")
    words = ["é", "a", "B", "Z", "e\u0301", "👍", "ä", ""]
    for number, word in enumerate(words, 10):
        await t.execute(Query.into(T).columns(T.id, T.s).insert(number, word))
    got = await t.fetch_all(Query.from_(T).select(T.s).where(T.id >= 10).orderby(T.s))
    assert [r["s"] for r in got] == sorted(words)


async def test_a_misspelt_column_is_an_error_on_both(t: dualdb.Database) -> None:
    """Made to agree: SQLite reads an unknown *double-quoted* name as a string literal, so
    dualdb backquotes names on SQLite, where an unknown one is an error as on PostgreSQL."""
    q = Query.from_(T).select(T.id).where(T.field("nope") == "nope").orderby(T.id)
    with pytest.raises(dualdb.ProgrammingError):
        await t.fetch_all(q)


async def test_identifiers_beyond_63_bytes_are_truncated_on_postgresql(
    t: dualdb.Database, backend: str
) -> None:
    """Two names sharing their first 63 bytes are one name on PostgreSQL."""
    first, second = "x" * 63 + "_first", "x" * 63 + "_second"
    await t.execute(raw(f'CREATE TABLE "{first}" (id INTEGER)'))
    create_second = raw(f'CREATE TABLE "{second}" (id INTEGER)')
    if backend == "sqlite":
        await t.execute(create_second)
    else:
        with pytest.raises(dualdb.ProgrammingError, match="already exists"):
            await t.execute(create_second)


async def test_raw_sql_without_types_comes_back_as_stored_on_sqlite(
    t: dualdb.Database, backend: str
) -> None:
    """SQLite cannot tell which table column a raw statement's result comes from;
    ``raw(sql, types={"u": "uuid"})`` says it (see test_diff_decoding)."""
    await t.execute(Query.update(T).set(T.u, uuid.UUID(int=1)).where(T.id == 1))
    value = await t.fetch_val(raw("SELECT u FROM t WHERE id = 1"))
    assert value == _by_backend(backend, str(uuid.UUID(int=1)), uuid.UUID(int=1))


async def test_statement_timeout_applies_to_postgresql_only(
    database_url: str, backend: str
) -> None:
    slow = {
        "postgresql": "SELECT pg_sleep(2)",
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 2000000) SELECT count(*) FROM c",
    }[backend]
    async with dualdb.connect(database_url, statement_timeout=0.1) as db:
        if backend == "sqlite":
            assert await db.fetch_val(raw(slow)) == 2_000_000
        else:
            with pytest.raises(dualdb.QueryTimeout):
                await db.fetch_val(raw(slow))
