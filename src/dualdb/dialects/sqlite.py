"""SQLite through aiosqlite: the embedded, zero-configuration backend.

Costs that shape this module: every awaited aiosqlite call is a hop to the connection's
own thread (~50-90 µs), so each operation here is one function run in that thread in a
single hop (execute, fetch, decode). SQLite returns what it stored (UUIDs and
timestamps as text, booleans as 0/1), so rows are decoded by the *declared type* of the
table column each result column comes from, read with ``PRAGMA table_xinfo``; dualdb
registers no process-wide sqlite3 adapter or converter, so other sqlite3 users in the
process (yoyo, the application) see SQLite exactly as before.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import sqlite3
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from itertools import chain
from typing import Any, ClassVar
from uuid import UUID

import aiosqlite
from pypika.enums import Matching

from dualdb import errors
from dualdb.dialects._pool import Pool, PoolStats
from dualdb.dialects._values import check_datetime, check_float, dump_json
from dualdb.dialects.base import Connection, Dialect, Driver, Lease, MigrationBackend
from dualdb.records import Record, record_class
from dualdb.settings import Settings
from dualdb.sql.compile import Compiled, ResultColumn
from dualdb.sql.terms import Json

__all__ = ["SQLiteDialect"]

NAME = "sqlite"
_MEMORY = ":memory:"

# ---------------------------------------------------------------------------- encoding


def _text(value: str) -> str:
    if "\x00" in value:
        raise errors.DataError(
            "text cannot contain the NUL character (PostgreSQL cannot store it either)",
            dialect=NAME,
        )
    return value


def _timestamp(value: datetime) -> str:
    check_datetime(value, NAME)
    # One fixed-width UTC format, so stored timestamps compare correctly as text.
    try:
        return value.astimezone(UTC).isoformat(" ", "microseconds")
    except OverflowError:  # e.g. 0001-01-01 01:00+05:00 is in year 0 in UTC
        raise errors.DataError(
            "datetime out of range: in UTC it falls outside the years 1-9999", dialect=NAME
        ) from None


def _decimal(value: Decimal) -> str:
    # The text PostgreSQL's numeric gives back: fixed-point (1E+2 -> 100), no negative
    # zero, no signalling NaN; so both backends return the same Decimal.
    if value.is_nan():
        return "NaN"
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def _float(value: float) -> float:
    check_float(value, NAME)
    return value


def _json(value: Any) -> str:
    return dump_json(value, NAME)


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    str: _text,
    datetime: _timestamp,
    date: date.isoformat,
    UUID: str,
    Decimal: _decimal,
    float: _float,
    dict: _json,
    list: _json,
    Json: _json,
    bytearray: bytes,
    memoryview: bytes,
}
_NATIVE = frozenset({int, bool, bytes, type(None)})


def _encode_other(value: Any) -> Any:
    """Slow path for subclasses (asyncpg's UUID, enums, str subclasses…)."""
    if isinstance(value, Enum):
        value = value.value
    for kind, encode in _ENCODERS.items():
        if isinstance(value, kind):
            return encode(value)
    return value


def encode_args(args: Sequence[Any]) -> list[Any]:
    out = []
    for value in args:
        kind = type(value)
        if kind in _NATIVE or (kind is str and "\x00" not in value):
            out.append(value)  # the common values, without a call each
        else:
            encode = _ENCODERS.get(kind)
            out.append(encode(value) if encode is not None else _encode_other(value))
    return out


_PLAIN = frozenset({int, bool, bytes, type(None), str, float})


def encode_many(rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Every row's arguments, encoded, in one flat list (for a multi-row INSERT).

    The common batch holds only ints, strings, floats, bytes and NULLs, which SQLite
    takes as they are once strings are checked for NUL and floats for NaN: those checks
    run over the whole batch in C (``map``/``filter``/``join``), not value by value in
    Python, so checking costs a tenth of the insert.
    """
    flat = list(chain.from_iterable(rows))
    kinds = set(map(type, flat))
    if not kinds <= _PLAIN:
        return encode_args(flat)
    if str in kinds and "\x00" in "".join(filter(str.__instancecheck__, flat)):
        return encode_args(flat)  # raises, as for a single statement
    if float in kinds and not all(map(math.isfinite, filter(float.__instancecheck__, flat))):
        return encode_args(flat)  # raises
    return flat


def _group(width: int) -> str:
    return "(" + ",".join("?" * width) + ")"


#: Rows per statement of a bulk INSERT (within SQLite's limit on variables).
_ROWS_PER_INSERT = 500

# ---------------------------------------------------------------------------- decoding


def _to_uuid(value: Any) -> Any:
    return UUID(value) if isinstance(value, str) else value


def _to_datetime(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # CURRENT_TIMESTAMP and other SQL-side defaults are UTC
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _to_date(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _to_bool(value: Any) -> Any:
    return bool(value) if isinstance(value, int) else value


def _to_float(value: Any) -> Any:
    # SQLite stores a whole REAL as an integer; ``RETURNING *`` hands that integer out.
    return float(value) if type(value) is int else value


def _to_json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except ValueError:
        # A str bound to a JSON column is stored as given; PostgreSQL would have
        # refused invalid JSON text with DataError when it was written.
        raise errors.DataError(
            "a JSON column holds text that is not valid JSON", dialect=NAME
        ) from None


def _to_decimal(value: Any) -> Any:
    if isinstance(value, str | int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def decoder_for(declared: str) -> Callable[[Any], Any] | None:
    """The decoder for a column's declared type, or None to return values as stored."""
    kind = declared.upper()
    if "UUID" in kind:
        return _to_uuid
    if "TIMESTAMP" in kind or "DATETIME" in kind:
        return _to_datetime
    if "DATE" in kind:
        return _to_date
    if "BOOL" in kind:
        return _to_bool
    if "JSON" in kind:
        return _to_json
    if "DECIMAL" in kind or "NUMERIC" in kind:
        return _to_decimal
    if "INT" not in kind and ("REAL" in kind or "FLOA" in kind or "DOUB" in kind):
        return _to_float  # SQLite's rule for REAL affinity
    return None


class _Plan:
    """How to turn one result shape's tuples into Records on one database."""

    __slots__ = ("cls", "decoders")

    def __init__(self, cls: type[Record], decoders: tuple[tuple[int, Callable[[Any], Any]], ...]):
        self.cls = cls
        self.decoders = decoders

    def row(self, raw: tuple[Any, ...]) -> Record:
        if not self.decoders:
            return self.cls(raw)
        return self.rows([raw])[0]

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Record]:
        cls = self.cls
        if not self.decoders:
            # map over the class: the records are made in C, no Python frame per row
            # (about 40% cheaper than a partial of tuple.__new__).
            return list(map(cls, raw))
        decoders = self.decoders
        out = []
        for row in raw:
            values = list(row)
            for index, decode in decoders:
                value = values[index]
                if value is not None:
                    values[index] = decode(value)
            out.append(cls(values))
        return out


class _NewPlan(_Plan):
    """A plan not yet confirmed: kept, and used, for its statement's later runs, which
    check their column names against it until one of them decodes a row with it.

    A plan pairs the statement's columns (its cursor's description) with the declared
    types of the schema version read just before. Both come from the same schema only
    if the statement still held its read snapshot then, which is certain once it has a
    row to decode (SQLite ends the read as soon as the rows run out).
    """

    __slots__ = ("key", "names", "plans")

    def __init__(
        self, plan: _Plan, names: tuple[str, ...], plans: dict[object, _Plan], key: _Version
    ) -> None:
        super().__init__(plan.cls, plan.decoders)
        self.names = names
        self.plans = plans
        self.key = key

    def row(self, raw: tuple[Any, ...]) -> Record:
        return self._confirm().row(raw)

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Record]:
        return self._confirm().rows(raw)

    def _confirm(self) -> _Plan:
        plan = _Plan(self.cls, self.decoders)
        self.plans[self.key] = plan
        return plan


