"""Connections and the pool: asyncpg under dualdb's own pool (:mod:`dualdb.dialects._pool`),
whose checkout and release cost no round trip and no Task."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import asyncpg
import asyncpg.exceptions as pgerr

from dualdb import errors
from dualdb.dialects._pool import Pool, PoolStats
from dualdb.dialects.base import (
    Connection,
    Driver,
    IsolationLevel,
    Lease,
    OnConnect,
    Rows,
    begin_sql,
    named,
)
from dualdb.dialects.postgres import _asyncpg
from dualdb.dialects.postgres._asyncpg import guarded
from dualdb.dialects.postgres.codec import check_args, check_rows, copy_rows, register_codecs
from dualdb.dialects.postgres.dialect import NAME
from dualdb.dialects.postgres.errors import (
    TRANSLATED,
    connect_error,
    credentials_refused,
    driver_error,
    raise_translated,
)
from dualdb.records import Record
from dualdb.settings import Settings
from dualdb.sql.compile import Compiled

__all__ = ["PostgresConnection", "PostgresDriver"]

_logger = logging.getLogger("dualdb.connect")


def _rowcount(status: bytes) -> int:
    tail = status.rpartition(b" ")[2]
    return int(tail) if tail.isdigit() else 0


#: How often a statement outside a transaction is prepared again after concurrent DDL
#: invalidated it (asyncpg itself re-prepares once; each ALTER can invalidate it anew).
_REPREPARE = 3

# Every statement dualdb sends for a user goes through asyncpg's extended protocol: one
# statement, prepared, whether or not it has arguments (see ``_asyncpg.execute``).

#: One attempt at a statement: ``(asyncpg connection, sql, *args) -> result``.
Attempt = Callable[..., Coroutine[Any, Any, Any]]


async def _execute_status(con: asyncpg.Connection, sql: str, *args: Any) -> int:
    _, status, _ = await _asyncpg.execute(con, sql, args)
    return _rowcount(status)


async def _fetch_named(con: asyncpg.Connection, sql: str, *args: Any) -> Rows:
    # asyncpg's Records cost no more than tuples: they are the rows.
    return named(await con.fetch(sql, *args))


def _statement(
    attempt: Attempt,
) -> Callable[[PostgresConnection, Compiled, Sequence[Any]], Coroutine[Any, Any, Any]]:
    """The statement function of one operation: ``attempt`` with dualdb's checks, error
    mapping and re-preparing after concurrent DDL."""

    async def statement(conn: PostgresConnection, compiled: Compiled, args: Sequence[Any]) -> Any:
        if compiled.session:
            conn.dirty = True
        try:
            return await guarded(attempt(conn._con, compiled.sql, *check_args(args)), conn)
        except TRANSLATED as exc:
            if isinstance(exc, pgerr.InvalidCachedStatementError):
                return await _reprepared(conn, exc, attempt, compiled, args)
            if isinstance(exc, TimeoutError) and conn.bouncer:
                await _stopped(conn)
            raise_translated(exc, compiled)

    return statement


#: Behind PgBouncer, how long a timed-out statement's cancel request may take to be
#: answered before the caller is told (the margin a server-side timeout has directly).
_CONFIRM_CANCEL = 2.0


async def _stopped(conn: PostgresConnection) -> None:
    """Wait until the server has stopped a statement the client timed out: behind
    PgBouncer the statement timeout is the client's, and a statement blocked on a lock
    must not go on to take effect after its caller was told it failed. A cancel request
    not answered in time leaves the connection closed (asyncpg closes it)."""
    if _asyncpg.is_cancelling(conn._con):
        try:
            await _asyncpg.wait_for_cancellation(conn._con, _CONFIRM_CANCEL)
        except (*TRANSLATED, TimeoutError):
            conn.broken = True
            conn._con.terminate()


_fetch_all = _statement(asyncpg.Connection.fetch)
_fetch_rows = _statement(_fetch_named)
_fetch_one = _statement(asyncpg.Connection.fetchrow)
_fetch_val = _statement(asyncpg.Connection.fetchval)
_execute = _statement(_execute_status)


async def _reprepared(
    conn: PostgresConnection,
    exc: BaseException,
    attempt: Attempt,
    compiled: Compiled,
    args: Sequence[Any],
) -> Any:
    """Run a statement again after concurrent DDL invalidated its prepared form.

    Outside a transaction the failed statement did nothing, so it is prepared and run
    again. Inside one the transaction is aborted: the error is raised as
    :class:`~dualdb.errors.SchemaChanged`, which ``run_in_transaction`` retries.
    """
    for _ in range(_REPREPARE):
        conn.forget_statements()
        if conn._con.is_in_transaction():
            break
        try:
            return await guarded(attempt(conn._con, compiled.sql, *check_args(args)), conn)
        except pgerr.InvalidCachedStatementError as again:
            exc = again
        except TRANSLATED as other:
            raise_translated(other, compiled)
    raise_translated(exc, compiled)


#: The single-statement operations of ``Driver.run``.
_STATEMENTS = {
    "fetch_all": _fetch_all,
    "fetch_rows": _fetch_rows,
    "fetch_one": _fetch_one,
    "fetch_val": _fetch_val,
    "execute": _execute,
}


class PostgresConnection(Connection):
    """One asyncpg connection. The statement methods return the coroutine of the shared
    function ``Driver.run`` also calls, with no frame of their own."""

    __slots__ = (
        "_begin",
        "_con",
        "_copyable",
        "_peers",
        "_readonly",
        "bouncer",
        "broken",
        "dirty",
        "in_flight",
        "interrupted",
    )

    def __init__(
        self, con: asyncpg.Connection, peers: Callable[[], Iterable[Any]], settings: Settings
    ) -> None:
        self._con = con
        #: Behind PgBouncer: the statement timeout is kept by the client, and by each
        #: transaction (set with its BEGIN, in the same round trip).
        self.bouncer = settings.pgbouncer
        self._begin = ""
        if settings.pgbouncer and settings.statement_timeout is not None:
            self._begin = (
                f"; SET LOCAL statement_timeout = {int(settings.statement_timeout * 1000)}"
            )
        #: The driver's open connections (whose prepared statements DDL may invalidate).
        self._peers = peers
        self.broken = False  # closed: never reused
        #: Its session may have been changed (see ``Connection.taint``): reset before reuse.
        self.dirty = False
        #: Cut off mid-operation (cancelled, or its transaction block interrupted): no
        #: COMMIT may follow, and the driver settles it before anyone reuses it.
        self.interrupted = False
        #: The call a cancelled caller left running (see ``_asyncpg.guarded``).
        self.in_flight: _asyncpg.InFlight | None = None
        #: Whether COPY inserts into each table as INSERT would (see ``_copies``); what
        #: this session resolves a name to, so dropped with the prepared statements.
        self._copyable: dict[str, bool] = {}
        self._readonly = False  # the last BEGIN's

    def fetch_all(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return _fetch_all(self, compiled, args)

    def fetch_one(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return _fetch_one(self, compiled, args)

    def fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return _fetch_val(self, compiled, args)

    def execute(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, int]:
        return _execute(self, compiled, args)

    async def execute_many(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> None:
        if compiled.session:
            self.dirty = True
        try:
            target, copied = compiled.bulk_target, None
            if target is not None and await self._copies(target[0]):
                copied = copy_rows(rows, await _asyncpg.copy_types(self._con, *target))
            if target is not None and copied is not None:
                table, columns = target
                await self._con.copy_records_to_table(table, records=copied, columns=columns)
            else:
                await self._con.executemany(compiled.sql, check_rows(rows))
        except TRANSLATED as exc:
            if isinstance(exc, pgerr.InvalidCachedStatementError):
                self.forget_statements()
            raise_translated(exc, compiled)

    def iterate(self, compiled: Compiled, args: Sequence[Any], batch_size: int) -> _Stream:
        return _Stream(self, compiled.sql, args, batch_size)

    async def _copies(self, table: str) -> bool:
        """Whether COPY into ``table`` does what INSERT does: a table (not a view, which
        only INSERT can write through), with no rule (which COPY ignores) and no
        row-level security (for which COPY fails), outside a read-only transaction
        (where COPY fails in its own words)."""
        if self._readonly and self._con.is_in_transaction():
            return False
        copyable = self._copyable.get(table)
        if copyable is None:
            name = '"' + table.replace('"', '""') + '"'
            copyable = await self._con.fetchval(_COPYABLE, name)
            if copyable is None:
                return False  # no such table (yet): INSERT says so
            self._copyable[table] = copyable
        return bool(copyable)

    async def begin(self, isolation: IsolationLevel | None, readonly: bool) -> None:
        self._readonly = readonly
        await self.run(begin_sql(isolation, readonly) + self._begin)

    async def commit(self) -> None:
        if self.interrupted:
            await self.run("COMMIT")  # (which refuses)
        try:
            status = await guarded(self._con.execute("COMMIT"), self)
        except TRANSLATED as exc:
            raise_translated(exc)
        if status == "ROLLBACK":
            # PostgreSQL ends an aborted transaction so, and reports no error: the caller
            # caught a statement's error and went on as if the transaction had survived.
            raise errors.TransactionAborted.at_commit(NAME)

    async def run(self, sql: str) -> None:
        if self.interrupted:
            # E.g. a COMMIT after a cancelled savepoint block: the block's work may be half
            # done, so the transaction must not commit.
            raise errors.OperationalError(
                "this connection was interrupted mid-transaction; the transaction is rolled back",
                dialect=NAME,
            )
        try:
            await guarded(self._con.execute(sql), self)
        except TRANSLATED as exc:
            raise_translated(exc)

    def in_transaction(self) -> bool:
        return bool(self._con.is_in_transaction())

    def driver_connection(self) -> asyncpg.Connection:
        return self._con

    def taint(self) -> None:
        self.dirty = True

    def forget_session(self) -> None:
        """Drop what was learnt about tables through this session (its search_path)."""
        self._copyable.clear()

    def forget_statements(self) -> None:
        """Drop every connection's prepared statements: DDL has invalidated some."""
        for peer in self._peers():
            # asyncpg's own pool does the same across its connections.
            _asyncpg.drop_statement_cache(peer._con)
            peer.forget_session()


