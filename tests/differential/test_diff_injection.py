"""Hostile input never changes the statement: values are bound, identifiers are quoted.

For every value position the test builds the same query twice, with a harmless value and
with a hostile one: the SQL each dialect receives must be identical (only the bound
arguments differ), and running it on both backends must store or match the hostile text
exactly, with no side effect on a bystander table. Identifiers (table, column, alias
names taken from user input) are quoted by PyPika, which doubles embedded double quotes;
a NUL, which cannot be quoted, is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from _differential import ITEMS, KV, Pair, examples, scratch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pypika import Case, Column
from pypika.terms import Field, ValueWrapper

import dualdb
from dualdb import Json, Param, Query, Table, escape_like, fn, raw

HOSTILE = (
    "'",
    "''",
    '"',
    "'; DROP TABLE kv; --",
    '"; DROP TABLE kv; --',
    "x'); DELETE FROM kv; --",
    "') OR ('1'='1",
    "' OR 1=1 --",
    "-- comment",
    "/* open comment",
    "*/",
    ";",
    "$1",
    "$2::text",
    "?",
    "?, ?",
    ":name",
    ":1",
    "%s",
    "%(name)s",
    "{0}",
    "\\",
    "\\'",
    "\\\\'",
    "E'\\x41'",
    "$$",
    "$q$ x $q$",
    "\u2019",  # right single quotation mark
    "\uff07",  # fullwidth apostrophe
    "U&'\\0041'",
    "\r\n",
    "\x1a",
    "\x7f",
    "%",
    "_",
    "NULL",
)
hostile = st.sampled_from(HOSTILE) | st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=4).map(
    "".join
)
BENIGN = "benign"

# Each builder puts the value in one position; the runner checks the hostile value
# comes back exactly (a query returns rows whose single value must equal it).
Builder = Callable[[str], Any]

VALUE_POSITIONS: dict[str, Builder] = {
    "where =": lambda v: Query.from_(KV).select(KV.k).where(KV.k == v),
    "where IN": lambda v: Query.from_(KV).select(KV.k).where(KV.k.isin([v, "zz"])),
    "where BETWEEN": lambda v: Query.from_(KV).select(KV.k).where(KV.k.between(v, v)),
    "LIKE pattern": lambda v: Query.from_(KV).select(KV.k).where(KV.k.like(escape_like(v))),
    "select literal": lambda v: Query.from_(KV).select(ValueWrapper(v).as_("x")).limit(1),
    "CASE THEN": lambda v: (
        Query.from_(KV).select(Case().when(KV.v == 1, v).else_("other").as_("x")).where(KV.v == 1)
    ),
    "COALESCE": lambda v: Query.from_(KV).select(fn.Coalesce(KV.note, v).as_("x")).where(KV.v == 1),
    "HAVING": lambda v: (
        Query.from_(KV).select(fn.Max(KV.k).as_("x")).groupby(KV.v).having(fn.Max(KV.k) == v)
    ),
    "subquery": lambda v: (
        Query.from_(KV).select(KV.k).where(KV.k.isin(Query.from_(KV).select(KV.k).where(KV.k == v)))
    ),
}

INSERT_LITERAL: Builder = lambda v: Query.into(KV).columns(KV.k, KV.v).insert(v, 1)  # noqa: E731
UPDATE_SET: Builder = lambda v: Query.update(KV).set(KV.note, v).where(KV.k == "bystander")  # noqa: E731
UPSERT_SET: Builder = lambda v: (  # noqa: E731
    cast(Any, Query.into(KV))
    .columns(KV.k, KV.v, KV.note)
    .insert("bystander", 2, "n")
    .on_conflict(KV.k)
    .do_update(KV.note, ValueWrapper(v))
    .returning(KV.note)
)
WRITE_POSITIONS: dict[str, Builder] = {
    "INSERT VALUES": INSERT_LITERAL,
    "UPDATE SET": UPDATE_SET,
    "ON CONFLICT DO UPDATE SET": UPSERT_SET,
}


def _same_statement(pair: Pair, builder: Builder, value: str) -> None:
    for db in pair:
        hostile_sql, hostile_args = db.compile(builder(value))
        benign_sql, benign_args = db.compile(builder(BENIGN))
        assert hostile_sql == benign_sql
        assert len(hostile_args) == len(benign_args)


async def _bystander_intact(db: dualdb.Queryable) -> None:
    assert await db.fetch_val(Query.from_(KV).select(KV.note).where(KV.k == "bystander")) in (
        "untouched",
        "n",
    )


@settings(max_examples=examples(600))
@given(value=hostile, position=st.sampled_from(sorted(VALUE_POSITIONS)))
@example(value="'; DROP TABLE kv; --", position="where =")
@example(value="\\", position="LIKE pattern")
@example(value="$1", position="select literal")
async def test_hostile_value_in_a_query_is_matched_exactly_and_changes_nothing(
    pair: Pair, value: str, position: str
) -> None:
    builder = VALUE_POSITIONS[position]
    _same_statement(pair, builder, value)
    async with scratch(pair) as backends:
        for tx in backends:
            await tx.execute(
                Query.into(KV).columns(KV.k, KV.v, KV.note).insert("bystander", 0, "untouched")
            )
            await tx.execute(Query.into(KV).columns(KV.k, KV.v).insert(Param("k"), 1), k=value)
            rows = await tx.fetch_all(builder(value))
            assert [r[0] for r in rows] == [value], (tx.backend, position)
            await _bystander_intact(tx)


@settings(max_examples=examples(300))
@given(value=hostile, position=st.sampled_from(sorted(WRITE_POSITIONS)))
async def test_hostile_value_written_anywhere_round_trips_exactly(
    pair: Pair, value: str, position: str
) -> None:
    builder = WRITE_POSITIONS[position]
    _same_statement(pair, builder, value)
    async with scratch(pair) as backends:
        for tx in backends:
            await tx.execute(
                Query.into(KV).columns(KV.k, KV.v, KV.note).insert("bystander", 0, "untouched")
            )
            await tx.execute(builder(value))
            stored = await tx.fetch_all(Query.from_(KV).select(KV.k, KV.note).orderby(KV.k))
            flat = {x for row in stored for x in row}
            assert value in flat, (tx.backend, position)
            assert await tx.fetch_val(Query.from_(KV).select(fn.Count("*"))) in (1, 2)


@settings(max_examples=examples(300))
@given(value=hostile)
async def test_hostile_text_round_trips_through_params_json_raw_and_bulk_paths(
    pair: Pair, value: str
) -> None:
    by_param = Query.from_(KV).select(KV.note).where(KV.k == Param("k"))
    async with scratch(pair) as backends:
        for tx in backends:
            await tx.execute_many(
                Query.into(KV).columns(KV.k, KV.v, KV.note).insert(Param("k"), 1, Param("n")),
                [{"k": value, "n": value + "/bulk"}],
            )
            assert await tx.fetch_val(by_param, k=value) == value + "/bulk"
            await tx.execute(
                Query.into(ITEMS)
                .columns(ITEMS.id, ITEMS.doc)
                .insert(1, Json({value: [value, {"k": value}]}))
            )
            doc = await tx.fetch_val(Query.from_(ITEMS).select(ITEMS.doc))
            assert doc == {value: [value, {"k": value}]}
            placeholder = tx.dialect.placeholder(1)
            assert await tx.fetch_val(raw(f"SELECT note FROM kv WHERE k = {placeholder}", value))
            streamed = [r["note"] async for r in tx.iterate(by_param, k=value)]
            assert streamed == [value + "/bulk"]


NUL_POSITIONS: dict[str, Callable[[str], Any]] = {
    **VALUE_POSITIONS,
    **WRITE_POSITIONS,
    "JSON value": lambda v: Query.into(ITEMS).columns(ITEMS.id, ITEMS.doc).insert(1, Json(v)),
    "JSON key": lambda v: Query.into(ITEMS).columns(ITEMS.id, ITEMS.doc).insert(1, {v: 1}),
}


@pytest.mark.parametrize("position", sorted(NUL_POSITIONS))
async def test_nul_in_any_value_raises_data_error_on_both(pair: Pair, position: str) -> None:
    query = NUL_POSITIONS[position]("a\x00b")
    for db in pair:
        with pytest.raises(dualdb.DataError):
            await db.fetch_all(query)
        assert await db.fetch_val(raw("SELECT 1")) == 1  # the pool is still fine


async def test_nul_in_raw_sql_arguments_raises_data_error_on_both(pair: Pair) -> None:
    for db in pair:
        with pytest.raises(dualdb.DataError):
            await db.fetch_val(raw(f"SELECT {db.dialect.placeholder(1)}", "a\x00b"))


# ---------------------------------------------------------------------------- identifiers

HOSTILE_NAMES = (
    'x"; DROP TABLE kv; --',
    'a"b',
    '""',
    "x' OR '1'='1",
    "select",
    "a b",
    "$1",
    "?",
    ":n",
    "\\",
    "é👍",
    "-- c",
    "/*",
)


def _quoted(name: str, quote: str) -> str:
    """The name quoted as the dialect does: in its quote character, which is doubled inside."""
    return quote + name.replace(quote, quote * 2) + quote


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_table_and_column_names_are_quoted_as_one_identifier(
    pair: Pair, name: str
) -> None:
    table = Table(name)
    column = table.field(name)
    select = Query.from_(table).select(column.as_(name)).where(column == Param("v"))
    for db in pair:
        quote = db.dialect.quote_char
        create = Query.create_table(table).columns(Column(name, "TEXT")).get_sql(quote_char=quote)
        assert create == f"CREATE TABLE {_quoted(name, quote)} ({_quoted(name, quote)} TEXT)"
        sql, _ = db.compile(select)
        placeholder = db.dialect.placeholder(1)
        q, alias = _quoted(name, quote), _quoted(name, '"')  # aliases: always double quotes
        assert sql == f"SELECT {q} {alias} FROM {q} WHERE {q}={placeholder}"
        await db.execute(raw(create))
        await db.execute(Query.into(table).columns(column).insert(name))
        rows = await db.fetch_all(select, v=name)
        assert [tuple(r) for r in rows] == [(name,)]
        assert list(rows[0].keys()) == [name]
        assert await db.fetch_val(Query.from_(KV).select(fn.Count("*"))) == 0  # kv survives


@pytest.mark.parametrize(
    "build",
    [
        lambda: Query.from_(Table("a\x00b")).select("*"),
        lambda: Query.from_(KV).select(Field("k\x00")),
        lambda: Query.from_(KV).select(KV.k.as_("x\x00")),
    ],
    ids=["table", "column", "alias"],
)
async def test_nul_in_an_identifier_is_refused_before_sending(
    pair: Pair, build: Callable[[], Any]
) -> None:
    """PyPika cannot quote a NUL, and PostgreSQL would drop the connection on one."""
    for db in pair:
        with pytest.raises(dualdb.QueryError, match="NUL"):
            await db.fetch_all(build())
        assert await db.fetch_val(raw("SELECT 1")) == 1


async def test_unknown_column_name_from_user_input_stays_one_quoted_name(pair: Pair) -> None:
    """Sorting by a user-chosen column: a hostile name is one quoted identifier, and an
    unknown one is an error on both backends; nothing of it runs as SQL."""
    await pair.sqlite.execute(Query.into(KV).columns(KV.k, KV.v).insert("a", 1))
    await pair.postgresql.execute(Query.into(KV).columns(KV.k, KV.v).insert("a", 1))
    q = Query.from_(KV).select(KV.k).orderby(Field("k; DROP TABLE kv"))
    for db in pair:
        with pytest.raises(dualdb.ProgrammingError):
            await db.fetch_all(q)
    for db in pair:
        assert await db.fetch_val(Query.from_(KV).select(fn.Count("*"))) == 1


@pytest.mark.parametrize(
    ("limit", "offset"),
    [
        ("1; DROP TABLE kv", None),
        ("(SELECT 1)", None),
        (None, "0 --"),
        (True, None),
        (-1, None),
        (None, -5),
        (1.5, None),
    ],
)
async def test_limit_and_offset_accept_only_non_negative_ints(
    pair: Pair, limit: Any, offset: Any
) -> None:
    """PyPika pastes LIMIT/OFFSET into the SQL text: anything but an int is refused."""
    q = Query.from_(KV).select(KV.k)
    if limit is not None:
        q = q.limit(limit)
    if offset is not None:
        q = q.offset(offset)
    for db in pair:
        with pytest.raises(dualdb.QueryError, match=r"LIMIT|OFFSET"):
            await db.fetch_all(q)
        assert await db.fetch_val(Query.from_(KV).select(fn.Count("*"))) == 0


async def test_offset_without_limit_works_on_both(pair: Pair) -> None:
    """SQLite's grammar needs a LIMIT before OFFSET: dualdb adds ``LIMIT -1`` there."""
    for db in pair:
        for k in ("a", "b", "c"):
            await db.execute(Query.into(KV).columns(KV.k, KV.v).insert(k, 1))
        rows = await db.fetch_all(Query.from_(KV).select(KV.k).orderby(KV.k).offset(1))
        assert [r["k"] for r in rows] == ["b", "c"]


