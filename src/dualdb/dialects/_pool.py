"""The connection pool both drivers use: an idle stack, a FIFO of waiters, a size limit.

dualdb pools connections itself rather than through ``asyncio.Semaphore`` or asyncpg's
pool because a pool sits on the path of every statement: taking an idle connection here
is a ``list.pop`` with no await, where asyncpg's pool spends ~35 µs per statement (a Task
to shield each release, an idle timer armed and cancelled), half the time of a
primary-key select on loopback.

What a connection needs before it is reused (a rollback, waiting out a cancelled call) is
the driver's business: the driver decides, then gives the connection back with
:meth:`Pool.put` or drops it with :meth:`Pool.drop`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dualdb import errors

__all__ = ["Pool", "PoolStats"]

#: How long callers wait for a connection given back before a new connect is tried, once
#: the server refused one for lack of room.
_FULL_PAUSE = 0.5


@dataclass(frozen=True, slots=True)
class PoolStats:
    """A snapshot of a Database's pool: see :meth:`dualdb.Database.pool_stats`."""

    #: Connections open (or being opened), idle or in use.
    open: int
    idle: int
    in_use: int
    #: Callers waiting for a connection.
    waiting: int
    max_size: int
    #: Since the pool opened (counters, for rates): callers that had to wait for a
    #: connection, the seconds they waited in all, those that gave up (PoolTimeout),
    #: connections opened, and attempts to open one that failed.
    waits: int = 0
    wait_seconds: float = 0.0
    timeouts: int = 0
    connects: int = 0
    connect_failures: int = 0


C = TypeVar("C")


