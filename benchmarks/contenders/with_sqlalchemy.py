"""SQLAlchemy Core (async), configured for its best case.

* Single statements run on an ``AUTOCOMMIT`` engine: SQLAlchemy's default engine wraps
  every statement in BEGIN … ROLLBACK/COMMIT on PostgreSQL (two more round trips). That
  is what its tutorial's ``engine.connect()``/``engine.begin()`` do, measured separately
  as :class:`SqlalchemyDefaults`.
* Transactions and bulk inserts run on a default engine under ``engine.begin()``.
* Statements are built once with ``bindparam`` (prebuilt) or per call with inline values
  (ad-hoc); either way SQLAlchemy's compiled cache (on by default) holds the SQL.
* On SQLite every connection gets the same pragmas as dualdb's.
* The mixed table uses SQLAlchemy's own types on PostgreSQL (``Uuid``, ``DateTime(timezone
  =True)``, ``Numeric``, ``JSONB``); on SQLite, where its ``Uuid`` stores hex without
  dashes and its ``DateTime`` drops the offset, small ``TypeDecorator``s read and write the
  stored form dualdb uses, so every contender returns the same values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from benchmarks.contenders.base import Contender, Unavailable
from benchmarks.contenders.raw_aiosqlite import PRAGMAS
from benchmarks.mixed import MIXED_BULK_TABLE, MIXED_COLUMNS, MIXED_TABLE, MixedRow
from benchmarks.workloads import (
    BULK,
    BULK_TABLE,
    COLUMNS,
    MIXED,
    PAGE_SIZE,
    STATEMENTS,
    ItemRow,
    Transfer,
)

try:
    from sqlalchemy import (
        JSON,
        BigInteger,
        Boolean,
        Column,
        DateTime,
        Integer,
        MetaData,
        Numeric,
        Table,
        Text,
        TypeDecorator,
        Uuid,
        bindparam,
        event,
        insert,
        select,
        update,
    )
    from sqlalchemy.dialects.postgresql import JSONB
    from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
except ImportError as exc:  # the `bench` extra is not installed
    raise Unavailable(f"SQLAlchemy is not installed ({exc})") from None

__all__ = [
    "MixedStatements",
    "SqlalchemyAdhoc",
    "SqlalchemyCore",
    "SqlalchemyDefaults",
    "mixed_tables",
]

metadata = MetaData()


def _item_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("owner_id", BigInteger, nullable=False),
        Column("name", Text, nullable=False),
        Column("qty", BigInteger, nullable=False),
        Column("note", Text),
    )


items = _item_table("bench_items")
inserts = _item_table("bench_inserts")
bulk = _item_table(BULK_TABLE)
accounts = Table(
    "bench_accounts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("balance", BigInteger, nullable=False),
)
ledger = Table(
    "bench_ledger",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("from_id", BigInteger, nullable=False),
    Column("to_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
)


class _SqliteUuid(TypeDecorator[UUID]):  # type: ignore[misc]  # Any to mypy
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else UUID(value)


class _SqliteTimestamp(TypeDecorator[datetime]):  # type: ignore[misc]  # Any to mypy
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else value.astimezone(UTC).isoformat(" ", "microseconds")

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else datetime.fromisoformat(value)


class _SqliteDecimal(TypeDecorator[Decimal]):  # type: ignore[misc]  # Any to mypy
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return None if value is None else format(value, "f")

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else Decimal(value)


def mixed_tables(backend: str) -> tuple[Table, Table]:
    """The mixed table and its bulk twin, typed for ``backend`` (each in its own MetaData)."""
    if backend == "sqlite":
        types: tuple[Any, ...] = (_SqliteUuid(), _SqliteTimestamp(), _SqliteDecimal(), JSON())
    else:
        types = (Uuid(), DateTime(timezone=True), Numeric(asdecimal=True), JSONB())
    uuid_type, timestamp_type, decimal_type, json_type = types
    own = MetaData()

    def table(name: str) -> Table:
        return Table(
            name,
            own,
            Column("id", uuid_type, primary_key=True),
            Column("seq", BigInteger, nullable=False),
            Column("name", Text, nullable=False),
            Column("qty", Integer, nullable=False),
            Column("total", BigInteger, nullable=False),
            Column("active", Boolean, nullable=False),
            Column("created_at", timestamp_type, nullable=False),
            Column("price", decimal_type, nullable=False),
            Column("attrs", json_type, nullable=False),
            Column("note", Text),
        )

    return table(MIXED_TABLE), table(MIXED_BULK_TABLE)


class MixedStatements:
    """The prebuilt statements of the mixed workloads for one backend."""

    def __init__(self, backend: str) -> None:
        mixed, mixed_bulk = mixed_tables(backend)
        self.pk = select(mixed).where(mixed.c.id == bindparam("row_id"))
        self.page = (
            select(mixed).where(mixed.c.seq > bindparam("after")).order_by(mixed.c.seq)
        ).limit(PAGE_SIZE)
        self.stream = select(mixed).execution_options(yield_per=500)
        self.insert = insert(mixed_bulk)
        self.table = mixed
        self.update = (
            update(mixed).where(mixed.c.id == bindparam("row_id")).values(qty=bindparam("qty"))
        )


PK_SELECT = select(items).where(items.c.id == bindparam("item_id"))
KEYSET_PAGE = (
    select(items).where(items.c.id > bindparam("after")).order_by(items.c.id).limit(PAGE_SIZE)
)
INSERT_ONE = insert(inserts)
INSERT_BULK = insert(bulk)
DEBIT = (
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(balance=accounts.c.balance - bindparam("amount"))
)
CREDIT = (
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(balance=accounts.c.balance + bindparam("amount"))
)
RECORD = insert(ledger)


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _engine(url: str, **options: Any) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=5, **options)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _set_pragmas)
    return engine


class SqlalchemyCore(Contender):
    key = "sqlalchemy"
    label = "SQLAlchemy Core (prebuilt)"
    workloads = STATEMENTS | BULK | MIXED

    _auto: AsyncEngine
    _engine: AsyncEngine

    async def open(self) -> None:
        url = self.target.sqlalchemy_url
        self._mixed = MixedStatements(self.target.backend)
        self._auto = _engine(url, isolation_level="AUTOCOMMIT")
        self._engine = _engine(url)

    async def close(self) -> None:
        await self._auto.dispose()
        await self._engine.dispose()

    def describe(self) -> str:
        return "AUTOCOMMIT engine for single statements; engine.begin() for the rest"

    async def pk_select(self, item_id: int) -> Any:
        async with self._auto.connect() as conn:
            result = await conn.execute(PK_SELECT, {"item_id": item_id})
            return result.first()

    async def insert_one(self, row: ItemRow) -> None:
        async with self._auto.connect() as conn:
            await conn.execute(INSERT_ONE, dict(zip(COLUMNS, row, strict=True)))

    async def transaction(self, transfer: Transfer) -> None:
        ledger_id, source, dest, amount = transfer
        async with self._engine.begin() as conn:
            await conn.execute(DEBIT, {"amount": amount, "account": source})
            await conn.execute(CREDIT, {"amount": amount, "account": dest})
            await conn.execute(
                RECORD, {"id": ledger_id, "from_id": source, "to_id": dest, "amount": amount}
            )

    async def keyset_page(self, after: int) -> Any:
        async with self._auto.connect() as conn:
            result = await conn.execute(KEYSET_PAGE, {"after": after})
            return result.all()

    def prepare_bulk(self, rows: list[ItemRow]) -> Any:
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    async def bulk_insert(self, prepared: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(INSERT_BULK, prepared)

    async def mixed_pk(self, row_id: UUID) -> Any:
        async with self._auto.connect() as conn:
            result = await conn.execute(self._mixed.pk, {"row_id": row_id})
            return result.first()

    async def mixed_page(self, after: int) -> Any:
        async with self._auto.connect() as conn:
            result = await conn.execute(self._mixed.page, {"after": after})
            return result.all()

    async def concurrent_update(self, row_id: UUID, qty: int) -> None:
        async with self._auto.connect() as conn:
            await conn.execute(self._mixed.update, {"row_id": row_id, "qty": qty})

    async def mixed_stream(self, _: None) -> tuple[int, Any]:
        count, last = 0, None
        async with self._engine.connect() as conn:
            async for row in await conn.stream(self._mixed.stream):
                count += 1
                last = row
        return count, last

    def prepare_mixed_bulk(self, rows: list[MixedRow]) -> Any:
        return [dict(zip(MIXED_COLUMNS, row, strict=True)) for row in rows]

    async def mixed_bulk(self, prepared: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(self._mixed.insert, prepared)


class SqlalchemyAdhoc(SqlalchemyCore):
    """Each statement built per call with inline values (the compiled cache still applies)."""

    key = "sqlalchemy_adhoc"
    label = "SQLAlchemy Core (ad-hoc)"
    style = "adhoc"
    workloads = STATEMENTS

    def describe(self) -> str:
        return "statement built per call with inline values; compiled cache on"

    async def pk_select(self, item_id: int) -> Any:
        async with self._auto.connect() as conn:
            result = await conn.execute(select(items).where(items.c.id == item_id))
            return result.first()

    async def insert_one(self, row: ItemRow) -> None:
        item_id, owner_id, name, qty, note = row
        statement = insert(inserts).values(
            id=item_id, owner_id=owner_id, name=name, qty=qty, note=note
        )
        async with self._auto.connect() as conn:
            await conn.execute(statement)

    async def transaction(self, transfer: Transfer) -> None:
        ledger_id, source, dest, amount = transfer
        async with self._engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == source)
                .values(balance=accounts.c.balance - amount)
            )
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == dest)
                .values(balance=accounts.c.balance + amount)
            )
            await conn.execute(
                insert(ledger).values(id=ledger_id, from_id=source, to_id=dest, amount=amount)
            )

    async def keyset_page(self, after: int) -> Any:
        statement = select(items).where(items.c.id > after).order_by(items.c.id).limit(PAGE_SIZE)
        async with self._auto.connect() as conn:
            result = await conn.execute(statement)
            return result.all()


class SqlalchemyDefaults(SqlalchemyCore):
    """Prebuilt statements on the default engine, as SQLAlchemy's tutorial writes them:
    ``engine.connect()`` to read, ``engine.begin()`` to write."""

    key = "sqlalchemy_defaults"
    label = "SQLAlchemy Core (defaults)"
    workloads = STATEMENTS

    async def open(self) -> None:
        self._engine = _engine(self.target.sqlalchemy_url)
        self._auto = self._engine  # reads use engine.connect() on the default engine

    async def close(self) -> None:
        await self._engine.dispose()

    def describe(self) -> str:
        return "default engine: engine.connect() for reads, engine.begin() for writes"

    async def insert_one(self, row: ItemRow) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(INSERT_ONE, dict(zip(COLUMNS, row, strict=True)))
