"""Connections and the pool: aiosqlite underneath.

Costs that shape this module: every awaited aiosqlite call is a hop to the connection's
own thread, so each operation here is one function run in that thread in a single hop
(execute, fetch, decode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from functools import partial
from typing import Any, TypeVar, cast

import aiosqlite

from dualdb import errors
from dualdb.dialects._pool import Pool, PoolStats
from dualdb.dialects.base import (
    Connection,
    Driver,
    IsolationLevel,
    Lease,
    OnConnect,
    Operation,
    Rows,
)
from dualdb.dialects.sqlite import _aiosqlite
from dualdb.dialects.sqlite.codec import (
    Binds,
    Refused,
    bind,
    bind_rows,
    encode_args,
    encode_many,
)
from dualdb.dialects.sqlite.compiler import (
    CAST_VALUE,
    DECIMAL_ARITHMETIC,
    DECIMAL_ORDER,
    EXACT_AVG,
    EXACT_SUM,
    FLOAT_ARITHMETIC,
    INTEGER_RANGE,
    LIMIT_COUNT,
    LOWER,
    NONZERO,
    OFFSET_COUNT,
    UNARY,
    UPPER,
    WINDOW_AVG,
    WINDOW_SUM,
)
from dualdb.dialects.sqlite.dialect import NAME
from dualdb.dialects.sqlite.errors import READ_ONLY, TRANSLATED, driver_error, translate
from dualdb.dialects.sqlite.functions import (
    ExactAvg,
    ExactSum,
    WindowAvg,
    WindowSum,
    cast_value,
    decimal_arithmetic,
    decimal_order,
    float_arithmetic,
    integer_range,
    limit_count,
    lower,
    nonzero,
    offset_count,
    take_failure,
    unary,
    upper,
)
from dualdb.dialects.sqlite.plans import (
    Moved,
    NewPlan,
    Plan,
    Schema,
    SchemaVersion,
    Sources,
    make_binds,
    make_plan,
    typed_sql,
)
from dualdb.records import Record, record_class
from dualdb.settings import DEFAULT_SQLITE_FILE, Settings
from dualdb.sql.compile import Compiled

__all__ = ["SQLiteConnection", "SQLiteDriver"]

_Made = TypeVar("_Made")

_MEMORY = ":memory:"

logger = logging.getLogger("dualdb.connect")
#: How a read-only transaction begins (see ``begin``; told apart by identity).
_BEGIN_READ_ONLY = "BEGIN DEFERRED"


def _group(width: int) -> str:
    return "(" + ",".join("?" * width) + ")"


#: Stands for a schema version while ``SQLiteConnection.watched`` looks for its reset.
_PROBE = cast("SchemaVersion", object())

#: Rows of a stream decoded together (see ``SQLiteConnection.iterate``): well under the
#: garbage collector's first threshold (700 new objects) with the objects of each row.
_DECODED_AT_ONCE = 64

#: Rows per statement of a bulk INSERT (within SQLite's limit on variables).
_ROWS_PER_INSERT = 500

# ---------------------------------------------------------------------------- connection


class SQLiteConnection(Connection):
    """One aiosqlite connection; each method is a single hop to its thread."""

    __slots__ = (
        "_abandoned",
        "_busy",
        "_conn",
        "_db",
        "_draining",
        "_driver",
        "_ended",
        "_in_thread",
        "_interrupted",
        "_issued",
        "_lock",
        "_own_schema",
        "_pending",
        "_query_only",
        "_queue",
        "_seen",
        "_skipped",
        "_started",
        "_ticker",
        "_ticks",
        "_version_cursor",
        "_watching",
        "aborted",
        "broken",
        "dirty",
        "in_block",
        "inline_reads",
        "moved",
        "shared",
        "unsettled",
        "writes",
    )

    def __init__(self, conn: aiosqlite.Connection, driver: SQLiteDriver) -> None:
        self._conn = conn
        self._db = _aiosqlite.sqlite3_connection(conn)  # used in its thread only
        self._in_thread = _aiosqlite.in_thread(conn)
        self._driver = driver
        self.broken = False
        #: Its session may have been changed (a PRAGMA, an ATTACH, the driver connection
        #: handed out): closed when given back, rather than reset.
        self.dirty = False
        #: Inside a transaction block dualdb opened (from ``begin`` to its end).
        self.in_block = False
        #: A statement of the block failed in the database: as PostgreSQL, the block
        #: refuses every statement until it is rolled back (or back to a savepoint).
        self.aborted = False
        #: A cancelled call may still be running in the connection's thread.
        self.unsettled = False
        #: While a call's function runs in the connection's thread (set there).
        self._busy = False
        #: Calls sent to the thread, calls it has begun, and the number of a call whose
        #: caller was cancelled before it began (it is then never run; see ``_running``).
        self._issued = self._started = self._abandoned = 0
        #: The number of the last call the thread is done with, its cleanup included:
        #: while it equals ``_issued`` the thread leaves the connection alone, and the
        #: event loop may use it (``inline``).
        self._ended = 0
        #: Reads may run in the event loop's thread (``inline``; set at connect), and
        #: the progress handler's calls during one (``_tick``).
        self.inline_reads = False
        self._ticks = 0
        self._ticker = self._tick
        #: Statements outside a transaction share the connection (``SQLiteDriver.run``):
        #: how many are in flight (and how many of them write), the numbers of those whose
        #: callers were cancelled before they began, and the lock under which the thread
        #: starts and ends a call and a cancelled caller decides to skip or interrupt it.
        self.shared = self.writes = 0
        #: When it last handed back a result, or began sharing (see ``_STALL``).
        self.moved = 0.0
        self._skipped: set[int] = set()
        #: The number of the shared call last interrupted for its cancelled caller.
        self._interrupted = 0
        self._lock = threading.Lock()
        #: Shared statements waiting for the thread, and whether a drain of them is queued
        #: to it or running there (see ``enqueue``); both under the lock.
        self._queue: list[tuple[asyncio.Future[Any], Callable[..., Any], Compiled, Any]] = []
        self._draining = False
        #: The BEGIN of a transaction, sent with its first statement (see ``begin``).
        self._pending: str | None = None
        #: While a read-only transaction holds ``PRAGMA query_only`` on (set in the thread).
        self._query_only = False
        #: Reads ``PRAGMA schema_version`` (made in the connection's thread).
        self._version_cursor: sqlite3.Cursor | None = None
        #: The schema version this connection last read (see ``_bound``); None once a
        #: statement is prepared again, as SQLite does after any change of schema.
        self._seen: SchemaVersion | None = None
        #: Whether ``_prepared`` is told of every statement SQLite prepares on this
        #: connection (see ``watch``): else the version is read with every statement.
        self._watching = False
        #: While this connection's open transaction has changed the schema (see ``_ran_ddl``).
        self._own_schema: Schema | None = None

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        # aiosqlite's public calls cost one hop each (execute, fetch, close); this runs a
        # whole function in the connection's thread in one.
        if self._pending is not None:
            fn, args = self._begin_then, (self._pending, fn, *args)
            self._pending = None
        if self.unsettled:
            # A call of this lease was cancelled: clear any interrupt meant for it first,
            # so that the cleanup (ROLLBACK, closing a cursor) is not stopped by it.
            fn, args = self._absorb_then, (fn, *args)
        self._issued += 1
        try:
            return await self._in_thread(self._running, fn, *args)
        except BaseException as exc:
            error = self._failure(exc)
            if error is None:
                raise
            if self.in_block:
                self.aborted = True
            raise error from driver_error(exc)

    def _refuse_if_aborted(self) -> None:
        if self.aborted:
            raise errors.TransactionAborted.after_error(NAME)

    def _before(self, compiled: Compiled) -> None:
        self._refuse_if_aborted()
        if compiled.session:
            self.dirty = True

    def driver_connection(self) -> aiosqlite.Connection:
        # Its holder may set an authorizer of their own, in place of ``_prepared``.
        self._watching = False
        return self._conn

    def watch(self) -> None:
        """In the thread: learn of each statement SQLite prepares on this connection.

        SQLite prepares a cached statement again, in ``sqlite3_step``, whenever the schema
        it was prepared for is no longer the database's (changed by any connection or
        process, or rolled back), and the authorizer is called while it does. So as long
        as nothing was prepared, the schema version last read still holds, and the
        ``PRAGMA schema_version`` read per statement is saved."""
        self._db.set_authorizer(self._prepared)
        self._watching = True

    def watched(self) -> bool:
        """In the thread: whether ``_prepared`` is still the connection's authorizer (an
        ``on_connect`` hook may have set its own); if not, versions are read per statement."""
        self._seen = _PROBE
        # (a statement new to the connection, so SQLite prepares it)
        self._db.execute("SELECT 'dualdb: is the authorizer ours?'").fetchall()
        self._watching = self._seen is None
        self._seen = None
        return self._watching

    def _prepared(self, *_: object) -> int:
        # The authorizer: called in the thread, by SQLite, for each statement it prepares.
        self._seen = None
        return sqlite3.SQLITE_OK

    def taint(self) -> None:
        self.dirty = True

    def _failure(self, exc: BaseException) -> errors.DatabaseError | None:
        """What to raise for ``exc`` from a call to the thread: the dualdb error for a
        driver error, None to raise ``exc`` itself."""
        if isinstance(exc, TRANSLATED):
            return translate(exc, self._driver.path)
        if isinstance(exc, asyncio.CancelledError):
            # The call goes on in the connection's thread (a BEGIN may still take the
            # write lock after we gave up): stop the running statement, and let the pool
            # take the connection back only once it is idle and outside any transaction.
            self.unsettled = True
            if self._started < self._issued:
                # Still queued for the thread: it will skip the call rather than run a
                # statement nobody waits for (which might take minutes) ...
                self._abandoned = self._issued
                if self._started < self._abandoned:
                    return None
                # ... unless the thread began it just now.
            # Only while the call runs: an interrupt reaching SQLite after it ended (its
            # result already on the way) would stop whichever statement runs next
            # while another is still open. ``_absorb`` clears one that came too late.
            if self._busy or self._started == self._abandoned == self._issued:
                self._db.interrupt()
        return None

    def _running(self, fn: Callable[..., Any], *args: Any) -> Any:
        # In the thread: marks the call as interruptible while it runs, or skips a call
        # whose caller was cancelled before it began. (The lock is taken and released
        # by hand around plain assignments: nothing between can raise, and no
        # asynchronous exception reaches a thread other than the main one.)
        lock = self._lock
        lock.acquire()
        self._started = started = self._started + 1
        if started == self._abandoned or (self._skipped and started in self._skipped):
            self._skipped.discard(started)
            self._ended = started
            lock.release()
            return None
        self._busy = True
        lock.release()
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            self._explain(exc)
            raise
        finally:
            lock.acquire()
            self._busy = False
            stray = self._interrupted == started
            lock.release()
            if stray:
                # Interrupted for its cancelled caller as it ended, the flag may outlive
                # it: spend it on a harmless statement, not on the next one.
                try:
                    with contextlib.suppress(sqlite3.Error):
                        self._absorb()
                finally:
                    self._ended = started
            else:
                self._ended = started

    def _explain(self, exc: sqlite3.OperationalError) -> None:
        """Note on ``exc`` why it was raised, where SQLite's error does not say."""
        reason = take_failure()  # why one of dualdb's SQL functions failed, if one did
        if reason is None and self._query_only and exc.sqlite_errorcode & 0xFF == 8:
            reason = READ_ONLY  # SQLITE_READONLY: a write in a read-only transaction
        if reason is not None:
            exc.dualdb_reason = reason  # type: ignore[attr-defined]

    def _tick(self) -> bool:
        # SQLite's progress handler during ``inline``: called every _TICK steps (counted
        # since the statement was prepared, so the first call may come at once); True
        # stops the statement.
        self._ticks += 1
        return self._ticks > _INLINE_STEPS // _TICK

    def inline(
        self, fn: Callable[[SQLiteConnection, Compiled, Any], Any], compiled: Compiled, args: Any
    ) -> Any:
        """Run a read in the calling thread (the event loop's), if SQLite ends it within
        :data:`_INLINE_STEPS` steps of its virtual machine; else stop it and return
        :data:`_TOO_LONG` (a read stopped midway changed nothing, and runs again in the
        connection's thread). Only while the thread leaves the connection alone
        (``_ended == _issued``): one thread at a time uses a sqlite3 connection."""
        db = self._db
        self._ticks = 0
        db.set_progress_handler(self._ticker, _TICK)
        try:
            return fn(self, compiled, args)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == 9:  # SQLITE_INTERRUPT: stopped, by us
                take_failure()
                return _TOO_LONG
            self._explain(exc)
            raise
        finally:
            db.set_progress_handler(None, 0)

    def enqueue(
        self, fn: Callable[..., Any], compiled: Compiled, encoded: Any
    ) -> asyncio.Future[Any]:
        """Queue a shared statement (``SQLiteDriver.run``): its result arrives on the
        returned future. The thread runs the statements queued so far in one hop and hands
        back their results in one wake-up of the event loop, where aiosqlite takes a hop
        and a wake-up per statement; statements queued meanwhile go in the next batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        item = (future, fn, compiled, encoded)
        with self._lock:
            self._queue.append(item)
            if self._draining:
                return future
            self._draining = True
        try:
            _aiosqlite.submit(self._conn, partial(self._drain, loop))
        except BaseException:
            with self._lock:
                self._draining = False
                self._queue.remove(item)
            raise
        return future

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        # In the thread: each statement as any call runs (``_running``: skipped if its
        # caller was cancelled before it began, interruptible while it runs).
        try:
            self._drain_batches(loop)
        except BaseException as exc:  # not a statement's: the thread is going down
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._drained, exc)

    def _drain_batches(self, loop: asyncio.AbstractEventLoop) -> None:
        lock = self._lock
        running = self._running
        while True:
            with lock:
                batch = self._queue
                if not batch:
                    self._draining = False
                    return
                self._queue = []
            outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
            for future, fn, compiled, encoded in batch:
                try:
                    outcomes.append((future, running(fn, self, compiled, encoded), None))
                except BaseException as exc:  # the caller's to raise
                    outcomes.append((future, None, exc))
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_deliver, self, outcomes)

    def _drained(self, exc: BaseException) -> None:
        """A drain that failed as a whole (the thread stopped under it) fails the
        statements it left queued, rather than leave their callers waiting forever."""
        with self._lock:
            left, self._queue = self._queue, []
            self._draining = False
        for future, *_ in left:
            if not future.done():
                future.set_exception(exc)

    def _shared_failure(self, exc: BaseException, call: int) -> errors.DatabaseError | None:
        """``_failure`` for call number ``call`` on a shared connection: other callers'
        statements are queued behind it, so an interrupt must reach this call only. Under
        the lock the thread can neither begin nor end a call: a call not begun yet is
        skipped, one running is interrupted while it still runs (an interrupt when no
        statement runs does nothing), one that ended is left alone."""
        if isinstance(exc, TRANSLATED):
            return translate(exc, self._driver.path)
        if isinstance(exc, asyncio.CancelledError):
            with self._lock:
                if self._started < call:
                    self._skipped.add(call)
                elif self._started == call and self._busy:
                    self._db.interrupt()
                    self._interrupted = call
        return None

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
        if begin is _BEGIN_READ_ONLY:
            # Writes then fail, as in PostgreSQL's READ ONLY transaction; set after BEGIN,
            # so that a BEGIN that fails leaves nothing to undo.
            self._query_only = True
            self._db.execute("PRAGMA query_only = ON")
        return fn(*args)

    def _commit(self) -> None:
        self._db.execute("COMMIT")
        self._writable()

    def _end_transaction(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._writable()

    def _writable(self) -> None:
        if self._query_only:
            self._db.execute("PRAGMA query_only = OFF")
            self._query_only = False

    def _settled(self) -> None:
        self._absorb()
        self._end_transaction()

    def _plan_for(self, compiled: Compiled, cursor: sqlite3.Cursor) -> Plan:
        """The plan for ``cursor``'s rows: to be called before they are fetched, while the
        statement holds the read snapshot its columns come from."""
        # Another connection, process or migration tool may have changed the schema since
        # the last statement: the version read in the same snapshot says which one applies.
        key = self._seen
        if key is None or not self._watching or self._own_schema is not None:
            key = self._seen = self._schema_now()
        plans: dict[SchemaVersion, Plan] = compiled.state.plans
        plan = plans.get(key)
        if plan is None or plan.__class__ is NewPlan:
            return self._new_plan(compiled, cursor, key, plan)
        return plan

    def _schema_now(self) -> SchemaVersion:
        """The schema version this connection reads now (in its snapshot, if it has one)."""
        versions = self._version_cursor
        if versions is None:
            versions = self._version_cursor = self._db.cursor()
        # (fetchall: run to its end, so no statement of the connection stays open between
        # calls, where an interrupt's flag would outlive the call it was meant for)
        version = versions.execute("PRAGMA schema_version").fetchall()[0][0]
        schema = self._driver.schema if self._own_schema is None else self._schema()
        return schema.versions.get(version) or schema.at(version)

    def _bound(self, compiled: Compiled, args: Sequence[Any]) -> Sequence[Any]:
        """The arguments of a statement whose values meet columns, each encoded as the
        column's type takes it (see ``codec.binder_for``), in the connection's thread."""
        if compiled.upsert_keys is not None:
            _check_upsert(compiled.upsert_keys, args)
        binds: Binds | None = compiled.state.binds.get(self._seen)
        if binds is None:
            binds = self._encoders(compiled)
        encoded = binds.quickly(args)
        if encoded is None:
            # A value to encode by itself, or one refused: this names it.
            return self._bound_slowly(compiled, binds, args)
        return encoded

    def _encoders(self, compiled: Compiled) -> Binds:
        state: Sources = compiled.state
        return self._for_schema(state.binds, make_binds, compiled)

    def _typed(self, compiled: Compiled) -> str:
        """The statement's text for the column types (see ``plans.typed_sql``)."""
        state: Sources = compiled.state
        return self._for_schema(state.sqls, typed_sql, compiled)

    def _for_schema(
        self,
        made: dict[SchemaVersion, _Made],
        make: Callable[[sqlite3.Connection, SchemaVersion, Any, Compiled], _Made],
        compiled: Compiled,
    ) -> _Made:
        """What ``make`` makes of a statement for the schema this connection last read,
        kept in ``made`` per schema version. Not read again for each statement (a
        statement more per write): a schema another process changes is seen from the
        statement after the one SQLite prepared again for it (see ``watch``), and its
        own DDL is seen at once."""
        key = self._seen
        if key is None:
            key = self._seen = self._schema_now()
        found = made.get(key)
        if found is None:
            try:
                found = make(self._db, key, compiled.state, compiled)
            except Moved:  # changed as we read it: read it again
                key = self._seen = self._schema_now()
                found = make(self._db, key, compiled.state, compiled)
            if len(made) > 4:
                made.clear()
            made[key] = found
        return found

    @staticmethod
    def _bound_slowly(compiled: Compiled, binds: Binds, args: Sequence[Any]) -> list[Any]:
        """``_bound`` value by value, to name the one refused (an Enum is its value)."""
        out = []
        for index, (encoder, value) in enumerate(zip(binds.encoders, args, strict=True)):
            try:
                out.append(bind(encoder, value))
            except Refused as refused:
                raise _refused(compiled, index, refused, value) from None
            except errors.DataError as error:  # a check both backends make (NUL, NaN…)
                raise compiled.refused(index, error.message, NAME) from None
        return out

    def _bound_rows(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """``_bound`` for every row of a bulk INSERT, flat."""

        def named(index: int, exc: Refused | errors.DataError, value: Any) -> errors.DataError:
            # Named as ``_bound_slowly`` names it for one row.
            if isinstance(exc, Refused):
                return _refused(compiled, index, exc, value)
            return compiled.refused(index, exc.message, NAME)

        return bind_rows(self._encoders(compiled).encoders, rows, named)

    def _new_plan(
        self, compiled: Compiled, cursor: sqlite3.Cursor, key: SchemaVersion, seen: Plan | None
    ) -> Plan:
        # The cursor's description is a fresh tuple per read: ask for it only here.
        names = tuple(d[0] for d in cursor.description or ())
        if isinstance(seen, NewPlan) and seen.names == names:
            return seen
        try:
            made = make_plan(self._db, key, compiled.state, names)
        except Moved:
            # The statement no longer held its snapshot, so it has no rows to decode.
            return Plan(record_class(names), ())
        plans: dict[SchemaVersion, Plan] = compiled.state.plans
        if len(plans) > 4:
            plans.clear()
        plan = plans[key] = NewPlan(made, names, plans, key)
        return plan

    def _ran_ddl(self) -> None:
        # Inside a transaction the new schema is this connection's alone until it commits,
        # and a rollback would let its version number come back with another schema:
        # meanwhile the connection keeps what it learns about it to itself.
        self._seen = None
        if self._db.in_transaction:
            self._own_schema = Schema()

    def _schema(self) -> Schema:
        if self._db.in_transaction and self._own_schema is not None:
            return self._own_schema
        self._own_schema = None
        return self._driver.schema

    # The functions below run in the connection's thread, one per statement; the event
    # loop waits for each, so they are kept as short as the ones aiosqlite runs itself.

    def _fetched(self, compiled: Compiled, args: Sequence[Any]) -> tuple[Plan, list[Any]]:
        """A statement's stored rows, and the plan that decodes them."""
        sql = compiled.sql if compiled.spots is None else self._typed(compiled)
        if compiled.targets is not None:
            args = self._bound(compiled, args)
        cursor = self._db.execute(sql, args)
        try:
            if compiled.is_ddl:
                self._ran_ddl()
            plan = self._plan_for(compiled, cursor)
            return plan, cursor.fetchall()
        except BaseException:
            # Closed now, not when the traceback that holds it goes: an open statement
            # keeps an interrupt meant for this call alive for the connection's next one.
            cursor.close()
            raise

    def _fetch_all(self, compiled: Compiled, args: Sequence[Any]) -> list[Record]:
        plan, rows = self._fetched(compiled, args)
        return plan.rows(rows) if rows else rows

    def _fetch_rows(self, compiled: Compiled, args: Sequence[Any]) -> Rows:
        plan, rows = self._fetched(compiled, args)
        return plan.cls._keys, plan.tuples(rows) if rows else rows

    def _fetch_one(self, compiled: Compiled, args: Sequence[Any]) -> Record | None:
        sql = compiled.sql if compiled.spots is None else self._typed(compiled)
        if compiled.targets is not None:
            args = self._bound(compiled, args)
        cursor = self._db.execute(sql, args)
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

    def _fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Any:
        row = self._fetch_one(compiled, args)
        return None if row is None else row[0]

    def _execute(self, compiled: Compiled, args: Sequence[Any]) -> int:
        sql = compiled.sql if compiled.spots is None else self._typed(compiled)
        if compiled.targets is not None:
            args = self._bound(compiled, args)
        cursor = self._db.execute(sql, args)
        try:
            rows = cursor.fetchall()
            count = cursor.rowcount
        finally:
            cursor.close()
        if compiled.is_ddl:
            self._ran_ddl()
        return count if count >= 0 else len(rows)

    def _execute_many(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> None:
        sql = compiled.sql if compiled.spots is None else self._typed(compiled)
        if compiled.targets is not None:
            rows = [self._bound(compiled, row) for row in rows]
        self._atomically(self._db.executemany, sql, rows)
        if compiled.is_ddl:
            self._ran_ddl()

    def _insert_many(self, compiled: Compiled, flat: Sequence[Any], width: int) -> None:
        """A bulk INSERT as multi-row ``VALUES`` statements: a third less time than
        ``executemany``, which steps one statement per row. ``flat`` is the rows'
        arguments, encoded; or, for a statement whose values meet columns, the rows."""
        if compiled.targets is not None:
            flat = self._bound_rows(compiled, flat)
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

    def _fetch_batch(self, opened: list[Any], compiled: Compiled, size: int) -> list[Any]:
        cursor: sqlite3.Cursor = opened[0]
        if len(opened) == 1:
            # Before the first rows end the statement's read; the statement keeps that one
            # snapshot (and so its schema) until it closes, so its plan holds for the rest.
            opened.append(self._plan_for(compiled, cursor))
        return cursor.fetchmany(size)

    # The statement methods are plain functions returning ``_call``'s coroutine, one
    # coroutine frame fewer per statement than ``async def`` wrappers.

    def fetch_all(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, list[Record]]:
        if self.aborted or compiled.session:
            self._before(compiled)
        return self._call(self._fetch_all, compiled, _encoded(compiled, args))

    def fetch_one(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, Record | None]:
        if self.aborted or compiled.session:
            self._before(compiled)
        return self._call(self._fetch_one, compiled, _encoded(compiled, args))

    def fetch_rows(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Rows]:
        if self.aborted or compiled.session:
            self._before(compiled)
        return self._call(self._fetch_rows, compiled, _encoded(compiled, args))

    def fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        if self.aborted or compiled.session:
            self._before(compiled)
        return self._call(self._fetch_val, compiled, _encoded(compiled, args))

    def execute(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, int]:
        if self.aborted or compiled.session:
            self._before(compiled)
        return self._call(self._execute, compiled, _encoded(compiled, args))

    async def execute_many(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> None:
        self._before(compiled)
        target = compiled.bulk_target
        if target is not None and compiled.sql.endswith(" VALUES " + _group(len(target[1]))):
            flat = encode_many(rows) if compiled.targets is None else rows
            await self._call(self._insert_many, compiled, flat, len(target[1]))
        else:
            encoded = [encode_args(row) for row in rows] if compiled.targets is None else rows
            await self._call(self._execute_many, compiled, encoded)

    async def iterate(
        self, compiled: Compiled, args: Sequence[Any], batch_size: int
    ) -> AsyncGenerator[list[Record], None]:
        # The cursor stays in the thread's hands: were it returned, a cancel arriving as
        # it opens would lose it, still open, holding a read snapshot (a later write on
        # this connection then fails "database is locked") and keeping an interrupt alive.
        self._before(compiled)
        opened: list[Any] = []  # the cursor, then the plan of its rows
        try:
            await self._call(self._open_cursor, opened, compiled, _encoded(compiled, args))
            while True:
                rows = await self._call(self._fetch_batch, opened, compiled, batch_size)
                if not rows:
                    break
                # Decoded a few at a time as the caller takes them, not the whole batch at
                # once in the thread: a batch of records alive together (each with its
                # UUIDs, datetimes, dicts) is enough new objects to set off the garbage
                # collector over and over, where a few at a time leaves it idle.
                plan: Plan = opened[1]
                for start in range(0, len(rows), _DECODED_AT_ONCE):
                    yield plan.rows(rows[start : start + _DECODED_AT_ONCE])
        finally:
            await self._call(self._close_cursors, opened)

    def _open_cursor(self, opened: list[Any], compiled: Compiled, args: Sequence[Any]) -> None:
        sql = compiled.sql if compiled.spots is None else self._typed(compiled)
        if compiled.targets is not None:
            args = self._bound(compiled, args)
        opened.append(self._db.execute(sql, args))

    @staticmethod
    def _close_cursors(opened: list[Any]) -> None:
        if opened:
            opened[0].close()
            opened.clear()

    async def begin(self, isolation: IsolationLevel | None, readonly: bool) -> None:
        # Sent in the same hop to the thread as the transaction's first statement: a
        # three-statement transaction then takes four hops instead of five. (The write
        # lock is taken at that statement rather than at ``async with``.) IMMEDIATE takes
        # the write lock up front, so a transaction that reads and then writes cannot
        # fail half-way with SQLITE_BUSY; every level runs serializable.
        self._pending = _BEGIN_READ_ONLY if readonly else "BEGIN IMMEDIATE"
        self.in_block, self.aborted = True, False

    async def commit(self) -> None:
        if self.aborted:
            # As PostgreSQL ends an aborted transaction: rolled back, and (unlike there,
            # silently) an error, since the caller meant to commit.
            await self.rollback()
            raise errors.TransactionAborted.at_commit(NAME)
        if self._pending is not None:
            self._pending = None  # no statement ran, so nothing began: nothing to end
            self.in_block = False
            return
        await self._call(self._commit)
        self.in_block = False

    async def rollback(self) -> None:
        self.in_block = self.aborted = False
        if self._pending is not None:
            self._pending = None
            return
        # Also when the BEGIN itself failed (busy) and nothing began.
        await self._call(self._end_transaction)

    async def savepoint(self, name: str) -> None:
        self._refuse_if_aborted()
        await self.run(f"SAVEPOINT {name}")

    async def release(self, name: str) -> None:
        self._refuse_if_aborted()
        await self.run(f"RELEASE SAVEPOINT {name}")

    async def rollback_to(self, name: str) -> None:
        await self.run(f"ROLLBACK TO SAVEPOINT {name}")
        self.aborted = False  # what the savepoint began is undone; the rest stands

    async def run(self, sql: str) -> None:
        await self._call(self._db.execute, sql)

    def in_transaction(self) -> bool:
        return self._db.in_transaction


#: How many statements outside transactions queue on one connection before another
#: connection of the pool takes the next ones (see ``SQLiteDriver.run``): as many as one
#: aiosqlite connection driven by many tasks would queue, since the thread drains them in
#: batches; a connection that stalls (``_STALL``) takes no more meanwhile.
_SHARE_DEPTH = 64
#: A connection with statements in flight that has handed back no result for this long is
#: busy with a slow one: the next statements go to another connection (while the pool
#: has one) rather than queue behind it.
_STALL = 0.005


def _deliver(
    conn: SQLiteConnection, outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]
) -> None:
    """In the event loop: hand each statement of a drained batch its outcome (a caller
    cancelled meanwhile has stopped waiting)."""
    conn.moved = time.monotonic()
    for future, result, exc in outcomes:
        if future.done():
            continue
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)


def _in_flight(conn: SQLiteConnection) -> int:
    return conn.shared


def _encoded(compiled: Compiled, args: Sequence[Any]) -> Sequence[Any]:
    """The arguments as sent to the connection's thread: encoded here, or, where values
    meet columns, encoded there by the columns' types (``SQLiteConnection._bound``)."""
    return encode_args(args) if compiled.targets is None else args


def _check_upsert(keys: Sequence[Sequence[int]], args: Sequence[Any]) -> None:
    """Refuse an upsert two of whose rows share a conflict key, as PostgreSQL does (SQLite
    would apply both, in order); a key with NULL conflicts with nothing."""
    seen = set()
    for positions in keys:
        key = tuple(args[i] for i in positions)
        if None in key:
            continue
        try:
            if key in seen:
                raise errors.ProgrammingError(
                    "ON CONFLICT DO UPDATE command cannot affect row a second time "
                    "(two rows of the VALUES have the same conflict key)",
                    dialect=NAME,
                )
            seen.add(key)
        except TypeError:  # a value that is not hashable: PostgreSQL will say
            return


def _refused(compiled: Compiled, index: int, refused: Refused, value: Any) -> errors.DataError:
    return compiled.refused(index, f"expected {refused.args[0]}, got {type(value).__name__}", NAME)


#: How many steps of SQLite's virtual machine a read may take in the event loop's thread
#: before it moves to the connection's. A primary-key lookup takes about 20, a page of 50
#: ten-column rows about 700: less time than the hop to the thread and back. A read
#: longer than this pays the steps it took here on top of the hop.
_INLINE_STEPS = 1_000
#: Steps between two calls of the progress handler while a read runs there.
_TICK = 100
#: Reads that run there one after another before the event loop runs other tasks, when
#: no other reader waits for its turn (a turn of the loop costs more than such a read).
_YIELD_EVERY = 16
#: Readers waiting for their turn from which reads go to the threads instead.
_CROWD = 16
_TOO_LONG: Any = object()


#: The thread-side function of each single-statement operation of ``Driver.run``.
_IN_THREAD: dict[Operation, Callable[[SQLiteConnection, Compiled, list[Any]], Any]] = {
    "fetch_all": SQLiteConnection._fetch_all,
    "fetch_rows": SQLiteConnection._fetch_rows,
    "fetch_one": SQLiteConnection._fetch_one,
    "fetch_val": SQLiteConnection._fetch_val,
    "execute": SQLiteConnection._execute,
}

# ---------------------------------------------------------------------------- pool


#: dualdb's SQL functions (see ``functions``), on every connection: name, arity, function.
_FUNCTIONS: tuple[tuple[str, int, Callable[..., Any]], ...] = (
    (NONZERO, 2, nonzero),
    (INTEGER_RANGE, 2, integer_range),
    (LIMIT_COUNT, 1, limit_count),
    (LOWER, 1, lower),
    (UPPER, 1, upper),
    (OFFSET_COUNT, 1, offset_count),
    (DECIMAL_ARITHMETIC, 3, decimal_arithmetic),
    (FLOAT_ARITHMETIC, 3, float_arithmetic),
    (CAST_VALUE, 3, cast_value),
    (UNARY, 2, unary),
)


def _register(db: sqlite3.Connection, connection: SQLiteConnection) -> None:
    """Register dualdb's functions, aggregates, collation and authorizer on ``db``, the
    driver connection of ``connection`` (in its thread)."""
    for name, arity, function in _FUNCTIONS:
        db.create_function(name, arity, function, deterministic=True)
    db.create_aggregate(EXACT_SUM, 1, ExactSum)
    db.create_aggregate(EXACT_AVG, 1, ExactAvg)
    db.create_window_function(WINDOW_SUM, 1, WindowSum)
    db.create_window_function(WINDOW_AVG, 1, WindowAvg)
    db.create_collation(DECIMAL_ORDER, decimal_order)
    connection.watch()


class SQLiteDriver(Driver):
    """A small pool of aiosqlite connections (each one a thread) to one database file.

    WAL lets readers run beside the one writer; writers queue on ``busy_timeout``.
    A private in-memory database exists per connection, so it gets a pool of one.
    """

    def __init__(self, settings: Settings, on_connect: OnConnect | None = None) -> None:
        _aiosqlite.hide_call_arguments()  # aiosqlite's DEBUG lines print bound values
        self.settings = settings
        self._on_connect = on_connect
        self.path = settings.sqlite_file
        self.schema = Schema()
        #: Connections running statements outside transactions, each shared by the
        #: statements in flight on it (see ``run``).
        self._sharing: list[SQLiteConnection] = []
        #: Reads may run in the event loop's thread (``SQLITE_INLINE_READS``), and how
        #: many ran there since one let other tasks run.
        self._inline_reads = settings.sqlite_inline_reads
        self._unyielded = 0
        #: Tasks that ran a read there and now wait for their turn to go on.
        self._turns = 0
        size = 1 if self.path == _MEMORY else settings.sqlite_pool_size
        # (DB_POOL_MIN_SIZE as on PostgreSQL, but one at least: opening the file at start
        # is how a wrong path fails early)
        self._min_size = max(1, min(settings.pool_min_size, size))
        self._pool: Pool[SQLiteConnection] = Pool(
            backend=NAME,
            size=size,
            timeout=settings.pool_timeout,
            connect=self._connect,
            close=_close,
            timeout_hint="SQLITE_POOL_SIZE / DB_POOL_TIMEOUT",
            # Each connection is a thread; keep at least one, whose cache stays warm (and
            # which alone holds a private in-memory database).
            min_size=self._min_size,
            idle_timeout=settings.idle_timeout,
            max_lifetime=settings.max_connection_lifetime,
        )

    async def start(self) -> None:
        if self.path != _MEMORY:
            prepare_file(self.settings)
        await self._pool.fill(self._min_size)

    async def _connect(self) -> SQLiteConnection:
        timeout_ms = int(self.settings.sqlite_busy_timeout * 1000)
        raw = aiosqlite.connect(
            self.path,
            isolation_level=None,
            # The set-up below waits for a lock up to the connect timeout (or the busy
            # timeout, if longer): opening a connection is no transaction to retry.
            # SQLITE_BUSY_TIMEOUT is set once it is done.
            timeout=max(self.settings.connect_timeout, self.settings.sqlite_busy_timeout),
            # Used by its thread, and by the event loop's while that thread leaves it
            # alone (``SQLiteConnection.inline``): never by both at once.
            check_same_thread=False,
        )
        # aiosqlite's worker thread is not a daemon: a Database the application forgot to
        # close would keep the interpreter from exiting. SQLite itself is crash-safe.
        thread = _aiosqlite.worker_thread(raw)
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
            raise translate(exc, self.path) from driver_error(exc)
        try:
            mode = "memory"
            if self.path != _MEMORY:
                (row,) = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
                mode = str(row[0]).lower()  # WAL, unless SQLite could not switch
            for pragma in (
                "PRAGMA foreign_keys = ON",
                "PRAGMA synchronous = NORMAL",
                # LIKE is case-sensitive on PostgreSQL; make SQLite agree.
                "PRAGMA case_sensitive_like = ON",
            ):
                await conn.execute(pragma)
            connection = SQLiteConnection(conn, self)
            # A reader waits for no writer in WAL mode (nor on a private in-memory
            # database): it may run in the event loop's thread. Without WAL (a file
            # system without shared memory) a reader can wait out the busy timeout, and
            # stays in the connection's.
            connection.inline_reads = self._inline_reads and mode in ("wal", "memory")
            # In one hop to the connection's thread, where they must be registered.
            await _aiosqlite.in_thread(conn)(
                _register, _aiosqlite.sqlite3_connection(conn), connection
            )
            # Read to its end, as every statement here that answers with a row: one left
            # half-read keeps an interrupt (a cancelled call's) pending for the next.
            await conn.execute_fetchall(f"PRAGMA busy_timeout = {timeout_ms}")
            if self._on_connect is not None:
                await self._on_connect(conn)
                await _aiosqlite.in_thread(conn)(connection.watched)
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.path) from driver_error(exc)
            raise
        return connection

    async def run(self, operation: Operation, compiled: Compiled, args: Sequence[Any]) -> Any:
        """One statement outside a transaction.

        A SELECT first runs here, in the event loop's thread, on an idle connection whose
        thread is done with it (``SQLiteConnection.inline``): a short read costs less
        than the hop to a thread and back, and in WAL mode a reader waits for no writer.
        SQLite stops it after :data:`_INLINE_STEPS` steps, and it runs again as any
        other statement does.

        Such statements share connections: each is queued to a connection's thread behind
        others' (as one aiosqlite connection driven by many tasks), rather than each
        waiting for a connection of its own, then for the thread, then handing the
        connection to the next waiter. A transaction, ``iterate`` or ``connection()``
        still gets a connection of its own (see :meth:`_shared_connection`).
        """
        if compiled.session:
            return await self._run_alone(operation, compiled, args)
        encoded = _encoded(compiled, args)
        # Not while statements are in flight in the connections' threads: those threads
        # need the interpreter to finish them, and an event loop kept busy with reads
        # would hold it off a switch interval at a time. Nor while many readers wait
        # for their turn: a turn of the loop per read then costs more than queueing
        # them to a thread, which runs them in batches.
        if compiled.is_select and self._inline_reads and not self._sharing and self._turns < _CROWD:
            pool = self._pool
            if pool.idle:
                quiet = pool.idle[-1]
                if quiet.inline_reads and quiet._ended == quiet._issued:
                    try:
                        result = quiet.inline(_IN_THREAD[operation], compiled, encoded)
                    except TRANSLATED as exc:
                        raise translate(exc, self.path) from driver_error(exc)
                    if result is not _TOO_LONG:
                        self._unyielded += 1
                        if self._turns or self._unyielded >= _YIELD_EVERY:
                            # Other tasks run before this one goes on, as after a hop: at
                            # once while other readers wait for their turn, else every
                            # few reads (the event loop's own I/O among them).
                            self._unyielded = 0
                            self._turns += 1
                            try:
                                await asyncio.sleep(0)
                            finally:
                                self._turns -= 1
                        return result
        conn = self._shared_connection(compiled.is_write)
        if conn is None:
            conn = await self._pool.checkout()
        alone = not conn.shared
        if alone:
            self._sharing.append(conn)
            conn.moved = time.monotonic()
            # Nothing in flight, nor a drain still ending in the thread (a flag it clears
            # as it ends): a call of its own, in order before any batch that follows.
            alone = not conn._draining
        conn.shared += 1
        if compiled.is_write:
            conn.writes += 1
        conn._issued += 1
        call = conn._issued
        try:
            if alone:
                result = await conn._in_thread(
                    conn._running, _IN_THREAD[operation], conn, compiled, encoded
                )
            else:
                result = await conn.enqueue(_IN_THREAD[operation], compiled, encoded)
        except BaseException as exc:
            error = conn._shared_failure(exc, call)
            self._unshare(conn, compiled.is_write)
            if error is None:
                raise
            raise error from driver_error(exc)
        self._unshare(conn, compiled.is_write)
        return result

    def _shared_connection(self, writes: bool) -> SQLiteConnection | None:
        """The connection to queue a statement to, or None to check one out.

        A connection already running statements and not stalled on a slow one (see
        :data:`_STALL`), the least busy of them while it has fewer than
        :data:`_SHARE_DEPTH` in flight (a writer joins the connection that writes, so
        that writes queue in one thread instead of waiting on SQLite's lock); else an
        idle one, else a new one while the pool has room. With no room, a connection
        busy elsewhere (a transaction, one being opened) is waited for rather than a
        stalled one queued behind; with none, the least busy stalled one. Never one while
        callers wait for a connection of their own: the shared ones then drain and go to
        them in turn.
        """
        pool = self._pool
        sharing = self._sharing
        if pool.waiting:
            return None
        if sharing:
            if writes:
                for conn in sharing:
                    if conn.writes:
                        return conn
            stalled = time.monotonic() - _STALL
            best: SQLiteConnection | None = None
            for conn in sharing:
                if (
                    conn.moved > stalled
                    and conn.shared < _SHARE_DEPTH
                    and (best is None or conn.shared < best.shared)
                ):
                    best = conn
            if best is not None:
                return best
            if not (pool.idle or pool.has_room):
                if pool.open > len(sharing):
                    return None
                return min(sharing, key=_in_flight)
        if pool.idle:
            return pool.idle.pop()
        return None

    def _unshare(self, conn: SQLiteConnection, wrote: bool) -> None:
        conn.shared -= 1
        if wrote:
            conn.writes -= 1
        if conn.shared:
            return
        self._sharing.remove(conn)
        pool = self._pool
        if conn.broken or conn.dirty or pool.closed or pool.waiting:
            self._checkin(conn)
        else:
            pool.idle.append(conn)  # what _checkin does in the common case, inline

    async def _run_alone(
        self, operation: Operation, compiled: Compiled, args: Sequence[Any]
    ) -> Any:
        """A statement that may change its connection's session (``Compiled.session``):
        on a connection of its own, which is then closed rather than reused."""
        pool = self._pool
        idle = pool.idle
        conn = idle.pop() if idle else await pool.checkout()
        conn._issued += 1
        conn.dirty = True
        try:
            result = await conn._in_thread(
                conn._running, _IN_THREAD[operation], conn, compiled, _encoded(compiled, args)
            )
        except BaseException as exc:
            error = conn._failure(exc)
            self._checkin(conn)
            if error is None:
                raise
            raise error from driver_error(exc)
        self._checkin(conn)
        return result

    def acquire(self) -> Lease[SQLiteConnection]:
        return Lease(self._take, self._give_back)

    async def _take(self) -> SQLiteConnection:
        idle = self._pool.idle
        return idle.pop() if idle else await self._pool.checkout()

    async def _give_back(self, conn: SQLiteConnection, exc: BaseException | None) -> None:
        conn._pending = None
        conn.in_block = conn.aborted = False
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
        elif conn.broken or conn.dirty:
            pool.drop(conn)  # (a new connection is cheap: no session to reset)
        else:
            pool.put(conn)

    async def _settle(self, conn: SQLiteConnection) -> None:
        """Return a connection whose call was cancelled once that call has ended (it runs
        first: calls run in order) and any transaction it began is rolled back."""
        try:
            conn._issued += 1
            await conn._in_thread(conn._running, conn._settled)
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


