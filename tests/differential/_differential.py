"""Shared pieces of the differential tests: the schema, strict comparison, strategies.

A differential test runs the same dualdb call on SQLite and on PostgreSQL and requires
the *same* answer: equal values of the same Python types, compared through
:func:`canon`, which is stricter than ``==`` (``1 == 1.0 == True``, ``-0.0 == 0.0`` and
``Decimal("1E+2") == Decimal("100")`` all differ under it).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import settings
from hypothesis import strategies as st

import dualdb
from dualdb import Json, Param, Query, Table, raw

ITEMS = Table("items")
TAGS = Table("tags")
KV = Table("kv")

#: Column → logical type of ``items`` (``id`` is the primary key).
ITEM_COLUMNS: dict[str, str] = {
    "name": "text",
    "grp": "text",
    "qty": "bigint",
    "flag": "boolean",
    "at": "timestamptz",
    "day": "date",
    "doc": "json",
    "price": "decimal",
    "uid": "uuid",
    "ratio": "float",
    "blob": "bytes",
}


def schema(db: dualdb.Database) -> list[str]:
    """CREATE TABLE statements for the differential schema, in ``db``'s column types."""
    t = db.dialect.column_type
    columns = ", ".join(f"{name} {t(kind)}" for name, kind in ITEM_COLUMNS.items())
    return [
        f"CREATE TABLE items (id {t('bigint')} PRIMARY KEY NOT NULL, {columns})",
        f"CREATE TABLE tags (id {t('bigint')} PRIMARY KEY NOT NULL, item_id {t('bigint')}, "
        f"label {t('text')}, weight {t('bigint')})",
        f"CREATE TABLE kv (k {t('text')} PRIMARY KEY NOT NULL, v {t('bigint')} NOT NULL, "
        f"note {t('text')})",
    ]


@dataclass(frozen=True)
class Pair:
    """One connected Database per backend, both holding the differential schema."""

    sqlite: dualdb.Database
    postgresql: dualdb.Database

    def __iter__(self) -> Any:
        return iter((self.sqlite, self.postgresql))


class _Rollback(Exception):
    pass


@asynccontextmanager
async def scratch(pair: Pair) -> AsyncIterator[tuple[dualdb.Transaction, dualdb.Transaction]]:
    """A transaction on each backend, rolled back at the end: one Hypothesis example's
    writes never reach the next example."""
    try:
        async with pair.sqlite.transaction() as s, pair.postgresql.transaction() as p:
            yield s, p
            raise _Rollback
    except _Rollback:
        pass


async def on_both(
    pair_txs: Sequence[dualdb.Queryable], call: Callable[[dualdb.Queryable], Any]
) -> list[Any]:
    """``await call(db)`` on each backend (in order SQLite, PostgreSQL); an exception
    becomes ``("raises", ClassName)`` so that both outcomes can be compared.

    Each call runs in a savepoint, so an error leaves the PostgreSQL transaction usable.
    """
    out = []
    for db in pair_txs:
        try:
            async with db.transaction() as sp:
                out.append(await call(sp))
        except dualdb.DatabaseError as exc:
            out.append(("raises", type(exc).__name__))
    return out


def examples(ci_count: int) -> int:
    """``ci_count`` examples under the ``ci`` profile (its 200 by default), proportionally
    fewer under ``dev`` (25), so a local run stays quick and CI searches hard."""
    return max(10, ci_count * settings().max_examples // 200)


# -------------------------------------------------------------------------------- comparing


def canon(value: Any) -> Any:
    """A strict, hashable-where-possible form of a value: type name plus exact content."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", repr(value))  # tells -0.0 from 0.0
    if isinstance(value, Decimal):
        # Fixed-point text: tells 1.0 from 1.00 and -0 from 0, but not 1E+4 from 10000,
        # which asyncpg itself produces for whole numbers (a form, not a value).
        return ("Decimal", format(value, "f"))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, bytes):
        return ("bytes", value)
    if isinstance(value, uuid.UUID):  # asyncpg returns a subclass
        return ("UUID", str(value))
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), repr(value.tzinfo))
    if isinstance(value, date):
        return ("date", value.isoformat())
    if isinstance(value, dict):
        # jsonb reorders keys (a declared difference): compare as a set of items.
        return ("dict", tuple(sorted((k, repr(canon(v))) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(canon(v) for v in value))
    raise TypeError(f"unexpected result type {type(value).__name__}: {value!r}")


def canon_rows(rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows as (column names, canonical values), in order."""
    return [(tuple(row.keys()), tuple(canon(v) for v in row.values())) for row in rows]


def expected(value: Any) -> Any:
    """The canonical form a bound Python value must come back as, on both backends."""
    if isinstance(value, Json):
        value = value.value
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    return canon(value)


# -------------------------------------------------------------------------------- strategies

#: Text that stresses comparison, LIKE and storage: empty, case pairs, composed vs
#: combining forms, astral-plane emoji and modifiers, LIKE metacharacters, quotes,
#: numeric-looking text and SQL keywords.
SPECIAL_TEXTS = (
    "",
    " ",
    "a",
    "A",
    "ab",
    "aB",
    "é",
    "e\u0301",
    "É",
    "ß",
    "İ",
    "Ω",
    "👍",
    "👍🏽",
    "🇫🇷",
    "%",
    "_",
    "\\",
    "a%b",
    "a_b",
    "a\\b",
    "'",
    '"',
    "123",
    "1.0",
    "-0",
    "1e3",
    "NULL",
    "true",
    "\t\n",
    "\u200b",
    "\uffff",
    "\U0010ffff",
)

texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12) | (
    st.sampled_from(SPECIAL_TEXTS)
)

