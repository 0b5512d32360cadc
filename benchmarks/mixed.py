"""The mixed table: ten columns of the types applications store, and their data.

SQLite hands back what it stored (UUIDs, timestamps, numerics and JSON as text, booleans
as 0/1), so part of dualdb's time there is decoding the raw driver does not do. The
"raw + hand decoding" contenders pay for that too, with the cheapest correct conversion
to the Python values dualdb returns, written out here once per backend: their ratio is
dualdb's own overhead. The encoders are the hand-written way into the same stored form
dualdb writes (the raw bulk inserts use them, inside the timed call).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from pypika import Column

from dualdb import Query, Table

__all__ = [
    "MIXED_BULK_TABLE",
    "MIXED_COLUMNS",
    "MIXED_TABLE",
    "MixedRow",
    "decode_sqlite",
    "encode_postgres",
    "encode_sqlite",
    "mixed_ddl",
    "mixed_id",
    "mixed_row",
]

MIXED_TABLE = "bench_mixed"
MIXED_BULK_TABLE = "bench_mixed_bulk"
#: In order: uuid, bigint (the indexed sort key), text, integer, bigint, boolean,
#: timestamptz, numeric, json, nullable text.
MIXED_COLUMNS = (
    "id",
    "seq",
    "name",
    "qty",
    "total",
    "active",
    "created_at",
    "price",
    "attrs",
    "note",
)
_TYPES = (
    "uuid",
    "bigint",
    "text",
    "integer",
    "bigint",
    "boolean",
    "timestamptz",
    "decimal",
    "json",
    "text",
)

MixedRow = tuple[UUID, int, str, int, int, bool, datetime, Decimal, Any, str | None]

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: seq -> id is a bijection mod 2**128


def mixed_id(seq: int) -> UUID:
    """The primary key of row ``seq`` (scattered, so the index order is not seq order)."""
    return UUID(int=seq * _MIX % 2**128)


def mixed_row(seq: int) -> MixedRow:
    """The deterministic content of row ``seq`` (every fifth has no note)."""
    return (
        mixed_id(seq),
        seq,
        f"customer {seq:08d} — ünïcode ✓",
        seq * 7 % 1000,
        seq * 1_000_003,
        seq % 3 != 0,
        _EPOCH + timedelta(seconds=seq * 37, microseconds=seq % 1_000_000),
        Decimal(f"{seq % 100_000}.{seq % 100:02d}"),
        {"tier": seq % 4, "tags": ["a", f"t{seq % 10}"], "vip": seq % 7 == 0},
        None if seq % 5 == 0 else f"note {seq}",
    )


def mixed_ddl() -> list[Any]:
    """The two tables and the index, in dualdb's portable DDL (logical column types)."""
    columns = [
        Column(name, kind, nullable=name == "note")
        for name, kind in zip(MIXED_COLUMNS, _TYPES, strict=True)
    ]
    out: list[Any] = [
        Query.create_table(Table(name)).columns(*columns).primary_key("id")
        for name in (MIXED_TABLE, MIXED_BULK_TABLE)
    ]
    index = Query.create_index("bench_mixed_by_seq").on(Table(MIXED_TABLE)).columns("seq")
    out.append(index.unique())
    return out


# ---------------------------------------------------------------------------- SQLite by hand

_uuid = UUID
_timestamp = datetime.fromisoformat
_loads = json.loads


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def decode_sqlite(row: Any) -> tuple[Any, ...]:
    """A stored row as dualdb returns it: only the columns whose stored form differs.

    Every timestamp in the table was written in UTC with its offset, so ``fromisoformat``
    alone gives the aware UTC datetime; only ``note`` may be NULL.
    """
    id_, seq, name, qty, total, active, created_at, price, attrs, note = row
    return (
        _uuid(id_),
        seq,
        name,
        qty,
        total,
        active == 1,
        _timestamp(created_at),
        Decimal(price),
        _loads(attrs),
        note,
    )


def encode_sqlite(row: MixedRow) -> tuple[Any, ...]:
    """A row in the stored form dualdb writes (UTC timestamps, fixed-point numerics)."""
    id_, seq, name, qty, total, active, created_at, price, attrs, note = row
    return (
        str(id_),
        seq,
        name,
        qty,
        total,
        active,
        created_at.astimezone(UTC).isoformat(" ", "microseconds"),
        format(price, "f"),
        _dumps(attrs),
        note,
    )


def encode_postgres(row: MixedRow) -> tuple[Any, ...]:
    """A row as asyncpg takes it: only JSON needs turning into text."""
    return (*row[:8], _dumps(row[8]), row[9])
