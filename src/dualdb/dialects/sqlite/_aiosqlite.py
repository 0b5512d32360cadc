"""The private parts of aiosqlite that dualdb uses, in one place.

aiosqlite runs each public call (execute, fetch, close) as its own hop to the
connection's thread; dualdb runs a whole statement (execute, fetch, decode) in one hop,
through the queue and worker aiosqlite itself uses for that. ``pyproject.toml`` pins aiosqlite to
the minor version these were checked against, and ``tests/dialects/test_private_apis.py``
is the canary that fails first when an upgrade moves one.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import aiosqlite

__all__ = [
    "InThread",
    "hide_call_arguments",
    "in_thread",
    "sqlite3_connection",
    "submit",
    "worker_thread",
]

#: Runs ``fn(*args)`` in the connection's thread; its result arrives on the returned
#: future.
InThread = Callable[..., "asyncio.Future[Any]"]


def in_thread(conn: aiosqlite.Connection) -> InThread:
    """The connection's "run this function in your thread", as aiosqlite's ``_execute``
    does it (the same queue, the same worker resolving the same future), bound once per
    connection. It hands back the future itself rather than a coroutine awaiting it:
    one coroutine frame fewer per statement. A cancelled caller cancels the future,
    which the worker then leaves alone (aiosqlite's ``set_result`` checks ``done()``)."""
    raw = cast(Any, conn)
    put = raw._tx.put_nowait

    def call(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        if not raw._running or not raw._connection:
            raise ValueError("Connection closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        put((future, partial(fn, *args)))
        return future

    return call


def submit(conn: aiosqlite.Connection, fn: Callable[[], Any]) -> None:
    """Queue ``fn()`` to the connection's thread with no future to resolve: aiosqlite then
    wakes no event loop when it has run (``fn`` reports its own outcome). Refused, as
    ``_execute`` refuses it, once the connection is closing: its thread would never run it.
    """
    raw = cast(Any, conn)
    if not raw._running or not raw._connection:
        raise ValueError("Connection closed")
    raw._tx.put_nowait((None, fn))


def sqlite3_connection(conn: aiosqlite.Connection) -> sqlite3.Connection:
    """The sqlite3 connection underneath, to be used in the connection's thread only."""
    return cast(sqlite3.Connection, cast(Any, conn)._conn)


def worker_thread(conn: aiosqlite.Connection) -> threading.Thread | None:
    """The thread of a connection not yet opened (aiosqlite makes it a non-daemon)."""
    thread = getattr(conn, "_thread", None)
    return thread if isinstance(thread, threading.Thread) else None


class _HideCallArguments(logging.Filter):
    """aiosqlite logs each call it runs at DEBUG ("executing %s", "operation %s
    completed"), printing the call with its arguments: a statement's bound values, a
    password among them. The line is kept; the call is written by name only."""

    _CALLS = frozenset({"executing %s", "operation %s completed"})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in self._CALLS and record.args:
            call = record.args[0] if isinstance(record.args, tuple) else record.args
            function = getattr(call, "func", call)  # a functools.partial, as aiosqlite's
            name = getattr(function, "__qualname__", type(function).__name__)
            record.args = (f"{name}(…)",)
        return True


def hide_call_arguments() -> None:
    """Install the filter on aiosqlite's logger, once per process (it applies to every
    aiosqlite connection in it, dualdb's or not)."""
    driver_logger = logging.getLogger("aiosqlite")
    if not any(isinstance(f, _HideCallArguments) for f in driver_logger.filters):
        driver_logger.addFilter(_HideCallArguments())
