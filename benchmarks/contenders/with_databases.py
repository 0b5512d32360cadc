"""encode/databases, with the same prebuilt SQLAlchemy Core statements.

Used with its defaults, as its documentation shows: on PostgreSQL an asyncpg pool (whose
release runs asyncpg's reset query); on SQLite a new aiosqlite connection per operation
outside a transaction (that is how its SQLite backend works), so the per-connection
pragmas cannot be applied — only WAL, which is stored in the database file. Bulk inserts
run ``execute_many`` (one statement per row) inside a transaction. Its API binds values
to a prebuilt statement with ``.params()`` (selects) or ``.values()`` (inserts); an UPDATE
whose new value depends on the old one is built per call. The mixed table is read and
written with the same SQLAlchemy tables as the SQLAlchemy contender's, and streamed with
its ``iterate``. On PostgreSQL databases leaves decoding jsonb to asyncpg, which returns
text: its pool gets ``json.loads`` as the jsonb decoder (its ``init`` option), so it
returns the same values as the others (SQLAlchemy's JSONB type already encodes).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from benchmarks.contenders.base import Contender, Unavailable
from benchmarks.contenders.with_sqlalchemy import (
    INSERT_BULK,
    INSERT_ONE,
    KEYSET_PAGE,
    PK_SELECT,
    RECORD,
    MixedStatements,
    accounts,
)
from benchmarks.mixed import MIXED_COLUMNS, MixedRow
from benchmarks.workloads import BULK, COLUMNS, MIXED, STATEMENTS, ItemRow, Transfer

try:
    from databases import Database
    from sqlalchemy import update
except ImportError as exc:
    raise Unavailable(f"databases is not installed ({exc})") from None

__all__ = ["EncodeDatabases"]


async def _json_decoder(con: Any) -> None:
    await con.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=str, decoder=json.loads, format="text"
    )


class EncodeDatabases(Contender):
    key = "databases"
    label = "databases"
    workloads = STATEMENTS | BULK | MIXED

    _db: Database

    async def open(self) -> None:
        self._mixed = MixedStatements(self.target.backend)
        options = {"init": _json_decoder} if self.target.backend == "postgresql" else {}
        self._db = Database(self.target.sqlalchemy_url, **options)
        await self._db.connect()

    async def close(self) -> None:
        await self._db.disconnect()

    def describe(self) -> str:
        return "defaults; prebuilt SQLAlchemy Core statements; execute_many in a transaction"

    async def pk_select(self, item_id: int) -> Any:
        return await self._db.fetch_one(PK_SELECT.params(item_id=item_id))

    async def insert_one(self, row: ItemRow) -> None:
        await self._db.execute(INSERT_ONE, dict(zip(COLUMNS, row, strict=True)))

    async def transaction(self, transfer: Transfer) -> None:
        ledger_id, source, dest, amount = transfer
        async with self._db.transaction():
            await self._db.execute(
                update(accounts)
                .where(accounts.c.id == source)
                .values(balance=accounts.c.balance - amount)
            )
            await self._db.execute(
                update(accounts)
                .where(accounts.c.id == dest)
                .values(balance=accounts.c.balance + amount)
            )
            await self._db.execute(
                RECORD, {"id": ledger_id, "from_id": source, "to_id": dest, "amount": amount}
            )

    async def keyset_page(self, after: int) -> Any:
        return await self._db.fetch_all(KEYSET_PAGE.params(after=after))

    def prepare_bulk(self, rows: list[ItemRow]) -> Any:
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    async def bulk_insert(self, prepared: Any) -> None:
        async with self._db.transaction():
            await self._db.execute_many(INSERT_BULK, prepared)

    async def mixed_pk(self, row_id: UUID) -> Any:
        return await self._db.fetch_one(self._mixed.pk.params(row_id=row_id))

    async def mixed_page(self, after: int) -> Any:
        return await self._db.fetch_all(self._mixed.page.params(after=after))

    async def concurrent_update(self, row_id: UUID, qty: int) -> None:
        # (databases binds values into the statement: an UPDATE built per call)
        mixed = self._mixed.table
        await self._db.execute(update(mixed).where(mixed.c.id == row_id).values(qty=qty))

    async def mixed_stream(self, _: None) -> tuple[int, Any]:
        count, last = 0, None
        async for row in self._db.iterate(self._mixed.stream):
            count += 1
            last = row
        return count, last

    def prepare_mixed_bulk(self, rows: list[MixedRow]) -> Any:
        return [dict(zip(MIXED_COLUMNS, row, strict=True)) for row in rows]

    async def mixed_bulk(self, prepared: Any) -> None:
        async with self._db.transaction():
            await self._db.execute_many(self._mixed.insert, prepared)