class _Moved(Exception):
    """The schema version changed while a plan was being made (see ``_Version.columns``)."""


class _Version:
    """Declared column types per table in one version of the schema, read lazily and
    cached; also the key, in ``Compiled.plans``, of the plans made with them."""

    __slots__ = ("tables", "version")

    def __init__(self, version: int) -> None:
        self.version = version
        self.tables: dict[str, dict[str, str]] = {}

    def columns(
        self, conn: sqlite3.Connection, table: str, refresh: bool = False
    ) -> dict[str, str]:
        cached = self.tables.get(table)
        if cached is not None and not refresh:
            return cached
        # The version in the same statement, so in the same snapshot as the columns.
        rows = conn.execute(
            "SELECT v.schema_version, x.name, x.type FROM pragma_schema_version AS v"
            " LEFT JOIN pragma_table_xinfo(?) AS x",
            (table,),
        ).fetchall()
        if rows[0][0] != self.version:
            raise _Moved
        found = {name: declared or "" for _, name, declared in rows if name is not None}
        if found:
            self.tables[table] = found
        return found


class _Schema:
    """The schema versions (``PRAGMA schema_version``) one database's connections have
    read from. Any connection, process or tool changing the schema changes the version,
    and connections in older transactions still read older versions meanwhile."""

    def __init__(self) -> None:
        self.versions: dict[int, _Version] = {}

    def at(self, version: int) -> _Version:
        versions = self.versions
        found = versions.get(version)
        if found is None:
            if len(versions) > 8:
                versions.clear()  # versions nobody reads any more
            found = versions.setdefault(version, _Version(version))
        return found