class _Stream:
    """``iterate()`` on PostgreSQL: a server-side cursor read ``batch`` rows at a time.

    A plain iterator, not an async generator: an abandoned generator is closed later by a
    task of its own, which then raced the pool for the connection. Outside a transaction
    the stream opens a read-only one and commits it at the end; if the reader stops early
    (or is cancelled), the driver rolls it back when the connection is given back.
    """

    __slots__ = ("_args", "_batch", "_conn", "_cursor", "_own", "_sql")

    def __init__(self, conn: PostgresConnection, sql: str, args: Sequence[Any], batch: int) -> None:
        self._conn = conn
        self._sql = sql
        self._args = args
        self._batch = batch
        self._cursor: Any = None
        self._own = False

    def __aiter__(self) -> _Stream:
        return self

    async def aclose(self) -> None:
        """Stop reading. Nothing to send: the cursor lives in a transaction, which the
        driver rolls back when the connection is given back unfinished."""
        self._cursor = False

    async def __anext__(self) -> list[Record]:
        cursor = self._cursor
        if cursor is False:
            raise StopAsyncIteration
        con = self._conn._con
        try:
            if cursor is None:
                cursor = self._cursor = await self._open()
            batch: list[Record] = await guarded(cursor.fetch(self._batch), self._conn)
            if len(batch) < self._batch:
                self._cursor = False
                if self._own:
                    await con.execute("COMMIT")
        except TRANSLATED as exc:
            raise_translated(exc)
        if not batch:
            raise StopAsyncIteration
        return batch

    async def _open(self) -> Any:
        con = self._conn._con
        args = check_args(self._args)
        if con.is_in_transaction():
            return await con.cursor(self._sql, *args)
        self._own = True
        for _ in range(_REPREPARE):
            await con.execute("BEGIN READ ONLY")
            try:
                return await con.cursor(self._sql, *args)
            except pgerr.InvalidCachedStatementError:
                # Concurrent DDL: nothing was read yet, so start again (see _reprepared).
                self._conn.forget_statements()
                await con.execute("ROLLBACK")
        await con.execute("BEGIN READ ONLY")
        return await con.cursor(self._sql, *args)


