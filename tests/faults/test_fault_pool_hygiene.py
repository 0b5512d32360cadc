"""The pool in production: what one borrower changes never reaches the next, connections
age out, an init hook runs on each new one, the driver connection is there for what
dualdb does not wrap, a server that stops answering is bounded on the client, a server
with no room left makes callers wait rather than fail, and a server not up yet is
retried at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

import dualdb
from _network import free_port
from _pgcluster import PgServer
from dualdb import Param, Query, Table, raw

#: Per backend: raw SQL that changes the session, and a query showing whether it did.
SESSION_CHANGES = {
    "sqlite": ("PRAGMA case_sensitive_like = OFF", "SELECT 'A' LIKE 'a'", 0),
    "postgresql": ("SET search_path = nowhere", "SELECT current_setting('search_path')", None),
}


async def _connection_id(db: dualdb.Queryable, backend: str) -> Any:
    if backend == "postgresql":
        return await db.fetch_val(raw("SELECT pg_backend_pid()"))
    async with db.connection() as conn:  # type: ignore[attr-defined]
        # The connection itself (compared by identity), not id(conn): once the first one
        # is freed its replacement may get its address (seen on Python 3.13).
        return conn


@pytest.mark.parametrize("prefix", ["", "/* from a migration tool */ "], ids=["plain", "comment"])
async def test_a_session_change_never_reaches_the_next_borrower(
    database_url: str, prefix: str
) -> None:
    """With one pooled connection, ``SET search_path`` (PostgreSQL) or a PRAGMA (SQLite)
    run through dualdb used to carry over to every later call (and behind a comment,
    after the first fix)."""
    async with dualdb.connect(database_url, pool_max_size=1, sqlite_pool_size=1) as db:
        backend = db.backend
        change, show, expected = SESSION_CHANGES[backend]
        before = await db.fetch_val(raw(show))
        await db.execute(raw(prefix + change))
        after = await db.fetch_val(raw(show))
        assert after == before
        if expected is not None:
            assert after == expected


async def test_a_change_made_inside_a_transaction_is_reset_too(database_url: str) -> None:
    async with dualdb.connect(database_url, pool_max_size=1, sqlite_pool_size=1) as db:
        change, show, _ = SESSION_CHANGES[db.backend]
        before = await db.fetch_val(raw(show))
        async with db.transaction() as tx:
            await tx.execute(raw(change))
        assert await db.fetch_val(raw(show)) == before


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_statement_timeout_set_by_one_borrower_does_not_time_out_the_next(
    backend: str, database_url: str
) -> None:
    """The issue's case: ``SET statement_timeout = 1`` made the next query a QueryTimeout."""
    async with dualdb.connect(database_url, pool_max_size=1) as db:
        await db.execute(raw("SET statement_timeout = 1"))
        assert await db.fetch_val(raw("SELECT count(*) FROM pg_sleep(0.05)")) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_dualdbs_own_statements_keep_the_same_connection(
    backend: str, database_url: str
) -> None:
    """No reset and no new connection where nothing could have changed the session: the
    reset's round trip follows only raw SQL that may change it."""
    items = Table("items")
    async with dualdb.connect(database_url, pool_max_size=1) as db:
        await db.execute(raw("CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER)"))
        first = await _connection_id(db, backend)
        async with db.transaction() as tx:
            await tx.execute(raw("SET LOCAL search_path = public"))  # (reset afterwards)
        for n in range(5):
            insert = Query.into(items).columns(items.id, items.n).insert(n, Param("n"))
            await db.execute(insert, n=n)
            await db.fetch_all(Query.from_(items).select(items.n).where(items.n > Param("n")), n=n)
        assert await _connection_id(db, backend) == first  # reset, never replaced


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_builders_statements_never_need_a_reset(dialect: str) -> None:
    from dualdb.dialects import get_dialect
    from dualdb.sql.compile import compile_query

    items = Table("items")
    queries = [
        Query.from_(items).select(items.n).where(items.n > Param("n")),
        Query.into(items).columns(items.n).insert(Param("n")),
        Query.update(items).set(items.n, 1),
        Query.from_(items).delete(),
    ]
    assert not any(compile_query(q, get_dialect(dialect)).session for q in queries)