def _plan(
    conn: sqlite3.Connection, schema: _Version, compiled: Compiled, names: tuple[str, ...]
) -> _Plan:
    cls = record_class(names)
    origins = compiled.origins
    if origins is None:
        return _Plan(cls, ())
    expanded: list[tuple[str | None, str | None]] = []
    for origin in origins:
        if origin is None:
            expanded.append((None, None))
        elif origin.column is None:
            for star_table in (origin.table,) if origin.table else compiled.tables:
                expanded.extend((star_table, c) for c in schema.columns(conn, star_table))
        else:
            expanded.append((_table_of(conn, schema, compiled, origin), origin.column))
    if len(expanded) != len(names):
        return _Plan(cls, ())  # a shape we cannot map column-for-column: values as stored
    decoders = []
    for index, (table, column) in enumerate(expanded):
        if table is None or column is None:
            continue
        declared: str | None = schema.columns(conn, table).get(column)
        if declared is None:
            declared = schema.columns(conn, table, refresh=True).get(column)
        decode = decoder_for(declared or "")
        if decode is not None:
            decoders.append((index, decode))
    return _Plan(cls, tuple(decoders))


def _table_of(
    conn: sqlite3.Connection, schema: _Version, compiled: Compiled, origin: ResultColumn
) -> str | None:
    if origin.table is not None:
        return origin.table
    for table in compiled.tables:
        if origin.column in schema.columns(conn, table):
            return table
    return None


# ---------------------------------------------------------------------------- errors

_CONSTRAINT_MESSAGE = re.compile(r"constraint failed: (?:index '([^']+)'|([\w.\"]+(?:, [\w.]+)*))")


def translate(exc: BaseException, path: str | None = None) -> errors.DatabaseError:
    """Map a sqlite3 (or binding) error to the dualdb tree; the caller chains it."""
    message = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, OverflowError):
        return errors.DataError(
            "integer out of range: both backends store at most 64-bit integers", dialect=NAME
        )
    if isinstance(exc, UnicodeEncodeError):  # a lone surrogate cannot be stored as UTF-8
        return errors.DataError(f"text cannot be encoded as UTF-8: {exc.reason}", dialect=NAME)
    if code == 20:  # SQLITE_MISMATCH (a text LIMIT, a non-integer rowid): a bad value
        return errors.DataError(message, dialect=NAME)
    if isinstance(exc, sqlite3.IntegrityError):
        cls: type[errors.IntegrityError] = {
            2067: errors.UniqueViolation,
            1555: errors.UniqueViolation,
            787: errors.ForeignKeyViolation,
            1299: errors.NotNullViolation,
            275: errors.CheckViolation,
        }.get(code or 0, errors.IntegrityError)
        table = column = constraint = None
        match = _CONSTRAINT_MESSAGE.search(message)
        if match:
            if match.group(1):
                constraint = match.group(1)
            else:
                first = match.group(2).split(", ")[0]
                if cls is errors.CheckViolation:
                    constraint = first
                elif "." in first:
                    table, column = first.split(".", 1)
        return cls(message, dialect=NAME, constraint=constraint, table=table, column=column)
    if isinstance(exc, sqlite3.OperationalError):
        primary = (code or 0) & 0xFF
        if primary in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
            return errors.SerializationFailure(
                f"{message} (another connection holds the write lock; retry the transaction)",
                dialect=NAME,
            )
        if primary == 14:  # SQLITE_CANTOPEN
            return errors.ConnectionFailed(
                f"cannot open SQLite database {path!r}: {message}", dialect=NAME
            )
        if primary == 9:  # SQLITE_INTERRUPT
            return errors.QueryTimeout(message, dialect=NAME)
        if message == "integer overflow":  # SUM() beyond 64 bits; PostgreSQL: 22003
            return errors.DataError(message, dialect=NAME)
        if primary in (8, 10, 13, 26):  # READONLY, IOERR, FULL, NOTADB
            return errors.OperationalError(
                f"{message} (database {path!r})" if path else message, dialect=NAME
            )
        return errors.ProgrammingError(message, dialect=NAME)
    if isinstance(exc, sqlite3.DataError):
        return errors.DataError(message, dialect=NAME)
    if isinstance(exc, sqlite3.ProgrammingError):
        if "type" in message and "not supported" in message:
            return errors.DataError(message, dialect=NAME)
        return errors.QueryError(message, dialect=NAME)
    if isinstance(exc, sqlite3.Error):  # e.g. "file is not a database", "disk image is malformed"
        return errors.OperationalError(
            f"{message} (database {path!r})" if path else message, dialect=NAME
        )
    if isinstance(exc, errors.DatabaseError):
        return exc
    return errors.DatabaseError(message, dialect=NAME)


