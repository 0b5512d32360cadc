"""Where a SQLite statement runs: a short SELECT outside a transaction in the event loop's
thread, everything else in its connection's thread (``SQLITE_INLINE_READS``).

SQLite only: it is the one backend whose driver runs in the client's own threads. Seen
through a SQL function registered with ``on_connect``, which runs where its statement
runs (the docs warn that such a function must not block).
"""

from __future__ import annotations

import threading
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

import dualdb
from dualdb import raw

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def _hooked(database_url: str, **options: Any) -> AbstractAsyncContextManager[dualdb.Database]:
    async def on_connect(conn: Any) -> None:
        await conn.create_function("thread_id", 0, threading.get_ident)

    return dualdb.connect(database_url, on_connect=on_connect, **options)


async def test_a_short_select_runs_in_the_event_loops_thread(database_url: str) -> None:
    async with _hooked(database_url) as db:
        assert await db.fetch_val(raw("SELECT thread_id()")) == threading.get_ident()


async def test_a_select_in_a_transaction_runs_in_the_connections_thread(
    database_url: str,
) -> None:
    async with _hooked(database_url) as db, db.transaction() as tx:
        assert await tx.fetch_val(raw("SELECT thread_id()")) != threading.get_ident()


async def test_a_write_runs_in_the_connections_thread(database_url: str) -> None:
    async with _hooked(database_url) as db:
        await db.execute(raw("CREATE TABLE seen (thread INTEGER)"))
        await db.execute(raw("INSERT INTO seen VALUES (thread_id())"))
        assert await db.fetch_val(raw("SELECT thread FROM seen")) != threading.get_ident()


async def test_with_inline_reads_off_every_statement_runs_in_the_connections_thread(
    database_url: str,
) -> None:
    async with _hooked(database_url, sqlite_inline_reads=False) as db:
        assert await db.fetch_val(raw("SELECT thread_id()")) != threading.get_ident()
