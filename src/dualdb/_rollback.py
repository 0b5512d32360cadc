"""``connect(..., force_rollback=True)``: one connection, one transaction never committed.

A test wants the code under test to run unchanged — its own ``db.transaction()`` blocks
included — and nothing of it to outlive the test. So the Database is given a driver that
holds a single connection in an outer transaction, turns every transaction opened through
it into a SAVEPOINT, and rolls the outer transaction back at ``close()``.

A statement run outside any ``transaction()`` gets a savepoint of its own: as in
autocommit mode, a statement that fails leaves no trace and the next one runs (PostgreSQL
would otherwise refuse everything until the outer transaction ends).

Everything shares the one connection, so work from concurrent tasks interleaves: one
statement at a time is guaranteed, but transactions of two tasks that overlap nest into
each other. Tests of such code, or of code that opens its own connections, empty the
tables afterwards instead (the pytest plugin's ``truncate`` isolation).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dualdb.dialects.base import Connection, Driver, IsolationLevel, Operation, Stream
from dualdb.errors import OperationalError, TransactionAborted

if TYPE_CHECKING:
    from dualdb.dialects._pool import PoolStats
    from dualdb.records import Record
    from dualdb.sql.compile import Compiled

__all__ = ["pinned"]

_names = itertools.count(1)


def _savepoint_name() -> str:
    return f"dualdb_fr_{next(_names)}"


class _Pinned:
    """The held connection, its lease and the lock that keeps its statements apart."""

    __slots__ = ("broken", "conn", "dialect", "lease", "lock")

    def __init__(
        self, conn: Connection, lease: AbstractAsyncContextManager[Connection], dialect: str
    ) -> None:
        self.conn = conn
        self.lease = lease
        self.dialect = dialect
        self.lock = asyncio.Lock()
        self.broken = False

    def live(self) -> Connection:
        if self.broken:
            raise OperationalError(
                "the force_rollback connection was given up after a cancelled or failed "
                "transaction; open a new Database",
                dialect=self.dialect,
            )
        return self.conn


class _SavepointConnection(Connection):
    """The held connection as transactions see it: BEGIN/COMMIT/ROLLBACK are savepoints."""

    def __init__(self, pinned: _Pinned) -> None:
        self._pinned = pinned
        self._open: list[str] = []
        #: A COMMIT just refused an aborted transaction after rolling it back cleanly, so
        #: the ``discard`` that follows the refusal has nothing to give up.
        self.settled = False

    async def _locked(self, call: Any, *args: Any) -> Any:
        async with self._pinned.lock:
            return await call(*args)

    def fetch_all(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, list[Record]]:
        return self._locked(self._pinned.live().fetch_all, compiled, args)

    def fetch_one(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, Record | None]:
        return self._locked(self._pinned.live().fetch_one, compiled, args)

    def fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return self._locked(self._pinned.live().fetch_val, compiled, args)

    def execute(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, int]:
        return self._locked(self._pinned.live().execute, compiled, args)

    async def execute_many(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> None:
        await self._locked(self._pinned.live().execute_many, compiled, rows)

    def iterate(self, compiled: Compiled, args: Sequence[Any], batch_size: int) -> Stream:
        return self._pinned.live().iterate(compiled, args, batch_size)

    async def begin(self, isolation: IsolationLevel | None, readonly: bool) -> None:
        # The isolation level and read-only mode belong to the outer transaction, which
        # began long before: a savepoint cannot change them.
        name = _savepoint_name()
        await self.savepoint(name)
        self._open.append(name)

    async def commit(self) -> None:
        name = self._open.pop()
        try:
            await self.release(name)
        except TransactionAborted:
            # As a COMMIT of an aborted transaction does: roll back, and say so.
            await self.rollback_to(name)
            await self.release(name)
            self.settled = True
            raise TransactionAborted.at_commit(self._pinned.dialect) from None

    async def rollback(self) -> None:
        name = self._open.pop()
        await self.rollback_to(name)
        await self.release(name)

    async def savepoint(self, name: str) -> None:
        await self._locked(self._pinned.live().savepoint, name)

    async def release(self, name: str) -> None:
        await self._locked(self._pinned.live().release, name)

    async def rollback_to(self, name: str) -> None:
        await self._locked(self._pinned.live().rollback_to, name)

    async def run(self, sql: str) -> None:
        await self._locked(self._pinned.live().run, sql)

    def in_transaction(self) -> bool:
        return bool(self._open)

    def driver_connection(self) -> Any:
        return self._pinned.live().driver_connection()

    def taint(self) -> None:
        # The held connection is never handed to another borrower: whatever a block
        # changed in its session lasts until close(), which gives the connection up.
        self._pinned.conn.taint()


class _Lease:
    """``acquire()``: the held connection inside a savepoint of the block's own, so that a
    block outside any transaction (``execute_many``, ``iterate``, ``db.connection()``) is
    atomic, as it is on a pooled connection."""

    __slots__ = ("_conn", "_name")

    def __init__(self, conn: _SavepointConnection) -> None:
        self._conn = conn
        self._name = _savepoint_name()

    async def __aenter__(self) -> Connection:
        await self._conn.savepoint(self._name)
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn._pinned.broken:
            return
        if exc is None:
            try:
                await self._conn.release(self._name)
                return
            except TransactionAborted:
                pass  # a failed statement inside: undone below, the caller saw its error
        await self._conn.rollback_to(self._name)
        await self._conn.release(self._name)


class _RollbackDriver(Driver):
    """The Driver of a ``force_rollback`` Database (see the module docstring)."""

    def __init__(self, inner: Driver, pinned: _Pinned) -> None:
        self._inner = inner
        self._pinned = pinned
        self._conn = _SavepointConnection(pinned)
        self._closed = False

    def acquire(self) -> AbstractAsyncContextManager[Connection]:
        return _Lease(self._conn)

    async def run(self, operation: Operation, compiled: Compiled, args: Sequence[Any]) -> Any:
        pinned = self._pinned
        name = _savepoint_name()
        async with pinned.lock:
            conn = pinned.live()
            await conn.savepoint(name)
            try:
                result = await getattr(conn, operation)(compiled, args)
            except Exception:
                await conn.rollback_to(name)
                await conn.release(name)
                raise
            await conn.release(name)
            return result

    def stats(self) -> PoolStats:
        return self._inner.stats()

    def discard(self, connection: Connection) -> None:
        # A transaction was cancelled or failed to end: the savepoints' state is unknown.
        # The connection is settled (rolled back) by the pool when close() returns it.
        if self._conn.settled:
            self._conn.settled = False
            return
        self._pinned.broken = True
        self._inner.discard(self._pinned.conn)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        pinned = self._pinned
        try:
            if not pinned.broken:
                async with pinned.lock:
                    await pinned.conn.rollback()
        finally:
            try:
                await pinned.lease.__aexit__(None, None, None)
            finally:
                await self._inner.close()


async def pinned(inner: Driver, dialect: str) -> Driver:
    """A driver over one connection of ``inner`` in a transaction that is never committed."""
    lease = inner.acquire()
    try:
        conn = await lease.__aenter__()
    except BaseException:
        await inner.close()
        raise
    try:
        await conn.begin(None, False)
    except BaseException as exc:
        await lease.__aexit__(type(exc), exc, exc.__traceback__)
        await inner.close()
        raise
    return _RollbackDriver(inner, _Pinned(conn, lease, dialect))