_TRANSLATED = (sqlite3.Error, OverflowError, UnicodeEncodeError)

# ---------------------------------------------------------------------------- connection


class SQLiteConnection(Connection):
    """One aiosqlite connection; each method is a single hop to its thread."""

    __slots__ = (
        "_busy",
        "_conn",
        "_db",
        "_driver",
        "_own_schema",
        "_pending",
        "_version_cursor",
        "broken",
        "unsettled",
    )

    def __init__(self, conn: aiosqlite.Connection, driver: SQLiteDriver) -> None:
        self._conn = conn
        self._db: sqlite3.Connection = conn._conn  # the underlying connection (its thread only)
        self._driver = driver
        self.broken = False
        #: A cancelled call may still be running in the connection's thread.
        self.unsettled = False
        #: While a call's function runs in the connection's thread (set there).
        self._busy = False
        #: The BEGIN of a transaction, sent with its first statement (see ``begin``).
        self._pending: str | None = None
        #: Reads ``PRAGMA schema_version`` (made in the connection's thread).
        self._version_cursor: sqlite3.Cursor | None = None
        #: While this connection's open transaction has changed the schema (see ``_ran_ddl``).
        self._own_schema: _Schema | None = None

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        # aiosqlite's public calls cost one hop each (execute, fetch, close); _execute
        # runs a whole function in the connection's thread in one.
        if self._pending is not None:
            fn, args = self._begin_then, (self._pending, fn, *args)
            self._pending = None
        if self.unsettled:
            # A call of this lease was cancelled: clear any interrupt meant for it first,
            # so that the cleanup (ROLLBACK, closing a cursor) is not stopped by it.
            fn, args = self._absorb_then, (fn, *args)
        try:
            return await self._conn._execute(self._running, fn, *args)  # type: ignore[no-untyped-call]
        except BaseException as exc:
            error = self._failure(exc)
            if error is None:
                raise
            raise error from exc

    def _failure(self, exc: BaseException) -> errors.DatabaseError | None:
        """What to raise for ``exc`` from a call to the thread: the dualdb error for a
        driver error, None to raise ``exc`` itself."""
        if isinstance(exc, _TRANSLATED):
            return translate(exc, self._driver.path)
        if isinstance(exc, asyncio.CancelledError):
            # The call goes on in the connection's thread (a BEGIN may still take the
            # write lock after we gave up): stop the running statement, and let the pool
            # take the connection back only once it is idle and outside any transaction.
            self.unsettled = True
            # Only while the call runs: an interrupt reaching SQLite after it ended (its
            # result already on the way) would stop whichever statement runs next
            # while another is still open. ``_absorb`` clears one that came too late.
            if self._busy:
                self._db.interrupt()
        return None

    def _running(self, fn: Callable[..., Any], *args: Any) -> Any:
        # In the thread: marks the call as interruptible while it runs.
        self._busy = True
        try:
            return fn(*args)
        finally:
            self._busy = False

    def _absorb(self) -> None:
        """In the thread, after a cancelled call: let an interrupt issued as that call
        ended stop a harmless statement rather than the next real one."""
        for _ in range(3):
            try:
                self._db.execute("SELECT 1").fetchall()
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF != 9:  # SQLITE_INTERRUPT
                    raise

    def _absorb_then(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._absorb()
        return fn(*args)

    def _begin_then(self, begin: str, fn: Callable[..., Any], *args: Any) -> Any:
        self._db.execute(begin)
        return fn(*args)

    def _end_transaction(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _settled(self) -> None:
        self._absorb()
        self._end_transaction()

    def _plan_for(self, compiled: Compiled, cursor: sqlite3.Cursor) -> _Plan:
        """The plan for ``cursor``'s rows: to be called before they are fetched, while the
        statement holds the read snapshot its columns come from."""
        # Another connection, process or migration tool may have changed the schema since
        # the last statement: the version read in the same snapshot says which one applies.
        versions = self._version_cursor
        if versions is None:
            versions = self._version_cursor = self._db.cursor()
        version = versions.execute("PRAGMA schema_version").fetchone()[0]
        schema = self._driver.schema if self._own_schema is None else self._schema()
        key = schema.versions.get(version) or schema.at(version)
        plans: dict[object, _Plan] = compiled.plans
        plan = plans.get(key)
        if plan is None or plan.__class__ is _NewPlan:
            return self._new_plan(compiled, cursor, key, plan)
        return plan

    def _new_plan(
        self, compiled: Compiled, cursor: sqlite3.Cursor, key: _Version, seen: _Plan | None
    ) -> _Plan:
        # The cursor's description is a fresh tuple per read: ask for it only here.
        names = tuple(d[0] for d in cursor.description or ())
        if isinstance(seen, _NewPlan) and seen.names == names:
            return seen
        try:
            made = _plan(self._db, key, compiled, names)
        except _Moved:
            # The statement no longer held its snapshot, so it has no rows to decode.
            return _Plan(record_class(names), ())
        plans: dict[object, _Plan] = compiled.plans
        if len(plans) > 4:
            plans.clear()
        plan = plans[key] = _NewPlan(made, names, plans, key)
        return plan

    def _ran_ddl(self) -> None:
        # Inside a transaction the new schema is this connection's alone until it commits,
        # and a rollback would let its version number come back with another schema:
        # meanwhile the connection keeps what it learns about it to itself.
        if self._db.in_transaction:
            self._own_schema = _Schema()

    def _schema(self) -> _Schema:
        if self._db.in_transaction and self._own_schema is not None:
            return self._own_schema
        self._own_schema = None
        return self._driver.schema

    # The functions below run in the connection's thread, one per statement; the event
    # loop waits for each, so they are kept as short as the ones aiosqlite runs itself.

    def _fetch_all(self, compiled: Compiled, args: list[Any]) -> list[Record]:
        cursor = self._db.execute(compiled.sql, args)
        if compiled.is_ddl:
            self._ran_ddl()
        plan = self._plan_for(compiled, cursor)
        rows = cursor.fetchall()
        if not rows:
            return rows
        return plan.rows(rows)

    def _fetch_one(self, compiled: Compiled, args: list[Any]) -> Record | None:
        cursor = self._db.execute(compiled.sql, args)
        try:
            if compiled.is_ddl:
                self._ran_ddl()
            plan = self._plan_for(compiled, cursor)
            row = cursor.fetchone()
            if compiled.is_write:
                cursor.fetchall()  # run a RETURNING statement to completion
        finally:
            cursor.close()
        if row is None:
            return None
        return plan.row(row)

    def _fetch_val(self, compiled: Compiled, args: list[Any]) -> Any:
        row = self._fetch_one(compiled, args)
        return None if row is None else row[0]

    def _execute(self, compiled: Compiled, args: list[Any]) -> int:
        cursor = self._db.execute(compiled.sql, args)
        rows = cursor.fetchall()
        count = cursor.rowcount
        cursor.close()
        if compiled.is_ddl:
            self._ran_ddl()
        return count if count >= 0 else len(rows)

    def _execute_many(self, compiled: Compiled, rows: list[list[Any]]) -> None:
        self._atomically(self._db.executemany, compiled.sql, rows)
        if compiled.is_ddl:
            self._ran_ddl()

    def _insert_many(self, compiled: Compiled, flat: list[Any], width: int) -> None:
        """A bulk INSERT as multi-row ``VALUES`` statements: a third less time than
        ``executemany``, which steps one statement per row."""
        head, _, group = compiled.sql.rpartition(" VALUES ")
        limit = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        per = max(1, min(_ROWS_PER_INSERT, limit // width))
        step = per * width
        full = f"{head} VALUES {','.join([group] * per)}"
        execute = self._db.execute

        def insert() -> None:
            for start in range(0, len(flat), step):
                chunk = flat[start : start + step]
                if len(chunk) == step:
                    execute(full, chunk)
                else:
                    execute(f"{head} VALUES {','.join([group] * (len(chunk) // width))}", chunk)

        self._atomically(insert)

    def _atomically(self, work: Callable[..., Any], *args: Any) -> None:
        """Run ``work`` in one transaction (atomic, and ~100x faster than a commit per
        row), or in the caller's if one is open."""
        db = self._db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")
        try:
            work(*args)
        except BaseException:
            if own:
                db.execute("ROLLBACK")
            raise
        if own:
            db.execute("COMMIT")

    def _fetch_batch(
        self, opened: list[sqlite3.Cursor], compiled: Compiled, size: int
    ) -> list[Record]:
        cursor = opened[0]
        plan = self._plan_for(compiled, cursor)  # before the rows end the statement's read
        rows = cursor.fetchmany(size)
        return plan.rows(rows) if rows else []

    # The statement methods are plain functions returning ``_call``'s coroutine, one
    # coroutine frame fewer per statement than ``async def`` wrappers.

    def fetch_all(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, list[Record]]:
        return self._call(self._fetch_all, compiled, encode_args(args))

    def fetch_one(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, Record | None]:
        return self._call(self._fetch_one, compiled, encode_args(args))

    def fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return self._call(self._fetch_val, compiled, encode_args(args))

    def execute(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, int]:
        return self._call(self._execute, compiled, encode_args(args))

    async def execute_many(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> None:
        target = compiled.bulk_target
        if target is not None and compiled.sql.endswith(" VALUES " + _group(len(target[1]))):
            await self._call(self._insert_many, compiled, encode_many(rows), len(target[1]))
        else:
            encoded = [encode_args(row) for row in rows]
            await self._call(self._execute_many, compiled, encoded)

    async def iterate(
        self, compiled: Compiled, args: Sequence[Any], batch_size: int
    ) -> AsyncGenerator[Record, None]:
        # The cursor stays in the thread's hands: were it returned, a cancel arriving as
        # it opens would lose it, still open, holding a read snapshot (a later write on
        # this connection then fails "database is locked") and keeping an interrupt alive.
        opened: list[sqlite3.Cursor] = []
        try:
            await self._call(self._open_cursor, opened, compiled.sql, encode_args(args))
            while True:
                records = await self._call(self._fetch_batch, opened, compiled, batch_size)
                if not records:
                    break
                for record in records:
                    yield record
        finally:
            await self._call(self._close_cursors, opened)

    def _open_cursor(self, opened: list[sqlite3.Cursor], sql: str, args: list[Any]) -> None:
        opened.append(self._db.execute(sql, args))

    @staticmethod
    def _close_cursors(opened: list[sqlite3.Cursor]) -> None:
        while opened:
            opened.pop().close()

    async def begin(self, sql: str) -> None:
        # Sent in the same hop to the thread as the transaction's first statement: a
        # three-statement transaction then takes four hops instead of five. (The write
        # lock is taken at that statement rather than at ``async with``.)
        self._pending = sql

    async def run(self, sql: str) -> None:
        if sql == "COMMIT" or sql == "ROLLBACK":
            if self._pending is not None:
                self._pending = None  # nothing began: nothing to end
                return
            if sql == "ROLLBACK":
                # Also when the BEGIN itself failed (busy) and nothing began.
                await self._call(self._end_transaction)
                return
        await self._call(self._db.execute, sql)

    def in_transaction(self) -> bool:
        return self._db.in_transaction


#: The thread-side function of each single-statement operation of ``Driver.run``.
_IN_THREAD: dict[str, Callable[[SQLiteConnection, Compiled, list[Any]], Any]] = {
    "fetch_all": SQLiteConnection._fetch_all,
    "fetch_one": SQLiteConnection._fetch_one,
    "fetch_val": SQLiteConnection._fetch_val,
    "execute": SQLiteConnection._execute,
}

# ---------------------------------------------------------------------------- pool


class SQLiteDriver(Driver):
    """A small pool of aiosqlite connections (each one a thread) to one database file.

    WAL lets readers run beside the one writer; writers queue on ``busy_timeout``.
    A private in-memory database exists per connection, so it gets a pool of one.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.sqlite_file
        self.schema = _Schema()
        self._pool: Pool[SQLiteConnection] = Pool(
            backend=NAME,
            size=1 if self.path == _MEMORY else settings.sqlite_pool_size,
            timeout=settings.pool_timeout,
            connect=self._connect,
            close=_close,
            timeout_hint="SQLITE_POOL_SIZE / DB_POOL_TIMEOUT",
            # Each connection is a thread; keep one, whose cache stays warm (and which
            # alone holds a private in-memory database).
            min_size=1,
            idle_timeout=settings.idle_timeout,
        )

    async def start(self) -> None:
        if self.path != _MEMORY:
            _make_folder(self.path)
        await self._pool.fill(1)

    async def _connect(self) -> SQLiteConnection:
        timeout_ms = int(self.settings.sqlite_busy_timeout * 1000)
        raw = aiosqlite.connect(
            self.path, isolation_level=None, timeout=self.settings.sqlite_busy_timeout
        )
        # aiosqlite's worker thread is not a daemon: a Database the application forgot to
        # close would keep the interpreter from exiting. SQLite itself is crash-safe.
        thread = getattr(raw, "_thread", None)
        if thread is not None:
            thread.daemon = True
        try:
            conn = await raw
        except sqlite3.Error as exc:
            if thread is not None:
                # aiosqlite queued its worker's shutdown, whose result the worker hands to
                # this event loop: let it finish while the loop still runs (else it raises
                # "Event loop is closed" in the thread once the application has exited).
                await asyncio.to_thread(thread.join, 5)
            raise translate(exc, self.path) from exc
        try:
            await conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            if self.path != _MEMORY:
                await conn.execute("PRAGMA journal_mode = WAL")
            for pragma in (
                "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = NORMAL",
                # LIKE is case-sensitive on PostgreSQL; make SQLite agree.
                "PRAGMA case_sensitive_like = ON",
            ):
                await conn.execute(pragma)
        except sqlite3.Error as exc:
            await conn.close()
            raise translate(exc, self.path) from exc
        return SQLiteConnection(conn, self)

    async def run(self, operation: str, compiled: Compiled, args: Sequence[Any]) -> Any:
        pool = self._pool
        idle = pool.idle
        conn = idle.pop() if idle else await pool.checkout()
        try:
            # What conn.<operation> does, without its coroutine frame: this is the path
            # of every statement run outside a transaction.
            result = await conn._conn._execute(  # type: ignore[no-untyped-call]
                conn._running, _IN_THREAD[operation], conn, compiled, encode_args(args)
            )
        except BaseException as exc:
            error = conn._failure(exc)
            self._checkin(conn)
            if error is None:
                raise
            raise error from exc
        if conn.unsettled or conn.broken or pool.closed or pool.waiting:
            self._checkin(conn)
        else:
            idle.append(conn)  # what _checkin does in the common case, inline
        return result

    def acquire(self) -> Lease[SQLiteConnection]:
        return Lease(self._take, self._give_back)

    async def _take(self) -> SQLiteConnection:
        idle = self._pool.idle
        return idle.pop() if idle else await self._pool.checkout()

    async def _give_back(self, conn: SQLiteConnection, exc: BaseException | None) -> None:
        conn._pending = None
        if exc is not None and not isinstance(exc, Exception):
            # Cancelled, or an iterate() abandoned mid-stream (GeneratorExit): its cursor
            # may still be open, and an interrupt meant for it would stop the next
            # user's statement. Settle the connection first, in the thread's order.
            conn.unsettled = True
        self._checkin(conn)

    def _checkin(self, conn: SQLiteConnection) -> None:
        pool = self._pool
        if conn.unsettled and not (conn.broken or pool.closed):
            pool.spawn(self._settle(conn))  # which gives the connection back
        elif conn.broken:
            pool.drop(conn)
        else:
            pool.put(conn)

    async def _settle(self, conn: SQLiteConnection) -> None:
        """Return a connection whose call was cancelled once that call has ended (it runs
        first: calls run in order) and any transaction it began is rolled back."""
        try:
            await conn._conn._execute(conn._running, conn._settled)  # type: ignore[no-untyped-call]
            conn.unsettled = False
        except Exception:
            conn.broken = True  # closing it rolls back instead
        finally:
            if conn.unsettled:  # the settling itself was cancelled (shutdown)
                conn.unsettled, conn.broken = False, True
            self._checkin(conn)

    def stats(self) -> PoolStats:
        return self._pool.stats()

    def discard(self, connection: Connection) -> None:
        assert isinstance(connection, SQLiteConnection)
        connection.broken = True

    async def close(self) -> None:
        # Connections still in use are closed too: SQLite rolls back what they began.
        await self._pool.close(force=_close)


async def _close(conn: SQLiteConnection) -> None:
    await conn._conn.close()


def _make_folder(path: str) -> None:
    """Create the database file's folder (``./data/`` by default), once at connect."""
    folder = os.path.dirname(os.path.abspath(os.path.expanduser(path)))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise errors.ConnectionFailed(
            f"cannot create the folder {folder!r} for the SQLite database "
            f"(SQLITE_FILE / DATABASE_URL): {exc.strerror}",
            dialect=NAME,
        ) from exc


class SQLiteDialect(Dialect):
    name = NAME
    is_embedded = True
    reuses_placeholders = False
    supports_for_update = False
    # SQLite sorts NULLs first ascending; PostgreSQL (production) sorts them last.
    nulls_order = (" NULLS LAST", " NULLS FIRST")
    # SQLite's MOD() returns a float (MOD(7, 2) = 1.0); its % is the integer remainder.
    mod_operator = True
    # SQLite's grammar has OFFSET only after a LIMIT; a negative LIMIT means none.
    unlimited = " LIMIT -1"
    # SQLite's grammar has no "(SELECT …) UNION (SELECT …)": the members go bare.
    parenthesized_set_operations = False
    isolation_levels = frozenset({"serializable"})
    unsupported_matching = frozenset(
        {
            Matching.ilike,
            Matching.not_ilike,
            Matching.rlike,
            Matching.regex,
            Matching.regexp,
            Matching.bin_regex,
            Matching.as_of,
        }
    )
    unsupported_functions: ClassVar[dict[str, str]] = {
        name: ""
        for name in (
            "NOW",
            "ARRAY_AGG",
            "STRING_AGG",
            "GEN_RANDOM_UUID",
            "DATE_TRUNC",
            "TO_CHAR",
            "TO_TIMESTAMP",
            "TO_DATE",
            "REGEXP_REPLACE",
            "REGEXP_MATCHES",
            "SPLIT_PART",
            "JSONB_BUILD_OBJECT",
            "JSONB_AGG",
            "JSON_AGG",
            "JSONB_SET",
            "GREATEST",
            "LEAST",
            "EXTRACT",
            "DATE_PART",
            "AGE",
            "ILIKE",
            "POSITION",
            "CONCAT_WS",
            "LEFT",
            "RIGHT",
            "BOOL_AND",
            "BOOL_OR",
            "EVERY",
            "STDDEV",
            "VARIANCE",
            "ARRAY_LENGTH",
            "UNNEST",
        )
    }
    unsupported_constructs: ClassVar[dict[str, str]] = {
        "DISTINCT ON": "use GROUP BY, or a window function in raw SQL",
        "ORDER BY/LIMIT inside a UNION member": "order and limit the whole UNION instead",
    }
    column_types: ClassVar[dict[str, str]] = {
        "uuid": "UUID",
        "text": "TEXT",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "boolean": "BOOLEAN",
        "timestamptz": "TIMESTAMPTZ",
        "date": "DATE",
        "json": "JSON TEXT",
        "decimal": "DECIMAL TEXT",
        "bytes": "BLOB",
        "float": "DOUBLE PRECISION",
    }

    # SQLite takes a double-quoted name that matches no column for a string literal, so a
    # misspelt column would silently be a constant; a backquoted name never is, and an
    # unknown one is an error, as on PostgreSQL.
    quote_char = "`"
    explain_prefix = "EXPLAIN QUERY PLAN "
    version_query = "SELECT 'SQLite ' || sqlite_version()"

    def placeholder(self, position: int) -> str:
        return "?"

    def begin_sql(self, isolation: str | None, readonly: bool) -> str:
        # IMMEDIATE takes the write lock up front: a transaction that reads and then
        # writes cannot fail half-way with SQLITE_BUSY. SQLite is always serializable.
        return "BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE"

    async def connect(self, settings: Settings) -> SQLiteDriver:
        driver = SQLiteDriver(settings)
        await driver.start()
        return driver

    def migrations(self) -> MigrationBackend:
        from dualdb.dialects._sqlite_migrate import SQLiteMigrations

        return SQLiteMigrations()
