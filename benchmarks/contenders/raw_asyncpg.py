"""The floor on PostgreSQL: an asyncpg pool used directly, as a competent user would.

Same pool configuration as dualdb's (no per-release reset query, so release costs no
round trip), asyncpg's statement cache (each statement is prepared once per connection
and reused), ``copy_records_to_table`` for bulk inserts; and, as a second contender,
``executemany`` for bulk inserts.

On the mixed table asyncpg decodes every type but JSON, which it returns as text: the raw
contender leaves it so, the "hand decoding" one registers ``json.loads`` as the jsonb
codec. The bulk inserts turn JSON into text by hand, inside the timed call. The concurrent
workloads run over a second pool as large as dualdb's default one.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from benchmarks.contenders.base import Contender
from benchmarks.mixed import (
    MIXED_BULK_TABLE,
    MIXED_COLUMNS,
    MIXED_TABLE,
    MixedRow,
    encode_postgres,
)
from benchmarks.workloads import (
    BULK,
    BULK_TABLE,
    COLUMNS,
    CONCURRENT,
    MIXED,
    MIXED_BULK,
    MIXED_READS,
    PAGE_SIZE,
    STATEMENTS,
    TYPED,
    TYPED_ROWS,
    Item,
    ItemRow,
    Transfer,
)

__all__ = [
    "RawAsyncpg",
    "RawAsyncpgConnection",
    "RawAsyncpgDecoded",
    "RawAsyncpgExecutemany",
    "json_codec",
    "no_reset",
]

SELECT_COLUMNS = "SELECT id, owner_id, name, qty, note FROM bench_items"
PK_SELECT = f"{SELECT_COLUMNS} WHERE id = $1"
KEYSET_PAGE = f"{SELECT_COLUMNS} WHERE id > $1 ORDER BY id LIMIT 50"
TYPED_PAGE = f"{SELECT_COLUMNS} WHERE id > $1 ORDER BY id LIMIT {TYPED_ROWS}"
INSERT_ONE = "INSERT INTO bench_inserts (id, owner_id, name, qty, note) VALUES ($1, $2, $3, $4, $5)"
INSERT_BULK = "INSERT INTO bench_bulk (id, owner_id, name, qty, note) VALUES ($1, $2, $3, $4, $5)"
DEBIT = "UPDATE bench_accounts SET balance = balance - $1 WHERE id = $2"
CREDIT = "UPDATE bench_accounts SET balance = balance + $1 WHERE id = $2"
LEDGER = "INSERT INTO bench_ledger (id, from_id, to_id, amount) VALUES ($1, $2, $3, $4)"

MIXED_SELECT = f"SELECT {', '.join(MIXED_COLUMNS)} FROM {MIXED_TABLE}"
MIXED_PK = f"{MIXED_SELECT} WHERE id = $1"
MIXED_UPDATE = f"UPDATE {MIXED_TABLE} SET qty = $1 WHERE id = $2"
MIXED_PAGE = f"{MIXED_SELECT} WHERE seq > $1 ORDER BY seq LIMIT {PAGE_SIZE}"
MIXED_INSERT = (
    f"INSERT INTO {MIXED_BULK_TABLE} ({', '.join(MIXED_COLUMNS)}) VALUES "
    f"({', '.join(f'${i}' for i in range(1, len(MIXED_COLUMNS) + 1))})"
)
STREAM_PREFETCH = 500  # dualdb's default iterate batch_size


async def json_codec(con: asyncpg.Connection) -> None:
    """jsonb as Python values both ways, the cheapest way asyncpg offers."""
    await con.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text"
    )


async def no_reset(con: asyncpg.Connection) -> None:
    """asyncpg's default reset costs a round trip per release; dualdb's pool skips it too."""


class RawAsyncpg(Contender):
    key = "raw"
    label = "asyncpg (raw)"
    workloads = STATEMENTS | BULK | TYPED | MIXED
    floor = True
    decodes = False

    _pool: asyncpg.Pool
    _wide: asyncpg.Pool | None = None

    async def _init(self, con: asyncpg.Connection) -> None:
        """Per-connection setup (none: asyncpg's own codecs)."""

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.target.location, min_size=1, max_size=5, reset=no_reset, init=self._init
        )
        if self.workloads & CONCURRENT:
            size = self.target.dualdb_settings().pool_max_size
            self._wide = await asyncpg.create_pool(
                self.target.location, min_size=1, max_size=size, reset=no_reset, init=self._init
            )

    async def close(self) -> None:
        await self._pool.close()
        if self._wide is not None:
            await self._wide.close()

    def describe(self) -> str:
        return "pool without reset query; statement cache; copy_records_to_table"

    async def pk_select(self, item_id: int) -> Any:
        return await self._pool.fetchrow(PK_SELECT, item_id)

    async def insert_one(self, row: ItemRow) -> None:
        await self._pool.execute(INSERT_ONE, *row)

    async def transaction(self, transfer: Transfer) -> None:
        _, source, dest, amount = transfer
        async with self._pool.acquire() as con, con.transaction():
            await con.execute(DEBIT, amount, source)
            await con.execute(CREDIT, amount, dest)
            await con.execute(LEDGER, *transfer)

    async def keyset_page(self, after: int) -> Any:
        return await self._pool.fetch(KEYSET_PAGE, after)

    async def typed_rows(self, after: int) -> Any:
        return [Item(*row) for row in await self._pool.fetch(TYPED_PAGE, after)]

    async def bulk_insert(self, prepared: Any) -> None:
        async with self._pool.acquire() as con:
            await con.copy_records_to_table(BULK_TABLE, records=prepared, columns=COLUMNS)

    async def mixed_pk(self, row_id: UUID) -> Any:
        return await self._pool.fetchrow(MIXED_PK, row_id)

    async def mixed_page(self, after: int) -> Any:
        return await self._pool.fetch(MIXED_PAGE, after)

    async def mixed_stream(self, _: None) -> tuple[int, Any]:
        count, last = 0, None
        async with self._pool.acquire() as con, con.transaction():
            async for row in con.cursor(MIXED_SELECT, prefetch=STREAM_PREFETCH):
                count += 1
                last = row
        return count, last

    async def mixed_bulk(self, prepared: list[MixedRow]) -> None:
        async with self._pool.acquire() as con:
            await con.copy_records_to_table(
                MIXED_BULK_TABLE, records=map(encode_postgres, prepared), columns=MIXED_COLUMNS
            )

    async def concurrent_select(self, row_id: UUID) -> Any:
        assert self._wide is not None
        return await self._wide.fetchrow(MIXED_PK, row_id)

    async def concurrent_update(self, row_id: UUID, qty: int) -> None:
        assert self._wide is not None
        await self._wide.execute(MIXED_UPDATE, qty, row_id)


