"""The private parts of asyncpg that dualdb uses, in one place.

Each is what asyncpg's own pool or ``Connection.execute`` does internally; none has a
public equivalent. ``pyproject.toml`` pins asyncpg to the minor version they were checked
against, and ``tests/dialects/test_private_apis.py`` is the canary that fails first when
an upgrade moves one.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from typing import Any, Protocol, TypeVar, cast

import asyncpg

__all__ = [
    "InFlight",
    "copy_types",
    "drop_statement_cache",
    "execute",
    "finish",
    "guarded",
    "is_cancelling",
    "wait_for_cancellation",
]

T = TypeVar("T")


def execute(con: asyncpg.Connection, sql: str, args: Sequence[Any]) -> Awaitable[Any]:
    """Run one statement through the extended protocol and return ``(_, status, _)``.

    ``Connection.execute`` takes the simple protocol when there are no arguments, which
    also runs stacked statements ("…; DROP …"); this is what it calls when there are.
    """
    return cast(Any, con)._execute(sql, args, 0, None, return_status=True)  # type: ignore[no-any-return]


async def copy_types(
    con: asyncpg.Connection, table: str, columns: Sequence[str]
) -> tuple[str, ...]:
    """The type of each column ``copy_records_to_table(table, columns=columns)`` encodes
    for, from the statement it prepares to learn them: the same text, so asyncpg's
    statement cache answers both (and forgets both after DDL)."""
    names = ", ".join(_quote(c) for c in columns)
    query = f"SELECT {names} FROM {_quote(table)} LIMIT 1"
    statement = await cast(Any, con)._prepare(query, use_cache=True)
    return tuple(a.type.name for a in statement.get_attributes())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'  # as asyncpg's own utils._quote_ident


def drop_statement_cache(con: asyncpg.Connection) -> None:
    """Forget the connection's prepared statements (concurrent DDL invalidated some)."""
    cast(Any, con)._drop_local_statement_cache()


def is_cancelling(con: asyncpg.Connection) -> bool:
    """Whether a cancel request for the connection's last call is still unanswered."""
    return bool(cast(Any, con)._protocol._is_cancelling())


async def wait_for_cancellation(con: asyncpg.Connection, limit: float | None = None) -> None:
    """Wait until the server has answered the cancelled call; the connection is idle then.
    Past ``limit`` seconds asyncpg closes the connection and raises TimeoutError."""
    await cast(Any, con)._protocol._wait_for_cancellation(limit)


# ----------------------------------------------------------------------------------------
# Cancelling a caller without cancelling its call.
#
# An asyncpg call waits on one protocol future per round trip, and cancelling that future
# is what makes asyncpg send the server a cancel request: a new TCP connection (a process
# forked by the postmaster) that must be answered before the connection can run anything,
# even when the statement's own answer is already on its way. Under a storm of deadlines
# that made most of the pool wait on cancel requests while holding row locks.
#
# ``guarded`` runs the call in the caller's task (no Task of its own: a statement's hot
# path costs no extra loop iteration) but stands a ``_Guard`` between the task and the
# protocol future, so that cancelling the task wakes it at once with CancelledError and
# leaves the call running. The call is recorded as the connection's ``InFlight``; the
# driver then lets it end (``finish``), and sends a cancel request only if its answer is
# not there within a grace period.


class InFlight:
    """An asyncpg call whose caller was cancelled: the coroutine, suspended on ``waiting``."""

    __slots__ = ("call", "waiting")

    def __init__(self, call: Coroutine[Any, Any, Any], waiting: asyncio.Future[Any]) -> None:
        self.call = call
        self.waiting = waiting


class Holder(Protocol):
    """Where ``guarded`` records a call left running (the driver's connection)."""

    in_flight: InFlight | None


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a left-behind future's exception as seen: it is nobody's error but the
    driver's, which settles the connection."""
    if not future.cancelled():
        future.exception()


class _Guard:
    """A stand-in for the protocol future a task waits on (asyncio accepts any object with
    the future protocol): completion passes straight through, cancellation stops here."""

    __slots__ = (
        "_asyncio_future_blocking",
        "_callback",
        "_cancelled",
        "_context",
        "_future",
        "_message",
    )

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self._future = future
        self._asyncio_future_blocking = True
        self._callback: Callable[[Any], object] | None = None
        self._context: Any = None
        self._cancelled = False
        self._message: Any = None

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._future.get_loop()

    def add_done_callback(self, callback: Callable[[Any], object], *, context: Any = None) -> None:
        # The task is woken by the protocol future itself: no extra loop iteration.
        self._callback, self._context = callback, context
        self._future.add_done_callback(callback, context=context)

    def cancel(self, msg: Any = None) -> bool:
        future, callback = self._future, self._callback
        if self._cancelled or future.done() or callback is None:
            # Already answered: the task wakes with the answer, then raises CancelledError.
            return False
        future.remove_done_callback(callback)
        self._cancelled, self._message = True, msg
        future.get_loop().call_soon(callback, self, context=self._context)
        return True

    def cancelled(self) -> bool:
        return self._cancelled

    def done(self) -> bool:
        return self._cancelled or self._future.done()

    def result(self) -> Any:
        if self._cancelled:
            raise asyncio.CancelledError(self._message)
        return self._future.result()


@types.coroutine
def guarded(call: Coroutine[Any, Any, T], holder: Holder) -> Generator[Any, None, T]:
    """Await ``call``; if the caller is cancelled, raise at once and leave ``call``
    running, recorded in ``holder.in_flight`` (see ``finish``)."""
    send, throw = call.send, call.throw
    try:
        waiting = send(None)
        while True:
            if not isinstance(waiting, asyncio.Future):
                yield waiting  # a bare yield (asyncio.sleep(0)): nothing to guard
                waiting = send(None)
                continue
            try:
                yield _Guard(waiting)
            except asyncio.CancelledError:
                waiting.add_done_callback(_retrieve)
                holder.in_flight = InFlight(call, waiting)
                raise
            except GeneratorExit:
                call.close()
                raise
            except BaseException as exc:
                # The protocol future's error, which the task throws in as it would
                # into ``call``: pass it on there, so that asyncpg unwinds its state.
                waiting = throw(exc)
            else:
                waiting = send(None)
    except StopIteration as done:
        return cast(T, done.value)


async def finish(in_flight: InFlight, grace: float) -> None:
    """End a call left running: let it take its answer if that comes within ``grace``
    seconds (no cancel request), else cancel it the way asyncpg does (a cancel request;
    the caller then awaits ``wait_for_cancellation``). Never raises the call's error."""
    call, waiting = in_flight.call, in_flight.waiting
    try:
        if not waiting.done():
            await asyncio.wait((waiting,), timeout=grace)
            if not waiting.done():
                waiting.cancel()  # asyncpg's callback on it sends the cancel request
    except BaseException:
        call.close()
        raise
    # A Task resumes the call where it waited (its first step finds ``waiting`` done).
    task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(call)
    task.add_done_callback(_retrieve)
    await asyncio.wait((task,), timeout=grace)
    if not task.done():
        task.cancel()  # a further round trip of the same call (e.g. after a prepare)
        await asyncio.wait((task,))
