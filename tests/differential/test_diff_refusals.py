"""What PostgreSQL refuses, SQLite refuses too, before anything runs.

SQLite compares, adds and limits almost anything; PostgreSQL has no MIN of a UUID, no
``+`` on text, no CONCAT on SQLite 3.40's side, and no negative LIMIT. Where one backend
would answer and the other refuse, dualdb refuses on both: on SQLite with
``UnsupportedFeature`` (naming what to write instead) before the statement is sent, or
with the same ``DataError`` for a bad value.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from _differential import ITEMS, Pair, fetch_all, on_both, scratch
from pypika.terms import Case, ValueWrapper

import dualdb
from dualdb import Param, Query, fn, raw

pytestmark = pytest.mark.postgresql


def _refused_on_both(outcomes: list[Any]) -> None:
    """SQLite refuses before running; PostgreSQL's own error is its own class."""
    assert outcomes[0] == ("raises", "UnsupportedFeature")
    assert outcomes[1] in (("raises", "ProgrammingError"), ("raises", "DataError"))


@pytest.mark.parametrize("column", ["uid", "flag", "doc", "blob"])
@pytest.mark.parametrize("function", [fn.Min, fn.Max])
async def test_min_and_max_of_a_type_without_an_order_are_refused_on_both(
    pair: Pair, column: str, function: Any
) -> None:
    query = Query.from_(ITEMS).select(function(ITEMS.field(column)))
    outcomes = await on_both((pair.sqlite, pair.postgresql), lambda db: db.fetch_val(query))
    _refused_on_both(outcomes)
    with pytest.raises(dualdb.UnsupportedFeature, match=f"MIN/MAX of the .* column items.{column}"):
        await pair.sqlite.fetch_val(query)


