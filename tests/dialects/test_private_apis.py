"""Canary: the private parts of the drivers and PyPika that dualdb relies on still exist.

Each is used in exactly one module (named below). When an upgrade removes or renames
one, this fails first, with the module to change, instead of a hot path failing at run
time. pyproject.toml pins each package to the minor version checked here.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from importlib.metadata import version

import aiosqlite
import asyncpg
import pytest

from dualdb.dialects.postgres import _asyncpg
from dualdb.dialects.sqlite import _aiosqlite


@pytest.mark.parametrize(
    ("package", "prefix"), [("asyncpg", "0.32."), ("aiosqlite", "0.22."), ("pypika", "0.51.")]
)
def test_installed_versions_are_the_pinned_minor_ones(package: str, prefix: str) -> None:
    assert version(package).startswith(prefix)


def test_asyncpg_connection_has_the_extended_protocol_execute_dualdb_calls() -> None:
    # dualdb/dialects/postgres/_asyncpg.py: execute()
    # private API, absent from asyncpg-stubs: what this test checks is that it exists
    parameters = inspect.signature(asyncpg.Connection._execute).parameters  # type: ignore[attr-defined]
    assert list(parameters)[:5] == ["self", "query", "args", "limit", "timeout"]
    assert "return_status" in parameters


def test_asyncpg_connection_can_drop_its_statement_cache() -> None:
    # dualdb/dialects/postgres/_asyncpg.py: drop_statement_cache()
    assert callable(asyncpg.Connection._drop_local_statement_cache)  # type: ignore[attr-defined]


def test_asyncpg_copy_prepares_the_statement_dualdb_reads_column_types_from() -> None:
    # dualdb/dialects/postgres/_asyncpg.py: copy_types() prepares the statement
    # copy_records_to_table prepares (same text, same cache entry) and reads its types.
    parameters = inspect.signature(asyncpg.Connection._prepare).parameters  # type: ignore[attr-defined]
    assert "use_cache" in parameters
    source = inspect.getsource(asyncpg.Connection.copy_records_to_table)
    assert "'SELECT {cols} FROM {tab} LIMIT 1'" in source
    assert "_prepare(intro_query, use_cache=True)" in source
    assert "', '.join(utils._quote_ident(c) for c in columns)" in source


def test_asyncpg_protocol_exposes_its_cancellation_state() -> None:
    # dualdb/dialects/postgres/_asyncpg.py: is_cancelling(), wait_for_cancellation()
    from asyncpg.protocol.protocol import BaseProtocol

    assert callable(BaseProtocol._is_cancelling)
    assert callable(BaseProtocol._wait_for_cancellation)
    assert callable(_asyncpg.is_cancelling)


async def test_aiosqlite_runs_a_function_in_its_thread_in_one_hop() -> None:
    # dualdb/dialects/sqlite/_aiosqlite.py: in_thread(), sqlite3_connection(), worker_thread()
    raw = aiosqlite.connect(":memory:")
    thread = _aiosqlite.worker_thread(raw)
    assert thread is not None and not thread.daemon
    async with raw as conn:
        assert thread.is_alive()
        run = _aiosqlite.in_thread(conn)
        assert await run(lambda a, b: a + b, 2, 3) == 5
        db = _aiosqlite.sqlite3_connection(conn)
        assert await run(lambda: db.execute("SELECT 1").fetchone()) == (1,)
        assert await run(threading.get_ident) == thread.ident
        ran: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        _aiosqlite.submit(
            conn, lambda: loop.call_soon_threadsafe(ran.set_result, threading.get_ident())
        )
        assert await ran == thread.ident


async def test_aiosqlite_refuses_a_submitted_function_once_closed() -> None:
    # dualdb/dialects/sqlite/_aiosqlite.py: submit() checks what aiosqlite's _execute does,
    # or a function queued to a stopped thread would leave its caller waiting forever.
    conn = await aiosqlite.connect(":memory:")
    await conn.close()
    with pytest.raises(ValueError, match="closed"):
        _aiosqlite.submit(conn, threading.get_ident)


def test_yoyo_lock_is_reentrant_through_its_is_locked_flag() -> None:
    # dualdb/dialects/postgres/migrate.py: PostgresMigrations.migration_lock sets
    # ``_is_locked`` while it holds the lock row on a connection of its own, so that
    # yoyo's internal-schema upgrade (which calls ``lock()``) does not wait for it.
    from yoyo.backends.base import DatabaseBackend

    assert DatabaseBackend._is_locked is False
    assert "_is_locked" in inspect.getsource(DatabaseBackend.lock)


async def test_aiosqlite_refuses_a_function_run_in_its_thread_once_closed() -> None:
    # dualdb/dialects/sqlite/_aiosqlite.py: in_thread() makes aiosqlite's _execute checks
    # itself, or a call queued to a stopped thread would leave its caller waiting forever.
    conn = await aiosqlite.connect(":memory:")
    run = _aiosqlite.in_thread(conn)
    await conn.close()
    with pytest.raises(ValueError, match="closed"):
        run(threading.get_ident)


async def test_a_cancelled_call_in_aiosqlites_thread_leaves_the_thread_running() -> None:
    # The caller awaits the future in_thread() returns; cancelling the caller cancels it,
    # and aiosqlite's worker, finding it done, sets no result and goes on to the next call.
    async with aiosqlite.connect(":memory:") as conn:
        run = _aiosqlite.in_thread(conn)
        started = threading.Event()
        release = threading.Event()

        def slow() -> int:
            started.set()
            release.wait(5)
            return 1

        waiter = asyncio.ensure_future(run(slow))
        await asyncio.to_thread(started.wait, 5)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        assert await run(lambda: 2) == 2
