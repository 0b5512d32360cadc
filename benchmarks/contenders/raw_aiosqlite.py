"""The floor on SQLite: aiosqlite used directly, as a competent user would.

One connection with the same pragmas as dualdb (WAL, ``synchronous=NORMAL``, foreign keys),
autocommit outside explicit transactions, one hop to the connection's thread per
statement (``execute_fetchall``), and ``executemany`` inside one transaction for bulk.
sqlite3's own statement cache reuses the prepared statements.

On the mixed table: the raw contender returns rows as stored (text for UUIDs, timestamps,
numerics and JSON; 0/1 for booleans), the "hand decoding" one converts them with
:func:`benchmarks.mixed.decode_sqlite`; both bulk inserts encode with
:func:`benchmarks.mixed.encode_sqlite` inside the timed call; streams fetch 500 rows per
hop to the thread (dualdb's default ``batch_size``; aiosqlite's cursor iterates one row
per hop otherwise). The concurrent workloads share this one connection among all tasks.
"""

from __future__ import annotations

from itertools import chain
from typing import Any
from uuid import UUID

import aiosqlite

from benchmarks.contenders.base import Contender
from benchmarks.mixed import (
    MIXED_BULK_TABLE,
    MIXED_COLUMNS,
    MIXED_TABLE,
    MixedRow,
    decode_sqlite,
    encode_sqlite,
)
from benchmarks.workloads import (
    BULK,
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

__all__ = ["RawAiosqlite", "RawAiosqliteDecoded", "RawAiosqliteValues"]

SELECT_COLUMNS = "SELECT id, owner_id, name, qty, note FROM bench_items"
PK_SELECT = f"{SELECT_COLUMNS} WHERE id = ?"
KEYSET_PAGE = f"{SELECT_COLUMNS} WHERE id > ? ORDER BY id LIMIT 50"
TYPED_PAGE = f"{SELECT_COLUMNS} WHERE id > ? ORDER BY id LIMIT {TYPED_ROWS}"
INSERT_ONE = "INSERT INTO bench_inserts (id, owner_id, name, qty, note) VALUES (?, ?, ?, ?, ?)"
INSERT_BULK = "INSERT INTO bench_bulk (id, owner_id, name, qty, note) VALUES (?, ?, ?, ?, ?)"
DEBIT = "UPDATE bench_accounts SET balance = balance - ? WHERE id = ?"
CREDIT = "UPDATE bench_accounts SET balance = balance + ? WHERE id = ?"
LEDGER = "INSERT INTO bench_ledger (id, from_id, to_id, amount) VALUES (?, ?, ?, ?)"

MIXED_SELECT = f"SELECT {', '.join(MIXED_COLUMNS)} FROM {MIXED_TABLE}"
MIXED_PK = f"{MIXED_SELECT} WHERE id = ?"
MIXED_UPDATE = f"UPDATE {MIXED_TABLE} SET qty = ? WHERE id = ?"
MIXED_PAGE = f"{MIXED_SELECT} WHERE seq > ? ORDER BY seq LIMIT {PAGE_SIZE}"
MIXED_INSERT = f"INSERT INTO {MIXED_BULK_TABLE} ({', '.join(MIXED_COLUMNS)}) VALUES "
MIXED_ROW_MARKS = "(" + ", ".join("?" * len(MIXED_COLUMNS)) + ")"
#: Rows per multi-row INSERT (dualdb's own chunk, well under SQLite's 32,766 variables).
VALUES_CHUNK = 500
STREAM_BATCH = 500

PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
)


class RawAiosqlite(Contender):
    key = "raw"
    label = "aiosqlite (raw)"
    workloads = STATEMENTS | BULK | TYPED | MIXED
    floor = True
    decodes = False

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

    async def mixed_pk(self, row_id: UUID) -> Any:
        rows = list(await self._conn.execute_fetchall(MIXED_PK, (str(row_id),)))
        return rows[0] if rows else None

    async def mixed_page(self, after: int) -> Any:
        return list(await self._conn.execute_fetchall(MIXED_PAGE, (after,)))

    async def concurrent_update(self, row_id: UUID, qty: int) -> None:
        await self._conn.execute(MIXED_UPDATE, (qty, str(row_id)))

    async def mixed_stream(self, _: None) -> tuple[int, Any]:
        count, last = 0, None
        async with self._conn.execute(MIXED_SELECT) as cursor:
            while rows := await cursor.fetchmany(STREAM_BATCH):
                for row in rows:
                    count += 1
                    last = row
        return count, last

    async def mixed_bulk(self, prepared: list[MixedRow]) -> None:
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.executemany(MIXED_INSERT + MIXED_ROW_MARKS, map(encode_sqlite, prepared))
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")


class RawAiosqliteDecoded(RawAiosqlite):
    """The raw connection plus the cheapest correct decoding into dualdb's Python values."""

    key = "raw_decoded"
    label = "aiosqlite + hand decoding"
    workloads = MIXED_READS | CONCURRENT | {"mixed_stream"}
    decodes = True

    def describe(self) -> str:
        return "one connection; execute_fetchall; decode_sqlite per row"

    async def mixed_pk(self, row_id: UUID) -> Any:
        rows = await self._conn.execute_fetchall(MIXED_PK, (str(row_id),))
        for row in rows:
            return decode_sqlite(row)
        return None

    async def mixed_page(self, after: int) -> Any:
        return list(map(decode_sqlite, await self._conn.execute_fetchall(MIXED_PAGE, (after,))))

    async def mixed_stream(self, _: None) -> tuple[int, Any]:
        count, last = 0, None
        async with self._conn.execute(MIXED_SELECT) as cursor:
            while rows := await cursor.fetchmany(STREAM_BATCH):
                for row in map(decode_sqlite, rows):
                    count += 1
                    last = row
        return count, last


class RawAiosqliteValues(RawAiosqlite):
    """The mixed bulk insert as multi-row ``VALUES`` statements of 500 rows, in one
    transaction (the path dualdb's ``execute_many`` takes on SQLite)."""

    key = "raw_values"
    label = "aiosqlite multi-row VALUES"
    workloads = MIXED_BULK

    def describe(self) -> str:
        return f"one connection; INSERT of {VALUES_CHUNK} rows per statement, one transaction"

    async def mixed_bulk(self, prepared: list[MixedRow]) -> None:
        conn = self._conn
        full = MIXED_INSERT + ", ".join([MIXED_ROW_MARKS] * VALUES_CHUNK)
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(prepared), VALUES_CHUNK):
                chunk = prepared[start : start + VALUES_CHUNK]
                sql = full
                if len(chunk) < VALUES_CHUNK:
                    sql = MIXED_INSERT + ", ".join([MIXED_ROW_MARKS] * len(chunk))
                await conn.execute(sql, list(chain.from_iterable(map(encode_sqlite, chunk))))
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