async def test_min_and_max_of_ordered_types_run_on_both(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(
        fn.Min(ITEMS.name), fn.Max(ITEMS.at), fn.Min(ITEMS.day), fn.Max(ITEMS.price)
    )
    outcomes = await on_both((pair.sqlite, pair.postgresql), lambda db: db.fetch_one(query))
    assert [tuple(r) for r in outcomes] == [(None, None, None, None)] * 2


@pytest.mark.parametrize("column", ["name", "flag", "uid", "doc", "blob", "day", "at"])
async def test_arithmetic_on_a_column_that_is_no_number_is_refused_on_both(
    pair: Pair, column: str
) -> None:
    """SQLite would read '12abc' + 1 as 13, and a date as the number it starts with;
    PostgreSQL has no such operator (for a date and a bound value: none it can choose)."""
    query = Query.from_(ITEMS).select((ITEMS.field(column) + 1).as_("v"))
    outcomes = await on_both((pair.sqlite, pair.postgresql), lambda db: db.fetch_all(query))
    _refused_on_both(outcomes)


async def test_concat_is_refused_on_sqlite_naming_the_portable_spelling(pair: Pair) -> None:
    query = Query.from_(ITEMS).select(fn.Concat(ITEMS.name, ITEMS.name))
    with pytest.raises(dualdb.UnsupportedFeature, match=r"\|\| in raw SQL"):
        await pair.sqlite.fetch_val(query)
    assert await pair.postgresql.fetch_val(query.limit(1)) is None
    portable = raw("SELECT 'a' || 'b'")
    assert [await db.fetch_val(portable) for db in pair] == ["ab", "ab"]


async def test_modulo_of_a_decimal_column_is_refused_on_sqlite(pair: Pair) -> None:
    """PostgreSQL computes it exactly; SQLite would in floating point."""
    query = Query.from_(ITEMS).select((ITEMS.price % 2).as_("r"))
    with pytest.raises(dualdb.UnsupportedFeature, match=r"% on the decimal column items\.price"):
        await pair.sqlite.fetch_all(query)
    assert await pair.postgresql.fetch_all(query) == []


@pytest.mark.parametrize("clause", ["limit", "offset"])
async def test_a_negative_limit_or_offset_param_is_the_same_data_error_on_both(
    pair: Pair, clause: str
) -> None:
    """SQLite's own answer to LIMIT -1 is "no limit"; PostgreSQL's is an error. A literal
    negative count is a QueryError on both when the query is compiled."""
    query: Any = Query.from_(ITEMS).select(ITEMS.id).orderby(ITEMS.id)
    query = getattr(query, clause)(cast(int, Param("n")))
    for db in pair:
        with pytest.raises(dualdb.DataError, match=f"{clause.upper()} must not be negative"):
            await db.fetch_all(query, n=-1)
    with pytest.raises(dualdb.QueryError, match="must not be negative"):
        await pair.sqlite.fetch_all(getattr(Query.from_(ITEMS).select(ITEMS.id), clause)(-1))


@pytest.mark.parametrize("clause", ["limit", "offset"])
async def test_a_null_limit_or_offset_param_means_none_on_both(pair: Pair, clause: str) -> None:
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(Query.into(ITEMS).columns(ITEMS.id).insert((1,), (2,)))
        query: Any = Query.from_(ITEMS).select(ITEMS.id).orderby(ITEMS.id)
        query = getattr(query, clause)(cast(int, Param("n")))
        outcomes = await on_both(txs, lambda db: db.fetch_all(query, n=None))
    assert [[r["id"] for r in rows] for rows in outcomes] == [[1, 2], [1, 2]]


@pytest.mark.parametrize(
    "write",
    [
        Query.into(ITEMS).columns(ITEMS.id).insert(1),
        Query.update(ITEMS).set(ITEMS.name, "w"),
        raw("CREATE TABLE nope (id INTEGER)"),
    ],
    ids=["insert", "update", "ddl"],
)
async def test_a_read_only_transaction_refuses_writes_on_both(pair: Pair, write: Any) -> None:
    for db in pair:
        with pytest.raises(dualdb.ProgrammingError, match="read-only transaction"):
            async with db.transaction(readonly=True) as tx:
                await tx.fetch_all(Query.from_(ITEMS).select(ITEMS.id))
                await tx.execute(write)
        # The connection is writable again afterwards.
        await db.execute(Query.into(ITEMS).columns(ITEMS.id).insert(7))
        assert await db.fetch_val(Query.from_(ITEMS).select(fn.Count("*"))) == 1
        await db.execute(Query.from_(ITEMS).delete())


async def test_a_read_only_transaction_reads_and_commits_on_both(pair: Pair) -> None:
    for db in pair:
        await db.execute(Query.into(ITEMS).columns(ITEMS.id).insert(1))
        async with db.transaction(readonly=True) as tx:
            assert await tx.fetch_val(Query.from_(ITEMS).select(ITEMS.id)) == 1
            async with tx.transaction() as savepoint:
                assert await savepoint.fetch_val(Query.from_(ITEMS).select(ITEMS.id)) == 1
        await db.execute(Query.update(ITEMS).set(ITEMS.name, "after"))


@pytest.mark.parametrize("pattern", ["x\\", "x\\\\\\", "\\"])
async def test_a_like_pattern_ending_in_the_escape_character_is_a_data_error_on_both(
    pair: Pair, pattern: str
) -> None:
    """dualdb gives every LIKE ``ESCAPE '\\'``; a pattern ending in an escape that escapes
    nothing is PostgreSQL's error (once a row is compared), where SQLite's own LIKE would
    match nothing; dualdb's SQLite connections refuse the value itself. ``escape_like()``
    never makes one."""
    query = Query.from_(ITEMS).select(ITEMS.id).where(ITEMS.name.like(cast(str, Param("p"))))
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(Query.into(ITEMS).columns(ITEMS.id, ITEMS.name).insert(1, pattern))
            with pytest.raises(dualdb.DataError, match="LIKE pattern must not end with escape"):
                async with tx.transaction() as savepoint:
                    await savepoint.fetch_all(query, p=pattern)
        escaped = dualdb.escape_like(pattern) + "%"
        found = await on_both(txs, lambda db: db.fetch_all(query, p=escaped))
    assert [[r["id"] for r in rows] for rows in found] == [[1], [1]]


@pytest.mark.parametrize(
    "rows",
    [[(5, "a"), (5, "b")], [(5, "a"), (6, "b"), (5, "c")]],
    ids=["two rows", "apart"],
)
async def test_an_upsert_changing_one_row_twice_is_refused_on_both(
    pair: Pair, rows: list[tuple[int, str]]
) -> None:
    """PostgreSQL refuses it; SQLite would apply both, in order."""
    upsert = cast(Any, Query.into(ITEMS)).columns(ITEMS.id, ITEMS.name).insert(*rows)
    upsert = upsert.on_conflict(ITEMS.id).do_update(ITEMS.name)
    for db in pair:
        with pytest.raises(dualdb.ProgrammingError, match="cannot affect row a second time"):
            await db.execute(upsert)
        assert await db.fetch_val(Query.from_(ITEMS).select(fn.Count("*"))) == 0


async def test_an_upsert_of_distinct_keys_or_with_null_keys_runs_on_both(pair: Pair) -> None:
    upsert = cast(Any, Query.into(ITEMS)).columns(ITEMS.id, ITEMS.name)
    upsert = upsert.insert((1, "a"), (Param("id"), "b")).on_conflict(ITEMS.id).do_update(ITEMS.name)
    async with scratch(pair) as txs:
        counts = await on_both(txs, lambda db: db.execute(upsert, id=2))
        assert counts == [2, 2]
        refused = await on_both(txs, lambda db: db.execute(upsert, id=1))
        assert refused == [("raises", "ProgrammingError")] * 2


@pytest.mark.parametrize("column", ["ratio", "flag", "at", "doc", "blob"])
async def test_a_column_cast_to_text_that_postgresql_writes_otherwise_is_refused_on_sqlite(
    pair: Pair, column: str
) -> None:
    """PostgreSQL writes 1.0 as '1', true as 'true', a timestamp in its session's time
    zone: SQLite's text would differ, so dualdb refuses it there."""
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.field(column), "TEXT"))
    with pytest.raises(dualdb.UnsupportedFeature, match=f"CAST of the .* column items.{column}"):
        await pair.sqlite.fetch_all(query)
    assert await pair.postgresql.fetch_all(query) == []


