"""The floor on PostgreSQL: an asyncpg pool used directly, as a competent user would.

Same pool configuration as dualdb's (no per-release reset query, so release costs no
round trip), asyncpg's statement cache (each statement is prepared once per connection
and reused), ``copy_records_to_table`` for bulk inserts; and, as a second contender,
``executemany`` for bulk inserts.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from benchmarks.contenders.base import Contender
from benchmarks.workloads import (
    BULK,
    BULK_TABLE,
    COLUMNS,
    STATEMENTS,
    TYPED,
    TYPED_ROWS,
    Item,
    ItemRow,
    Transfer,
)

__all__ = ["RawAsyncpg", "RawAsyncpgConnection", "RawAsyncpgExecutemany", "no_reset"]

SELECT_COLUMNS = "SELECT id, owner_id, name, qty, note FROM bench_items"
PK_SELECT = f"{SELECT_COLUMNS} WHERE id = $1"
KEYSET_PAGE = f"{SELECT_COLUMNS} WHERE id > $1 ORDER BY id LIMIT 50"
TYPED_PAGE = f"{SELECT_COLUMNS} WHERE id > $1 ORDER BY id LIMIT {TYPED_ROWS}"
INSERT_ONE = "INSERT INTO bench_inserts (id, owner_id, name, qty, note) VALUES ($1, $2, $3, $4, $5)"
INSERT_BULK = "INSERT INTO bench_bulk (id, owner_id, name, qty, note) VALUES ($1, $2, $3, $4, $5)"
DEBIT = "UPDATE bench_accounts SET balance = balance - $1 WHERE id = $2"
CREDIT = "UPDATE bench_accounts SET balance = balance + $1 WHERE id = $2"
LEDGER = "INSERT INTO bench_ledger (id, from_id, to_id, amount) VALUES ($1, $2, $3, $4)"


async def no_reset(con: asyncpg.Connection) -> None:
    """asyncpg's default reset costs a round trip per release; dualdb's pool skips it too."""


class RawAsyncpg(Contender):
    key = "raw"
    label = "asyncpg (raw)"
    workloads = STATEMENTS | BULK | TYPED

    _pool: asyncpg.Pool

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.target.location, min_size=1, max_size=5, reset=no_reset
        )

    async def close(self) -> None:
        await self._pool.close()

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


class RawAsyncpgExecutemany(RawAsyncpg):
    """The same pool, bulk-inserting with ``executemany`` (atomic) instead of COPY."""

    key = "raw_executemany"
    label = "asyncpg executemany (raw)"
    workloads = BULK

    def describe(self) -> str:
        return "pool without reset query; executemany"

    async def bulk_insert(self, prepared: Any) -> None:
        await self._pool.executemany(INSERT_BULK, prepared)


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
