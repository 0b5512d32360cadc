"""dualdb, written the two ways its users write it.

* prebuilt: module-level PyPika queries with :class:`dualdb.Param` — rendered once per
  dialect, then each call costs a cache lookup plus the driver call;
* ad-hoc: the PyPika query built per call with the values inline — each call pays for
  PyPika's builder and a full render.

The concurrent workloads run over a second Database with dualdb's default settings (its
default pool), as an application would open it.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import dualdb
from benchmarks.contenders.base import Contender
from benchmarks.mixed import MIXED_BULK_TABLE, MIXED_COLUMNS, MIXED_TABLE, MixedRow
from benchmarks.workloads import (
    BULK,
    BULK_TABLE,
    COLUMNS,
    CONCURRENT,
    MIXED,
    PAGE_SIZE,
    STATEMENTS,
    TYPED,
    TYPED_ROWS,
    Item,
    ItemRow,
    Transfer,
)
from dualdb import Param, Query, Table

__all__ = ["DualdbAdhoc", "DualdbPrebuilt"]

ITEMS = Table("bench_items")
INSERTS = Table("bench_inserts")
BULK_ITEMS = Table(BULK_TABLE)
ACCOUNTS = Table("bench_accounts")
LEDGER = Table("bench_ledger")
ITEM_FIELDS = [ITEMS.field(c) for c in COLUMNS]

PK_SELECT = Query.from_(ITEMS).select(*ITEM_FIELDS).where(ITEMS.id == Param("id"))
KEYSET_PAGE = (
    Query.from_(ITEMS)
    .select(*ITEM_FIELDS)
    .where(ITEMS.id > Param("after"))
    .orderby(ITEMS.id)
    .limit(PAGE_SIZE)
)
TYPED_PAGE = (
    Query.from_(ITEMS)
    .select(*ITEM_FIELDS)
    .where(ITEMS.id > Param("after"))
    .orderby(ITEMS.id)
    .limit(TYPED_ROWS)
)
INSERT_ONE = Query.into(INSERTS).columns(*COLUMNS).insert(*(Param(c) for c in COLUMNS))
INSERT_BULK = Query.into(BULK_ITEMS).columns(*COLUMNS).insert(*(Param(c) for c in COLUMNS))
DEBIT = (
    Query.update(ACCOUNTS)
    .set(ACCOUNTS.balance, ACCOUNTS.balance - Param("amount"))
    .where(ACCOUNTS.id == Param("account"))
)
CREDIT = (
    Query.update(ACCOUNTS)
    .set(ACCOUNTS.balance, ACCOUNTS.balance + Param("amount"))
    .where(ACCOUNTS.id == Param("account"))
)
RECORD = (
    Query.into(LEDGER)
    .columns("id", "from_id", "to_id", "amount")
    .insert(Param("id"), Param("from_id"), Param("to_id"), Param("amount"))
)
MIXED_T = Table(MIXED_TABLE)
MIXED_FIELDS = [MIXED_T.field(c) for c in MIXED_COLUMNS]
MIXED_STREAM = Query.from_(MIXED_T).select(*MIXED_FIELDS)
MIXED_PK = MIXED_STREAM.where(MIXED_T.id == Param("id"))
MIXED_UPDATE = Query.update(MIXED_T).set(MIXED_T.qty, Param("qty")).where(MIXED_T.id == Param("id"))
MIXED_PAGE = MIXED_STREAM.where(MIXED_T.seq > Param("after")).orderby(MIXED_T.seq).limit(PAGE_SIZE)
MIXED_INSERT = (
    Query.into(Table(MIXED_BULK_TABLE))
    .columns(*MIXED_COLUMNS)
    .insert(*(Param(c) for c in MIXED_COLUMNS))
)

# A 100k-row bulk insert can exceed the default slow-query threshold; its WARNING would
# only clutter the benchmark's output.
logging.getLogger("dualdb").addHandler(logging.NullHandler())


class DualdbContender(Contender):
    """A contender running through one dualdb Database with a pool of five."""

    _db: dualdb.Database
    _wide: dualdb.Database | None = None

    async def open(self) -> None:
        self._db = await dualdb.connect(settings=self.target.dualdb_settings(pool_max_size=5))
        if self.workloads & CONCURRENT:
            self._wide = await dualdb.connect(settings=self.target.dualdb_settings())

    async def close(self) -> None:
        await self._db.close()
        if self._wide is not None:
            await self._wide.close()


class DualdbPrebuilt(DualdbContender):
    key = "dualdb"
    label = "dualdb (prebuilt)"
    workloads = STATEMENTS | BULK | TYPED | MIXED

    def describe(self) -> str:
        return "module-level queries with Param; execute_many (COPY on PostgreSQL)"

    async def mixed_pk(self, row_id: UUID) -> Any:
        return await self._db.fetch_one(MIXED_PK, id=row_id)

    async def mixed_page(self, after: int) -> Any:
        return await self._db.fetch_all(MIXED_PAGE, after=after)

    async def mixed_stream(self, _: None) -> tuple[int, Any]:
        count, last = 0, None
        async for record in self._db.iterate(MIXED_STREAM):
            count += 1
            last = record
        return count, last

    def prepare_mixed_bulk(self, rows: list[MixedRow]) -> Any:
        return [dict(zip(MIXED_COLUMNS, row, strict=True)) for row in rows]

    async def mixed_bulk(self, prepared: Any) -> None:
        await self._db.execute_many(MIXED_INSERT, prepared)

    async def concurrent_select(self, row_id: UUID) -> Any:
        assert self._wide is not None
        return await self._wide.fetch_one(MIXED_PK, id=row_id)

    async def concurrent_update(self, row_id: UUID, qty: int) -> None:
        assert self._wide is not None
        await self._wide.execute(MIXED_UPDATE, id=row_id, qty=qty)

    async def pk_select(self, item_id: int) -> Any:
        return await self._db.fetch_one(PK_SELECT, id=item_id)

    async def insert_one(self, row: ItemRow) -> None:
        item_id, owner_id, name, qty, note = row
        await self._db.execute(
            INSERT_ONE, id=item_id, owner_id=owner_id, name=name, qty=qty, note=note
        )

    async def transaction(self, transfer: Transfer) -> None:
        ledger_id, source, dest, amount = transfer
        async with self._db.transaction() as tx:
            await tx.execute(DEBIT, amount=amount, account=source)
            await tx.execute(CREDIT, amount=amount, account=dest)
            await tx.execute(RECORD, id=ledger_id, from_id=source, to_id=dest, amount=amount)

    async def keyset_page(self, after: int) -> Any:
        return await self._db.fetch_all(KEYSET_PAGE, after=after)

    async def typed_rows(self, after: int) -> Any:
        return await self._db.fetch_all(TYPED_PAGE, after=after, as_=Item)

    def prepare_bulk(self, rows: list[ItemRow]) -> Any:
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    async def bulk_insert(self, prepared: Any) -> None:
        await self._db.execute_many(INSERT_BULK, prepared)


class DualdbAdhoc(DualdbPrebuilt):
    """Each query built per call, values inline (dualdb still binds them as parameters)."""

    key = "dualdb_adhoc"
    label = "dualdb (ad-hoc)"
    style = "adhoc"
    workloads = STATEMENTS

    def describe(self) -> str:
        return "PyPika query built per call with inline values"

    async def pk_select(self, item_id: int) -> Any:
        query = Query.from_(ITEMS).select(*ITEM_FIELDS).where(ITEMS.id == item_id)
        return await self._db.fetch_one(query)

    async def insert_one(self, row: ItemRow) -> None:
        await self._db.execute(Query.into(INSERTS).columns(*COLUMNS).insert(*row))

    async def transaction(self, transfer: Transfer) -> None:
        ledger_id, source, dest, amount = transfer
        async with self._db.transaction() as tx:
            await tx.execute(
                Query.update(ACCOUNTS)
                .set(ACCOUNTS.balance, ACCOUNTS.balance - amount)
                .where(ACCOUNTS.id == source)
            )
            await tx.execute(
                Query.update(ACCOUNTS)
                .set(ACCOUNTS.balance, ACCOUNTS.balance + amount)
                .where(ACCOUNTS.id == dest)
            )
            await tx.execute(
                Query.into(LEDGER)
                .columns("id", "from_id", "to_id", "amount")
                .insert(ledger_id, source, dest, amount)
            )

    async def keyset_page(self, after: int) -> Any:
        query = (
            Query.from_(ITEMS)
            .select(*ITEM_FIELDS)
            .where(ITEMS.id > after)
            .orderby(ITEMS.id)
            .limit(PAGE_SIZE)
        )
        return await self._db.fetch_all(query)