@pytest.mark.parametrize("column", ["name", "qty", "price", "uid", "day"])
async def test_a_column_cast_to_text_reads_alike_on_both(pair: Pair, column: str) -> None:
    query = Query.from_(ITEMS).select(fn.Cast(ITEMS.field(column), "TEXT").as_("v"))
    async with scratch(pair) as txs:
        for tx in txs:
            await tx.execute(
                raw(
                    "INSERT INTO items (id, name, qty, price, uid, day) VALUES "
                    "(1, 'x', -7, '12.50', '0e7b2b3e-0000-4000-8000-000000000001', '2024-01-02')"
                )
            )
        got = await on_both(txs, lambda db: db.fetch_val(query))
    assert got[0] == got[1]


@pytest.mark.parametrize(
    "branches",
    [
        (ITEMS.qty, ValueWrapper(True)),
        (ITEMS.name, ITEMS.qty),
        (ITEMS.qty, ValueWrapper("a")),
        (ITEMS.uid, ITEMS.name),
        (ITEMS.price, ITEMS.flag),
    ],
    ids=[
        "bigint and bool literal",
        "text and bigint",
        "bigint and str literal",
        "uuid and text",
        "decimal and boolean",
    ],
)
async def test_a_case_or_coalesce_of_types_postgresql_cannot_match_is_refused_on_both(
    pair: Pair, branches: tuple[Any, Any]
) -> None:
    first, second = branches
    for query in (
        Query.from_(ITEMS).select(Case().when(ITEMS.id == 1, first).else_(second)),
        Query.from_(ITEMS).select(fn.Coalesce(first, second)),
    ):
        outcomes = await on_both((pair.sqlite, pair.postgresql), fetch_all(query))
        assert outcomes[0] == ("raises", "UnsupportedFeature")
        assert outcomes[1] in (("raises", "ProgrammingError"), ("raises", "DataError"))