class Pool(Generic[C]):
    """Up to ``size`` connections; callers wait at most ``timeout`` seconds for one.

    ``idle`` is public so that a driver's hot path can ``pop`` a connection without a
    call: every other change goes through the methods. A connection given back goes
    straight to the longest waiter, so a caller arriving later never overtakes one that
    is waiting; a waiter cancelled just as it is handed a connection passes it on.
    """

    def __init__(
        self,
        *,
        backend: str,
        size: int,
        timeout: float,
        connect: Callable[[], Coroutine[Any, Any, C]],
        close: Callable[[C], Coroutine[Any, Any, None]],
        timeout_hint: str,
        min_size: int = 0,
        idle_timeout: float | None = None,
        max_lifetime: float | None = None,
        server_full: Callable[[BaseException], bool] | None = None,
    ) -> None:
        self.idle: list[C] = []  # a stack: the most recently used on top
        self.closed = False
        self._backend = backend
        self._size = size
        self._timeout = timeout
        self._connect = connect
        self._close = close
        self._timeout_hint = timeout_hint
        self._min_size = min_size
        self._idle_timeout = idle_timeout or None
        self._max_lifetime = max_lifetime or None
        #: When each connection was opened (kept only with a ``max_lifetime``).
        self._born: dict[C, float] = {}
        #: Says that a failed connect means the server has no room for another
        #: connection: callers then wait for the open ones, until ``_full_until``.
        self._server_full = server_full
        self._full_until = 0.0
        #: See ``PoolStats``: counted on the slow paths only (waiting, connecting).
        self._waits = self._timeouts = self._connects = self._connect_failures = 0
        self._wait_seconds = 0.0
        #: Connections open or being opened; never more than ``size``.
        self._open = 0
        #: Each waiter gets a connection, or None to open one in a slot that a dropped
        #: connection freed.
        self._waiters: deque[asyncio.Future[C | None]] = deque()
        self._all: set[C] = set()
        #: The bottom of the idle stack at the last sweep (see ``_sweep``).
        self._bottom: list[C] = []
        self._sweeper: asyncio.TimerHandle | None = None
        self._emptied: asyncio.Event | None = None
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def waiting(self) -> bool:
        return bool(self._waiters)

    @property
    def has_room(self) -> bool:
        """Another connection may be opened now (``checkout`` would, instead of waiting)."""
        return self._open < self._size

    @property
    def open(self) -> int:
        """Connections open or being opened, idle or not."""
        return self._open

    def stats(self) -> PoolStats:
        idle = len(self.idle)
        waiting = sum(1 for waiter in self._waiters if not waiter.done())
        return PoolStats(
            self._open,
            idle,
            self._open - idle,
            waiting,
            self._size,
            self._waits,
            self._wait_seconds,
            self._timeouts,
            self._connects,
            self._connect_failures,
        )

    def members(self) -> tuple[C, ...]:
        """Every open connection, idle or in use."""
        return tuple(self._all)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` in the background; :meth:`close` waits for it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def fill(self, count: int) -> None:
        """Open ``count`` connections now (connecting fails here, early); none for 0: the
        first call connects."""
        for _ in range(min(count, self._size) - self._open):
            self._open += 1
            self.put(await self._open_in_slot())
        if self._sweeper is None and (self._idle_timeout or self._max_lifetime):
            self._arm()

    async def checkout(self) -> C:
        """A connection: an idle one, a new one if there is room, else the next one given
        back. The drivers' hot paths pop ``idle`` themselves and call this when empty."""
        if self.closed:
            raise errors.OperationalError("the database is closed", dialect=self._backend)
        if self.idle:
            return self.idle.pop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while True:
            if self._open < self._size and loop.time() >= self._full_until:
                self._open += 1
                conn = await self._try_open()
                if conn is not None:
                    return conn
            handed = await self._wait(deadline - loop.time())
            if handed is not None:
                return handed
            if loop.time() < self._full_until:
                self._open -= 1  # the server has no room now: leave the slot free
                continue
            conn = await self._try_open()  # in the slot a dropped connection freed
            if conn is not None:
                return conn

    async def _try_open(self) -> C | None:
        """A new connection in a slot already counted; None (the slot freed) if the server
        has no room for it while this pool holds live connections to wait for."""
        try:
            return await self._open_in_slot()
        except errors.ConnectionFailed as exc:
            full = self._server_full
            if full is None or not full(exc) or not self._all:
                raise
            # Wait for a connection given back; try connecting again only a little later.
            self._full_until = asyncio.get_running_loop().time() + _FULL_PAUSE
            return None

    async def replace(self, conn: C) -> C:
        """A new connection in the slot of ``conn``, which is closed (found dead)."""
        self._forget(conn)
        return await self._open_in_slot()

    def put(self, conn: C) -> None:
        """Give a healthy connection back: to the longest waiter, else to the idle stack."""
        if self.closed:
            self.drop(conn)
            return
        if not self._hand_to_waiter(conn):
            self.idle.append(conn)

    def drop(self, conn: C) -> None:
        """Close a connection that must not be reused, in the background; free its slot."""
        self._forget(conn)
        self._free_slot()

    async def close(self, force: Callable[[C], Awaitable[None]], grace: float = 0.0) -> None:
        """Fail the waiters, close the idle connections, give the ones in use ``grace``
        seconds to come back, then ``force`` them closed."""
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(
                    errors.OperationalError("the database is closed", dialect=self._backend)
                )
        idle, self.idle = self.idle, []
        for conn in idle:
            self._all.discard(conn)
            await self._close(conn)
        if grace > 0 and self._all:
            self._emptied = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._emptied.wait()
        for conn in list(self._all):
            self._all.discard(conn)
            await force(conn)
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # ------------------------------------------------------------------------ internals

    async def _wait(self, seconds: float) -> C | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[C | None] = loop.create_future()
        self._waiters.append(waiter)
        self._waits += 1
        started = loop.time()
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection (or a slot) just as we gave up: pass it on.
                handed = waiter.result()
                if handed is None:
                    self._free_slot()
                else:
                    self.put(handed)
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                self._timeouts += 1
                raise errors.PoolTimeout(
                    f"no {self._backend} connection became free within {self._timeout}s "
                    f"(pool size {self._size}; {self._timeout_hint})",
                    dialect=self._backend,
                ) from None
            raise
        finally:
            self._wait_seconds += loop.time() - started

    async def _open_in_slot(self) -> C:
        """Open a connection in a slot already counted in ``_open``; free it on failure.

        The connect runs in a task of its own: if the caller is cancelled meanwhile, the
        connection is still made and pooled, rather than abandoned half-open (whose
        handshake then fails in the background, and under a storm of cancellations no
        connect would ever finish).
        """
        task = asyncio.get_running_loop().create_task(self._counted_connect())
        try:
            conn = await asyncio.shield(task)
        except BaseException:
            if task.done():
                # Failed, or made just as the caller was cancelled (the cancel then
                # replaces the result): pool what was made, else free the slot.
                self._adopt(task)
            else:
                self._background.add(task)
                task.add_done_callback(self._adopt)
            raise
        self._all.add(conn)
        if self._max_lifetime is not None:
            self._born[conn] = asyncio.get_running_loop().time()
        return conn

    async def _counted_connect(self) -> C:
        try:
            conn = await self._connect()
        except BaseException:
            self._connect_failures += 1
            raise
        self._connects += 1
        return conn

    def _adopt(self, task: asyncio.Task[C]) -> None:
        """Pool the connection a cancelled caller was opening (or free its slot)."""
        self._background.discard(task)
        if task.cancelled() or task.exception() is not None:
            self._free_slot()
            return
        conn = task.result()
        self._all.add(conn)
        if self._max_lifetime is not None:
            self._born[conn] = asyncio.get_running_loop().time()
        self.put(conn)

    def _forget(self, conn: C) -> None:
        self._born.pop(conn, None)
        if conn in self._all:
            self._all.discard(conn)
            self.spawn(self._close(conn))
        if self._emptied is not None and not self._all:
            self._emptied.set()

    def _free_slot(self) -> None:
        """A connection is gone: let the longest waiter open another, else shrink."""
        if not self._hand_to_waiter(None):
            self._open -= 1

    def _hand_to_waiter(self, handed: C | None) -> bool:
        """Give ``handed`` to the longest waiter still waiting; False if there is none."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return True
        return False

    def _arm(self) -> None:
        every = min(t for t in (self._idle_timeout, self._max_lifetime) if t is not None)
        if self._max_lifetime is not None:
            every = min(every, self._max_lifetime / 2)
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(every, self._sweep)

    def _sweep(self) -> None:
        """Close the connections idle since the last sweep, down to ``min_size``.

        Runs every ``idle_timeout`` seconds instead of time-stamping each connection
        given back, which would cost a clock read on every statement. The idle stack's
        bottom holds the least recently used connections; those that were there at the
        last sweep too have been idle for one to two ``idle_timeout``s.
        """
        if self.closed:
            return
        if self._max_lifetime is not None:
            # Connections older than the lifetime go when idle (one in use goes at a
            # later sweep): a failover, a DNS change or a server's memory growth then
            # reaches every connection in time.
            born_before = asyncio.get_running_loop().time() - self._max_lifetime
            old = [c for c in self.idle if self._born.get(c, born_before) <= born_before]
            for conn in old:
                self.idle.remove(conn)
                self.drop(conn)
        if self._idle_timeout is None:
            self._arm()
            return
        idle, previous = self.idle, self._bottom
        stale = 0
        while (
            stale < len(idle) - self._min_size
            and stale < len(previous)
            and idle[stale] is previous[stale]
        ):
            stale += 1
        expired = idle[:stale]
        del idle[:stale]
        for conn in expired:
            self.drop(conn)
        self._bottom = idle[: max(0, len(idle) - self._min_size)]
        self._arm()
