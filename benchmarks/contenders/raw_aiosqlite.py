"""The floor on SQLite: aiosqlite used directly, as a competent user would.

One connection with the same pragmas as dualdb (WAL, ``synchronous=NORMAL``, foreign keys),
autocommit outside explicit transactions, one hop to the connection's thread per
statement (``execute_fetchall``), and ``executemany`` inside one transaction for bulk.
sqlite3's own statement cache reuses the prepared statements.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from benchmarks.contenders.base import Contender
from benchmarks.workloads import BULK, STATEMENTS, TYPED, TYPED_ROWS, Item, ItemRow, Transfer

__all__ = ["RawAiosqlite"]

SELECT_COLUMNS = "SELECT id, owner_id, name, qty, note FROM bench_items"
PK_SELECT = f"{SELECT_COLUMNS} WHERE id = ?"
KEYSET_PAGE = f"{SELECT_COLUMNS} WHERE id > ? ORDER BY id LIMIT 50"
TYPED_PAGE = f"{SELECT_COLUMNS} WHERE id > ? ORDER BY id LIMIT {TYPED_ROWS}"
INSERT_ONE = "INSERT INTO bench_inserts (id, owner_id, name, qty, note) VALUES (?, ?, ?, ?, ?)"
INSERT_BULK = "INSERT INTO bench_bulk (id, owner_id, name, qty, note) VALUES (?, ?, ?, ?, ?)"
DEBIT = "UPDATE bench_accounts SET balance = balance - ? WHERE id = ?"
CREDIT = "UPDATE bench_accounts SET balance = balance + ? WHERE id = ?"
LEDGER = "INSERT INTO bench_ledger (id, from_id, to_id, amount) VALUES (?, ?, ?, ?)"

PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
)


class RawAiosqlite(Contender):
    key = "raw"
    label = "aiosqlite (raw)"
    workloads = STATEMENTS | BULK | TYPED

    _conn: aiosqlite.Connection

    async def open(self) -> None:
        self._conn = await aiosqlite.connect(self.target.location, isolation_level=None)
        for pragma in PRAGMAS:
            await self._conn.execute(pragma)

    async def close(self) -> None:
        await self._conn.close()

    def describe(self) -> str:
        return "one connection; execute_fetchall; executemany in one transaction"

    async def pk_select(self, item_id: int) -> Any:
        rows = list(await self._conn.execute_fetchall(PK_SELECT, (item_id,)))
        return rows[0] if rows else None

    async def insert_one(self, row: ItemRow) -> None:
        await self._conn.execute(INSERT_ONE, row)

    async def transaction(self, transfer: Transfer) -> None:
        _, source, dest, amount = transfer
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.execute(DEBIT, (amount, source))
            await conn.execute(CREDIT, (amount, dest))
            await conn.execute(LEDGER, transfer)
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

    async def keyset_page(self, after: int) -> Any:
        return list(await self._conn.execute_fetchall(KEYSET_PAGE, (after,)))

    async def typed_rows(self, after: int) -> Any:
        return [Item(*row) for row in await self._conn.execute_fetchall(TYPED_PAGE, (after,))]

    async def bulk_insert(self, prepared: Any) -> None:
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.executemany(INSERT_BULK, prepared)
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