@pytest.mark.parametrize(
    ("sql", "changes"),
    [
        ("SELECT 1", False),
        ("set search_path = x", True),
        ("LISTEN jobs", True),
        ("UNLISTEN *", True),
        ("SELECT set_config('search_path', 'x', false)", True),
        ("SELECT pg_advisory_lock(1)", True),
        ("CREATE TEMP TABLE t (x int)", True),
        ("PRAGMA foreign_keys = OFF", True),
        ("INSERT INTO temperatures VALUES (1)", False),
        ("/* a comment */ SET search_path = x", True),
        ("-- a comment\n  PRAGMA foreign_keys = OFF", True),
        ("CREATE TABLE pg_temp.t (x int)", True),
        ("PREPARE p AS SELECT 1", True),
        ("/* SET */ SELECT 1", False),
    ],
)
def test_which_raw_statements_may_change_the_session(sql: str, changes: bool) -> None:
    from dualdb.dialects import get_dialect
    from dualdb.sql.compile import compile_query

    assert compile_query(raw(sql), get_dialect("postgresql")).session is changes


@pytest.mark.not_through_pgbouncer(
    "session state (LISTEN, a session advisory lock) outlives no transaction there, and"
    " the reset reaches whichever server connection PgBouncer picks (docs/production)"
)
async def test_the_driver_connection_serves_what_dualdb_does_not_wrap(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(database_url, pool_max_size=1, sqlite_pool_size=1) as db:
        async with db.connection() as conn:
            if backend == "postgresql":
                got: asyncio.Queue[str] = asyncio.Queue()
                await conn.add_listener("jobs", lambda *args: got.put_nowait(args[3]))
                await conn.execute("SELECT pg_notify('jobs', 'hello')")
                assert await asyncio.wait_for(got.get(), 5) == "hello"
                assert await conn.fetchval("SELECT pg_try_advisory_lock(42)") is True
            else:
                async with conn.execute("SELECT sqlite_version()") as cursor:
                    assert (await cursor.fetchone())[0]
                await conn.execute("PRAGMA foreign_keys = OFF")
        # Returned reset: the lock is free, the PRAGMA gone.
        if backend == "postgresql":
            async with dualdb.connect(database_url) as other:
                assert await other.fetch_val(raw("SELECT pg_try_advisory_lock(42)")) is True
            assert await db.fetch_val(raw("SELECT count(*) FROM pg_listening_channels()")) == 0
        else:
            assert await db.fetch_val(raw("PRAGMA foreign_keys")) == 1


async def test_an_init_hook_runs_on_every_new_connection(database_url: str, backend: str) -> None:
    seen: list[Any] = []

    async def on_connect(conn: Any) -> None:
        seen.append(conn)
        if backend == "postgresql":
            await conn.execute("SELECT set_config('application_name', 'hooked', false)")
        else:
            await conn.create_function("twice", 1, lambda x: 2 * x, deterministic=True)

    async with dualdb.connect(database_url, on_connect=on_connect, pool_min_size=2) as db:
        if backend == "postgresql":
            assert await db.fetch_val(raw("SHOW application_name")) == "hooked"
        else:
            assert await db.fetch_val(raw("SELECT twice(21)")) == 42
        assert len(seen) == 2  # the two connections DB_POOL_MIN_SIZE opens, on both


async def test_a_failing_init_hook_fails_connect_with_its_own_error(database_url: str) -> None:
    class HookFailed(Exception):
        pass

    async def on_connect(conn: Any) -> None:
        raise HookFailed

    with pytest.raises(HookFailed):
        await dualdb.connect(database_url, on_connect=on_connect)


@pytest.mark.not_through_pgbouncer("a connection is told by its server pid")
async def test_connections_older_than_the_lifetime_are_replaced(
    database_url: str, backend: str
) -> None:
    async with dualdb.connect(
        database_url, max_connection_lifetime=0.2, idle_timeout=0, pool_max_size=1
    ) as db:
        first = await _connection_id(db, backend)
        if backend == "sqlite":
            await db.fetch_val(raw("SELECT 1"))
        await asyncio.sleep(0.6)
        assert await _connection_id(db, backend) != first
        assert await db.fetch_val(raw("SELECT 1")) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_frozen_server_is_a_query_timeout_within_the_command_timeout(
    backend: str, database_url: str
) -> None:
    """The server process stops answering (SIGSTOP, as a frozen host or a black-holed
    network looks to the client); the call ends within DB_COMMAND_TIMEOUT, not when the
    server comes back."""
    async with dualdb.connect(database_url, command_timeout=1, pool_max_size=2) as db:
        pid = await db.fetch_val(raw("SELECT pg_backend_pid()"))
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(dualdb.QueryTimeout, match="DB_COMMAND_TIMEOUT"):
                async with asyncio.timeout(10):  # (without the client's deadline: forever)
                    await db.fetch_val(raw("SELECT 1"))
            assert time.monotonic() - started < 1 + 2.0
        finally:
            os.kill(pid, signal.SIGCONT)
        assert await db.fetch_val(raw("SELECT 2")) == 2


def test_the_command_timeout_defaults_to_the_statement_timeout_plus_a_margin() -> None:
    settings = dualdb.Settings(statement_timeout=5)
    assert settings.call_timeout() == 7
    assert dualdb.Settings().call_timeout() is None
    assert dualdb.Settings(statement_timeout=5, command_timeout=1).call_timeout() == 1


@pytest.fixture
async def limited_role_url(pg_server: PgServer, database_url: str) -> AsyncIterator[str]:
    """``database_url`` as a role with ``CONNECTION LIMIT 3``."""
    role = f"r_{uuid.uuid4().hex[:10]}"
    database = urlsplit(database_url).path.lstrip("/")
    pg_server.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw' CONNECTION LIMIT 3")
    pg_server.execute(f"GRANT ALL ON DATABASE {database} TO {role}")
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(netloc=f"{role}:pw@{parts.hostname}:{parts.port}"))
    pg_server.terminate_backends(database)
    pg_server.execute(f"REVOKE ALL ON DATABASE {database} FROM {role}")
    pg_server.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.not_through_pgbouncer("the server's own connection limit")