#: How long settling an interrupted connection (the cancelled statement acknowledged,
#: its transaction rolled back) may take before the connection is closed instead.
_SETTLE_TIMEOUT = 5.0

#: How long a call whose caller was cancelled may run on before the server is sent a
#: cancel request: a statement that is nearly done costs a round trip, not a cancel
#: request (a connection of its own and a process forked on the server).
_CANCEL_GRACE = 0.05


#: What a borrower may have changed in a session, undone as asyncpg's pool does when it
#: releases a connection, plus temporary tables and prepared statements (a borrower's
#: PREPARE; asyncpg prepares its own again as they are needed).
_COPYABLE = (
    "SELECT c.relkind IN ('r', 'p') AND NOT c.relhasrules AND NOT c.relrowsecurity "
    "FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)"
)
_RESET = (
    "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL; DISCARD TEMP; "
    "DISCARD SEQUENCES; DEALLOCATE ALL"
)


#: The TLS parameters ``_system_roots`` applies itself.
_TLS_PARAMETERS = frozenset(
    {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl"}
    | {"ssl_min_protocol_version", "ssl_max_protocol_version"}
)


def _system_roots(
    parameters: list[tuple[str, str]],
) -> tuple[list[tuple[str, str]], ssl.SSLContext | None]:
    """libpq's ``sslrootcert=system`` (the system's trusted CAs, as for a managed database
    whose certificate a public CA signed), which asyncpg would read as a file name: the
    TLS context made here, verify-full, and the parameters without the TLS ones."""
    options = dict(parameters)
    if options.get("sslrootcert") != "system":
        return parameters, None
    context = ssl.create_default_context()  # the system's roots, host name checked
    if "sslcert" in options:
        context.load_cert_chain(
            options["sslcert"], options.get("sslkey"), password=options.get("sslpassword")
        )
    if "sslcrl" in options:
        context.load_verify_locations(options["sslcrl"])
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    for key, attribute in (
        ("ssl_min_protocol_version", "minimum_version"),
        ("ssl_max_protocol_version", "maximum_version"),
    ):
        if key in options:
            setattr(context, attribute, ssl.TLSVersion[options[key].replace(".", "_")])
    return [(k, v) for k, v in parameters if k not in _TLS_PARAMETERS], context


def _server_full(exc: BaseException) -> bool:
    """The server refused a new connection for lack of room (too many clients, or the
    role's CONNECTION LIMIT): the pool's callers wait for its live connections instead."""
    return getattr(exc.__cause__, "sqlstate", None) == "53300"


class PostgresDriver(Driver):
    """A pool (see :mod:`dualdb.dialects._pool`) of asyncpg connections.

    A connection goes back to the pool as it is: dualdb sets no session state outside
    transactions, so nothing needs resetting. A connection left inside a transaction, or
    whose call was cut off (a task cancelled mid-statement), is settled first, in the
    background so that the cancelled task ends at once: the cut-off statement is given
    ``_CANCEL_GRACE`` to answer (most are one round trip from done) before the server is
    sent a cancel request, then its transaction is rolled back. Only if that fails or
    takes longer than ``_SETTLE_TIMEOUT`` is the connection closed: a cancellation costs
    at most a cancel request and a ROLLBACK, not a new connection.
    """

    def __init__(self, settings: Settings, on_connect: OnConnect | None = None) -> None:
        self.settings = settings
        self._on_connect = on_connect
        self._pool: Pool[PostgresConnection] = Pool(
            backend=NAME,
            size=settings.pool_max_size,
            timeout=settings.pool_timeout,
            connect=self._connect,
            close=_close,
            timeout_hint="DB_POOL_MAX_SIZE / DB_POOL_TIMEOUT",
            min_size=settings.pool_min_size,
            idle_timeout=settings.idle_timeout,
            max_lifetime=settings.max_connection_lifetime,
            server_full=_server_full,
        )

    async def start(self) -> None:
        """Open ``DB_POOL_MIN_SIZE`` connections (none: the first call connects). With
        ``DB_CONNECT_RETRY_TIMEOUT``, a server not reachable yet (a container started
        before its database) is retried with backoff until then; credentials it refuses
        are not retried."""
        retry = self.settings.connect_retry_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (retry or 0.0)
        pause = 0.25
        while True:
            try:
                await self._pool.fill(self.settings.pool_min_size)
                return
            except errors.ConnectionFailed as exc:
                refused = credentials_refused(exc.__cause__ or exc)
                if not retry or refused or loop.time() + pause > deadline:
                    raise
                _logger.warning(
                    "%s is not reachable yet (%s); retrying for up to %.0f s more",
                    self.settings.display_url(),
                    exc.message,
                    deadline - loop.time(),
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def _connect(self) -> PostgresConnection:
        settings = self.settings
        server_settings = dict(settings.url_options)
        # PyPika writes a few values into the SQL text as quoted literals (a DDL default,
        # a JSON term); with standard_conforming_strings off, a backslash in one could end
        # the literal. On, whatever the server's configuration says.
        server_settings["standard_conforming_strings"] = "on"
        if settings.statement_timeout is not None and not settings.pgbouncer:
            # (PgBouncer refuses it at connect: the client's call timeout keeps it there.)
            server_settings["statement_timeout"] = str(int(settings.statement_timeout * 1000))
        # libpq's connection parameters (TLS files, target_session_attrs …) reach asyncpg
        # as libpq's own do: in a URL, which asyncpg reads as libpq would.
        parameters = list(settings.connect_options)
        if settings.sslmode:
            parameters.append(("sslmode", settings.sslmode))
        endpoints = settings.endpoints()
        try:
            parameters, tls = _system_roots(parameters)
            con = await asyncpg.connect(
                f"postgresql://?{urlencode(parameters)}" if parameters else None,
                ssl=tls,
                host=[host for host, _ in endpoints],
                port=[port for _, port in endpoints],
                user=settings.user,
                password=settings.password,
                database=settings.database,
                timeout=settings.connect_timeout,
                command_timeout=settings.call_timeout(),
                statement_cache_size=settings.statement_cache_size,
                server_settings=server_settings or None,
            )
        except (*TRANSLATED, TimeoutError) as exc:
            raise connect_error(exc, settings) from driver_error(exc)
        try:
            await register_codecs(con)
            if self._on_connect is not None:
                await self._on_connect(con)
        except BaseException as exc:
            con.terminate()
            if isinstance(exc, TRANSLATED):
                raise connect_error(exc, settings) from driver_error(exc)
            raise
        return PostgresConnection(con, self._pool.members, settings)

    async def run(self, operation: str, compiled: Compiled, args: Sequence[Any]) -> Any:
        pool = self._pool
        idle = pool.idle
        conn = idle.pop() if idle else await pool.checkout()
        if conn._con.is_closed():  # the server ended it while it was idle
            conn = await pool.replace(conn)
        try:
            result = await _STATEMENTS[operation](conn, compiled, args)
        except BaseException as exc:
            self._give_back(conn, exc)
            raise
        con = conn._con
        if con.is_in_transaction() or con.is_closed() or conn.dirty:
            self._give_back(conn, None)
        else:
            pool.put(conn)
        return result

    def acquire(self) -> Lease[PostgresConnection]:
        return Lease(self._take, self._checkin)

    async def _take(self) -> PostgresConnection:
        pool = self._pool
        conn = pool.idle.pop() if pool.idle else await pool.checkout()
        if conn._con.is_closed():
            conn = await pool.replace(conn)
        return conn

    async def _checkin(self, conn: PostgresConnection, exc: BaseException | None) -> None:
        self._give_back(conn, exc)

    def _give_back(self, conn: PostgresConnection, exc: BaseException | None) -> None:
        """Return ``conn`` to the pool now, or after settling it in the background.

        Never awaits and never raises: a cancelled task's cleanup ends at once, and an
        abandoned ``iterate()`` closed by the event loop raises nothing in its own task.
        """
        con = conn._con
        if conn.broken or con.is_closed():
            self._pool.drop(conn)
        elif (
            conn.interrupted
            or conn.in_flight is not None
            or not isinstance(exc, Exception | None)  # cancelled (or GeneratorExit)
            or con.is_in_transaction()  # e.g. a BEGIN run as plain SQL, a failed COMMIT
            or _asyncpg.is_cancelling(con)  # e.g. asyncpg timed a statement out
            or conn.dirty  # its session may differ from a new connection's
        ):
            conn.interrupted = True
            self._pool.spawn(self._settle(conn))
        else:
            self._pool.put(conn)

    async def _settle(self, conn: PostgresConnection) -> None:
        con = conn._con
        try:
            async with asyncio.timeout(_SETTLE_TIMEOUT):
                in_flight = conn.in_flight
                if in_flight is not None:
                    conn.in_flight = None
                    await _asyncpg.finish(in_flight, _CANCEL_GRACE)
                if _asyncpg.is_cancelling(con):
                    # A cancel request went out (from ``finish``, or from asyncpg for a
                    # call not guarded, e.g. a COPY); the connection is usable once the
                    # server answered it and the cancelled statement.
                    await _asyncpg.wait_for_cancellation(con)
                if con.is_in_transaction():
                    await con.execute("ROLLBACK")
                if conn.dirty:
                    await con.execute(_RESET)
                    # (which deallocated asyncpg's own prepared statements too)
                    _asyncpg.drop_statement_cache(con)
                    conn.forget_session()
                    conn.dirty = False
        except BaseException as exc:
            self._close_now(conn)
            self._pool.drop(conn)
            if not isinstance(exc, Exception):
                raise
            return
        conn.interrupted = False
        self._pool.put(conn)

    def stats(self) -> PoolStats:
        return self._pool.stats()

    def discard(self, connection: Connection) -> None:
        """Mark ``connection`` interrupted: it cannot COMMIT, and is settled (or closed)
        when given back."""
        assert isinstance(connection, PostgresConnection)
        connection.interrupted = True

    def _close_now(self, conn: PostgresConnection) -> None:
        if conn.broken:
            return
        conn.broken = True
        con = conn._con
        if con.is_closed():
            return  # it died (e.g. pg_terminate_backend): nothing left to end
        pid = con.get_server_pid()
        con.terminate()
        if self.settings.pgbouncer:
            return  # the pid is PgBouncer's, no server's: it closes its server connection
        # Closing our end does not stop a statement the server is still running (a
        # cancelled pg_sleep, a long scan): its transaction would keep its locks until
        # the statement ended. End that backend too, best effort, through the pool.
        self._pool.spawn(self._end_backend(pid))

    async def _end_backend(self, pid: int) -> None:
        try:
            async with self.acquire() as conn:
                await conn._con.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 "
                    "AND datname = current_database() AND usename = current_user",
                    pid,
                )
        except (*TRANSLATED, errors.DatabaseError):
            pass  # the pool is closing or busy: the server ends it when the statement does

    async def close(self) -> None:
        # Connections in use get ten seconds to come back before they are cut.
        await self._pool.close(force=_terminate, grace=10.0)


async def _close(conn: PostgresConnection) -> None:
    con = conn._con
    if con.is_closed():
        return
    try:
        await con.close(timeout=5)
    except Exception:
        con.terminate()


async def _terminate(conn: PostgresConnection) -> None:
    conn._con.terminate()
