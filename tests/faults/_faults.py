"""Helpers for the fault tests: real servers, sockets and processes, no mocks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dualdb
from dualdb import raw

#: How long a fault test waits for anything that must not hang.
HANG = 10.0
#: A statement that runs far longer than any test: 60 s on PostgreSQL, ~1 min on SQLite.
SLOW = {
    "postgresql": "SELECT pg_sleep(60)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 300000000) SELECT count(*) FROM c",
}


def one_connection(backend: str) -> dict[str, Any]:
    """Options for a pool of ONE connection, so that "the next user" and "queued behind"
    are certain."""
    size = {"sqlite_pool_size": 1} if backend == "sqlite" else {"pool_max_size": 1}
    return {**size, "pool_timeout": HANG}


def run_forked_as(uid: int, gid: int, target: Any, timeout: float = 30) -> tuple[str, str]:
    """Run ``target()`` in a forked child that has dropped root to ``uid``/``gid``.

    Forked rather than executed: as ``nobody`` the child could not even start the
    interpreter, which lives under /root. Returns ``(outcome, message)`` where outcome is
    ``"ok"`` or the exception's class name.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            try:
                result = ("ok", str(target()))
            except BaseException as exc:
                result = (type(exc).__name__, str(exc))
            os.write(write_end, "\0".join(result).encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        raise RuntimeError(f"forked child failed (status {status})")
    outcome, message = data.decode().split("\0", 1)
    return outcome, message


async def in_transaction(db: dualdb.Database) -> bool:
    """Whether a connection taken from ``db``'s pool is inside an open transaction,
    judged by an independent observer: a row it writes must be visible at once."""
    marker = os.urandom(8).hex()
    await db.execute(raw(f"CREATE TABLE IF NOT EXISTS probe_{marker} (x INTEGER)"))
    await db.execute(raw(f"INSERT INTO probe_{marker} VALUES (1)"))
    settings = db.settings
    url = f"sqlite:///{settings.sqlite_file}" if db.backend == "sqlite" else settings.postgres_url()
    async with dualdb.connect(url, sqlite_busy_timeout=0.2) as observer:
        try:
            seen = await observer.fetch_val(raw(f"SELECT count(*) FROM probe_{marker}"))
        except dualdb.DatabaseError:
            return True  # the table itself is uncommitted (or locked): still in a transaction
    return bool(seen != 1)


@contextmanager
def no_unretrieved_exceptions() -> Iterator[None]:
    """Fail if the event loop reports an error nobody retrieved (a background task or
    future that failed): "Task exception was never retrieved", "Future exception was never
    retrieved"."""
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        yield
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