async def test_callers_wait_for_live_connections_when_the_server_has_no_room(
    backend: str, limited_role_url: str
) -> None:
    """A role allowed 3 connections, a pool of 10, 120 transactions: before, most failed
    with ConnectionFailed although 3 live connections were serving."""
    async with dualdb.connect(limited_role_url, pool_max_size=10, pool_timeout=30) as db:

        async def work(n: int) -> int:
            async with db.transaction() as tx:
                await tx.fetch_val(raw("SELECT pg_sleep(0.005)"))
                return int(await tx.fetch_val(raw("SELECT $1::int + 1", n)))

        results = await asyncio.gather(*(work(n) for n in range(120)))
        assert results == [n + 1 for n in range(120)]
        assert db.pool_stats().open <= 3


@contextlib.asynccontextmanager
async def _late_proxy(port: int, target: tuple[str, int], delay: float) -> AsyncIterator[None]:
    """After ``delay`` seconds, a TCP relay on ``port`` to ``target``: a database that
    comes up after the application started."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    servers: list[asyncio.Server] = []

    async def start() -> None:
        await asyncio.sleep(delay)
        servers.append(await asyncio.start_server(relay, "127.0.0.1", port))

    starter = asyncio.create_task(start())
    try:
        yield
    finally:
        starter.cancel()
        for server in servers:
            server.close()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_startup_retries_a_database_that_is_not_up_yet(
    backend: str, database_url: str
) -> None:
    parts = urlsplit(database_url)
    port = free_port()
    late = urlunsplit(parts._replace(netloc=parts.netloc.replace(str(parts.port), str(port))))
    assert parts.hostname is not None and parts.port is not None
    async with _late_proxy(port, (parts.hostname, parts.port), delay=1.0):
        with pytest.raises(dualdb.ConnectionFailed):
            await dualdb.connect(late)  # without a retry timeout: at once
        async with dualdb.connect(late, connect_retry_timeout=10) as db:
            assert await db.fetch_val(raw("SELECT 1")) == 1


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_startup_does_not_retry_refused_credentials(backend: str, database_url: str) -> None:
    parts = urlsplit(database_url)
    wrong = urlunsplit(
        parts._replace(netloc=f"{parts.username}:wrong@{parts.hostname}:{parts.port}")
    )
    started = time.monotonic()
    with pytest.raises(dualdb.ConnectionFailed, match="credentials"):
        await dualdb.connect(wrong, connect_retry_timeout=10)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_pool_min_size_of_zero_connects_on_first_use(backend: str) -> None:
    """``DB_POOL_MIN_SIZE=0`` used to connect at start anyway."""
    unreachable = f"postgresql://u:pw@127.0.0.1:{free_port()}/app"
    db = await dualdb.connect(unreachable, pool_min_size=0, connect_timeout=1)
    try:
        assert db.pool_stats().open == 0
        with pytest.raises(dualdb.ConnectionFailed):
            await db.fetch_val(raw("SELECT 1"))
    finally:
        await db.close()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_borrowers_prepared_statement_is_gone_for_the_next(
    backend: str, database_url: str
) -> None:
    async with dualdb.connect(database_url, pool_max_size=1) as db:
        await db.execute(raw("PREPARE mine AS SELECT 1"))
        with pytest.raises(dualdb.ProgrammingError):
            await db.fetch_val(raw("EXECUTE mine"))
        assert await db.fetch_val(raw("SELECT 2")) == 2  # dualdb's own statements still run