def prepare_file(settings: Settings, *, migrating: bool = False) -> None:
    """Check the database file's place before SQLite creates the file there, as it does
    for any path it can write: a mistyped path (or a missing configuration) would give a
    working application on a new, empty database.

    The default file's folder (``./data/``) is created; another path's folder must exist.
    Under ``DB_PRODUCTION`` the file itself must exist, unless ``migrating`` (``dualdb
    migrate`` creates it). A new database file is logged, with its full path.
    """
    path = os.path.abspath(os.path.expanduser(settings.sqlite_file))
    if os.path.exists(path):
        return
    default = os.path.normpath(settings.sqlite_file) == os.path.normpath(DEFAULT_SQLITE_FILE)
    if settings.production and not migrating:
        raise errors.ConfigurationError(
            f"the SQLite database {path} does not exist, and DB_PRODUCTION is on, so "
            "connecting creates none: check SQLITE_FILE / DATABASE_URL, or create it with "
            "`dualdb migrate`",
            variable="DATABASE_URL",
        )
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        if not default and not os.path.exists(folder):
            raise errors.ConfigurationError(
                f"the folder {folder} of the SQLite database does not exist (SQLITE_FILE / "
                "DATABASE_URL): create it, or correct the path",
                variable="SQLITE_FILE",
            )
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise errors.ConnectionFailed(
                f"cannot create the folder {folder!r} for the SQLite database "
                f"(SQLITE_FILE / DATABASE_URL): {exc.strerror}",
                dialect=NAME,
            ) from exc
    if default:
        logger.warning(
            "no database is configured (DATABASE_URL, DB_TYPE, SQLITE_FILE): creating a new "
            "SQLite database at %s",
            path,
        )
    else:
        logger.info("creating a new SQLite database at %s", path)