INT64_EDGES = (
    -(2**63),
    -(2**63) + 1,
    -(2**31) - 1,
    -1,
    0,
    1,
    2**31 - 1,
    2**31,
    2**53 + 1,
    2**63 - 1,
)
int64s = st.integers(-(2**63), 2**63 - 1) | st.sampled_from(INT64_EDGES)

SPECIAL_DECIMALS = tuple(
    Decimal(d)
    for d in (
        "0",
        "-0",
        "0.00",
        "-0.00",
        "1.10",
        "1E+2",
        "1.5E+3",
        "-1E-30",
        "123456789012345678901234567890.123456789",
        "NaN",
        "Infinity",
        "-Infinity",
    )
)
decimals = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30
) | st.sampled_from(SPECIAL_DECIMALS)

#: Instants around DST changes (gap and overlap, both folds) and at the far edges.
_NY = ZoneInfo("America/New_York")
_LH = ZoneInfo("Australia/Lord_Howe")  # a 30-minute DST shift
SPECIAL_DATETIMES = (
    datetime(2021, 3, 14, 2, 30, tzinfo=_NY),  # does not exist (spring-forward gap)
    datetime(2021, 11, 7, 1, 30, tzinfo=_NY),  # happens twice: fold 0 ...
    datetime(2021, 11, 7, 1, 30, fold=1, tzinfo=_NY),  # ... and fold 1
    datetime(2021, 4, 4, 1, 45, fold=1, tzinfo=_LH),
    datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),  # first instant both backends store
    datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC),  # last one
    datetime(9999, 12, 31, 9, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    datetime(1900, 1, 1, tzinfo=ZoneInfo("Europe/Amsterdam")),  # an LMT offset with seconds
)
#: Aware datetimes whose instant lies in the range both backends can store.
datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
) | st.sampled_from(SPECIAL_DATETIMES)

dates = st.dates() | st.sampled_from((date(1, 1, 1), date(9999, 12, 31), date(2000, 2, 29)))


def _no_negative_zero(x: float) -> float:
    # -0.0 is a declared difference (see test_diff_differences.py), kept out of here.
    return 0.0 if x == 0 else x


floats = st.floats(allow_nan=False).map(_no_negative_zero)
json_floats = st.floats(allow_nan=False, allow_infinity=False).map(_no_negative_zero) | (
    st.sampled_from((1.0, 1e16, 2.5e16, 1e300, 1e-7, 5e-324, 0.1, 123456789.125))
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | json_floats
    | texts
    | st.sampled_from(("123", "1.0", "1e5", "-0", "0x1F", "true", "null", ""))
)
json_documents = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)

#: One value per column of ``items``, each possibly NULL.
COLUMN_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": texts,
    "grp": texts,
    "qty": int64s,
    "flag": st.booleans(),
    "at": datetimes,
    "day": dates,
    "doc": json_documents.map(Json),
    "price": decimals,
    "uid": st.uuids(),
    "ratio": floats,
    "blob": st.binary(max_size=16),
}

item_rows = st.fixed_dictionaries(
    {name: st.none() | strategy for name, strategy in COLUMN_VALUES.items()}
)

INSERT_ITEM: Any = (
    Query.into(ITEMS)
    .columns(ITEMS.id, *(ITEMS.field(c) for c in ITEM_COLUMNS))
    .insert(Param("id"), *(Param(c) for c in ITEM_COLUMNS))
)


async def create_schema(db: dualdb.Database) -> None:
    for statement in schema(db):
        await db.execute(raw(statement))


# -------------------------------------------------------------------------------- one row


_ONE_ROW = (
    Query.into(ITEMS)
    .columns(ITEMS.id, ITEMS.name, ITEMS.qty, ITEMS.price, ITEMS.ratio)
    .insert(Param("id"), Param("name"), Param("qty"), Param("price"), Param("ratio"))
)


async def one_row(
    txs: Sequence[dualdb.Queryable],
    *,
    name: Any = None,
    qty: Any = None,
    price: Any = None,
    ratio: Any = None,
) -> None:
    """Item 1 with these text, bigint, decimal and float values, on each backend."""
    for tx in txs:
        await tx.execute(_ONE_ROW, id=1, name=name, qty=qty, price=price, ratio=ratio)


def fetch_val(query: Any, **values: Any) -> Callable[[dualdb.Queryable], Any]:
    return lambda db: db.fetch_val(query, **values)


def fetch_all(query: Any, **values: Any) -> Callable[[dualdb.Queryable], Any]:
    return lambda db: db.fetch_all(query, **values)


def agree(outcomes: list[Any]) -> None:
    """:func:`on_both` gave the same value of the same type, or the same error class --
    except a float NaN from PostgreSQL, which is a DataError on SQLite, which has no NaN
    (pinned by test_diff_differences.test_a_nan_result_is_an_error_on_sqlite_…)."""
    if isinstance(outcomes[1], float) and outcomes[1] != outcomes[1]:
        assert outcomes[0] == ("raises", "DataError")
        return
    sqlite, postgresql = (
        o if isinstance(o, tuple) and o[:1] == ("raises",) else canon(o) for o in outcomes
    )
    assert sqlite == postgresql