class RawAsyncpgExecutemany(RawAsyncpg):
    """The same pool, bulk-inserting with ``executemany`` (atomic) instead of COPY."""

    key = "raw_executemany"
    label = "asyncpg executemany (raw)"
    workloads = BULK | MIXED_BULK

    def describe(self) -> str:
        return "pool without reset query; executemany"

    async def bulk_insert(self, prepared: Any) -> None:
        await self._pool.executemany(INSERT_BULK, prepared)

    async def mixed_bulk(self, prepared: list[MixedRow]) -> None:
        await self._pool.executemany(MIXED_INSERT, map(encode_postgres, prepared))


class RawAsyncpgDecoded(RawAsyncpg):
    """The raw pools with ``json.loads`` as the jsonb decoder: every value as dualdb's."""

    key = "raw_decoded"
    label = "asyncpg + hand decoding"
    workloads = MIXED_READS | CONCURRENT | {"mixed_stream"}
    decodes = True

    async def _init(self, con: asyncpg.Connection) -> None:
        await json_codec(con)

    def describe(self) -> str:
        return "pool without reset query; json.loads as the jsonb codec"


class RawAsyncpgConnection(Contender):
    """One asyncpg connection, no pool: the floor below any pool (asyncpg's, dualdb's).

    A competent user with one task at a time could write this; a server with concurrent
    requests cannot share it, which is why the pool is the baseline (``x raw``).
    """

    key = "raw_connection"
    label = "asyncpg (one connection)"
    workloads = STATEMENTS

    _con: asyncpg.Connection

    async def open(self) -> None:
        self._con = await asyncpg.connect(self.target.location)

    async def close(self) -> None:
        await self._con.close()

    def describe(self) -> str:
        return "a single connection; statement cache"

    async def pk_select(self, item_id: int) -> Any:
        return await self._con.fetchrow(PK_SELECT, item_id)

    async def insert_one(self, row: ItemRow) -> None:
        await self._con.execute(INSERT_ONE, *row)

    async def transaction(self, transfer: Transfer) -> None:
        _, source, dest, amount = transfer
        con = self._con
        async with con.transaction():
            await con.execute(DEBIT, amount, source)
            await con.execute(CREDIT, amount, dest)
            await con.execute(LEDGER, *transfer)

    async def keyset_page(self, after: int) -> Any:
        return await self._con.fetch(KEYSET_PAGE, after)