async def test_limit_and_offset_as_params_are_bound_values(pair: Pair) -> None:
    """``.limit(Param("n"))`` binds the count: a hostile value is a DataError on both."""
    q = (
        Query.from_(KV)
        .select(KV.k)
        .orderby(KV.k)
        .limit(cast(int, Param("n")))
        .offset(cast(int, Param("o")))
    )
    for db in pair:
        for k in ("a", "b", "c"):
            await db.execute(Query.into(KV).columns(KV.k, KV.v).insert(k, 1))
        sql, _ = db.compile(q)
        assert "?" in sql or "$1" in sql
        assert [r["k"] for r in await db.fetch_all(q, n=1, o=1)] == ["b"]
        with pytest.raises(dualdb.DataError):
            await db.fetch_all(q, n="1; DROP TABLE kv", o=0)
        assert await db.fetch_val(Query.from_(KV).select(fn.Count("*"))) == 3


async def test_a_10_mb_hostile_value_round_trips_and_changes_nothing(pair: Pair) -> None:
    """A huge value is a value like any other: bound, stored whole, matched exactly."""
    value = ("'; DROP TABLE kv; -- " + "\u00e9\U0001f600" * 7) * (10 * 2**20 // 64)
    by_key = Query.from_(KV).select(KV.note).where(KV.k == Param("k"))
    async with scratch(pair) as backends:
        for tx in backends:
            await tx.execute(
                Query.into(KV).columns(KV.k, KV.v, KV.note).insert("bystander", 0, "untouched")
            )
            await tx.execute(
                Query.into(KV).columns(KV.k, KV.v, KV.note).insert("big", 1, Param("n")), n=value
            )
            assert await tx.fetch_val(by_key, k="big") == value
            await _bystander_intact(tx)
