"""PostgreSQL through asyncpg: the production backend.

asyncpg already speaks Python types (UUID, aware datetimes, Decimal, bytes, bool) and
its C ``Record`` already has the row interface dualdb promises, so rows are returned as
asyncpg makes them. What dualdb adds: JSON codecs, the shared value checks, error
mapping, and a pool whose release costs no round trip (asyncpg's default release runs
``RESET ALL`` and friends; dualdb sets no session state outside transactions, and an
open transaction is still rolled back by asyncpg before reuse).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, cast

import asyncpg
import asyncpg.exceptions as pgerr
from pypika.enums import Matching

from dualdb import errors
from dualdb.dialects._values import check_datetime, check_float, dump_json
from dualdb.dialects.base import Connection, Dialect, Driver, Lease
from dualdb.records import Record
from dualdb.settings import Settings
from dualdb.sql.compile import Compiled

__all__ = ["PostgresDialect"]

NAME = "postgresql"

# ---------------------------------------------------------------------------- values


def check_args(args: Sequence[Any]) -> Sequence[Any]:
    """Apply the checks both backends share; asyncpg converts the rest itself."""
    for value in args:
        kind = type(value)
        if kind is datetime:
            check_datetime(value, NAME)
        elif kind is float:
            check_float(value, NAME)
    return args


def _encode_json(value: Any) -> str:
    # A str is JSON text already (as on SQLite); anything else is serialised.
    if isinstance(value, str):
        return value
    return dump_json(value, NAME)


# ---------------------------------------------------------------------------- errors

_QUOTED = re.compile(r'"[^"]*"|(?<!\w)\'[^\']*\'(?!\w)')
_ARGUMENT = re.compile(r"^invalid input for query argument \$\d+")


def _data_message(exc: BaseException) -> str:
    """A data error's message without the offending value, which may be a secret.

    asyncpg writes the value after the argument number ("…argument $1: 'tok' (…)") and
    keeps the encoder's own error as ``__cause__``; the server quotes values.
    """
    message = str(exc)
    match = _ARGUMENT.match(message)
    if match:
        cause = exc.__cause__
        reason = f" ({_QUOTED.sub('<value>', str(cause))})" if cause is not None else ""
        return match.group(0) + reason
    return _QUOTED.sub("<value>", message)


def translate(exc: BaseException) -> errors.DatabaseError:
    """Map an asyncpg (or socket) error to the dualdb tree; the caller chains it."""
    if isinstance(exc, errors.DatabaseError):
        return exc
    if isinstance(exc, OverflowError):
        return errors.DataError(
            "integer out of range: both backends store at most 64-bit integers", dialect=NAME
        )
    if isinstance(exc, pgerr.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        # The primary message only: str(exc) appends DETAIL, which quotes row values
        # ("Key (email)=(…) already exists") that may be secrets.
        message = getattr(exc, "message", None) or str(exc).split("\n", 1)[0]
        details: dict[str, Any] = {
            "dialect": NAME,
            "constraint": getattr(exc, "constraint_name", None),
            "table": getattr(exc, "table_name", None),
            "column": getattr(exc, "column_name", None),
        }
        if state.startswith("22"):
            # Data errors quote the offending value; it may be a secret.
            if isinstance(exc.__cause__, errors.DatabaseError):
                return exc.__cause__  # dualdb's own check, run inside asyncpg's encoder
            return errors.DataError(_data_message(exc), **details)
        cls: type[errors.DatabaseError] = _BY_STATE.get(state) or _BY_CLASS.get(
            state[:2], errors.DatabaseError
        )
        return cls(message, **details)
    if isinstance(exc, pgerr.DataError):  # client-side: an argument of the wrong type
        return errors.DataError(_data_message(exc), dialect=NAME)
    if isinstance(exc, pgerr.ConnectionDoesNotExistError | ConnectionError | OSError):
        return errors.ConnectionFailed(f"connection lost: {exc}", dialect=NAME)
    if isinstance(exc, pgerr.InterfaceError | pgerr.InternalClientError) and _CLOSED.search(
        str(exc)
    ):
        # The server closed the connection while asyncpg still held it as idle or busy
        # (e.g. killed or restarted while the event loop was busy elsewhere).
        return errors.ConnectionFailed(f"connection lost: {exc}", dialect=NAME)
    if isinstance(exc, pgerr.InterfaceError | pgerr.InternalClientError):
        return errors.OperationalError(str(exc), dialect=NAME)
    return errors.DatabaseError(str(exc), dialect=NAME)


_CLOSED = re.compile(r"connection is closed|released back to the pool|cannot switch to state")


_BY_STATE: dict[str, type[errors.DatabaseError]] = {
    "23505": errors.UniqueViolation,
    "23503": errors.ForeignKeyViolation,
    "23502": errors.NotNullViolation,
    "23514": errors.CheckViolation,
    "40001": errors.SerializationFailure,
    "40P01": errors.DeadlockDetected,
    "57014": errors.QueryTimeout,
    "57P01": errors.ConnectionFailed,
    "57P02": errors.ConnectionFailed,
    "57P03": errors.ConnectionFailed,
    "53300": errors.ConnectionFailed,
    "25006": errors.ProgrammingError,  # write in a read-only transaction
}
_BY_CLASS: dict[str, type[errors.DatabaseError]] = {
    "21": errors.ProgrammingError,  # e.g. an upsert that would change one row twice
    "23": errors.IntegrityError,
    "08": errors.ConnectionFailed,
    "28": errors.ConnectionFailed,
    "3D": errors.ConnectionFailed,
    "40": errors.OperationalError,
    "42": errors.ProgrammingError,
    "53": errors.OperationalError,
    "54": errors.ProgrammingError,
    "55": errors.OperationalError,
    "57": errors.OperationalError,
    "58": errors.OperationalError,
    "0A": errors.ProgrammingError,
}

_TRANSLATED = (
    pgerr.PostgresError,
    pgerr.InterfaceError,
    pgerr.InternalClientError,
    OverflowError,
    OSError,
)


def _rowcount(status: str) -> int:
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0


# ---------------------------------------------------------------------------- connection


class PostgresConnection(Connection):
    __slots__ = ("_con", "broken")

    def __init__(self, con: Any) -> None:
        # An asyncpg Connection, or the pool's proxy for one.
        self._con = con
        self.broken = False  # terminated by Driver.discard

    async def fetch_all(self, compiled: Compiled, args: Sequence[Any]) -> list[Record]:
        try:
            rows = await self._con.fetch(compiled.sql, *check_args(args))
        except _TRANSLATED as exc:
            raise translate(exc) from exc
        return cast(list[Record], rows)

    async def fetch_one(self, compiled: Compiled, args: Sequence[Any]) -> Record | None:
        try:
            row = await self._con.fetchrow(compiled.sql, *check_args(args))
        except _TRANSLATED as exc:
            raise translate(exc) from exc
        return cast(Record | None, row)

    async def fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Any:
        try:
            return await self._con.fetchval(compiled.sql, *check_args(args))
        except _TRANSLATED as exc:
            raise translate(exc) from exc

    async def execute(self, compiled: Compiled, args: Sequence[Any]) -> int:
        try:
            if args:
                status = await self._con.execute(compiled.sql, *check_args(args))
            else:
                # Without arguments asyncpg uses the simple protocol, which also runs
                # several statements at once (DDL scripts).
                status = await self._con.execute(compiled.sql)
        except _TRANSLATED as exc:
            raise translate(exc) from exc
        return _rowcount(status)

    async def execute_many(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            check_args(row)
        try:
            if compiled.bulk_target is not None:
                table, columns = compiled.bulk_target
                await self._con.copy_records_to_table(
                    table, records=[tuple(r) for r in rows], columns=list(columns)
                )
            else:
                await self._con.executemany(compiled.sql, rows)
        except _TRANSLATED as exc:
            raise translate(exc) from exc

    async def iterate(
        self, compiled: Compiled, args: Sequence[Any], batch_size: int
    ) -> AsyncIterator[Record]:
        # A server-side cursor lives inside a transaction; open one if none is active.
        con = self._con
        try:
            if con.is_in_transaction():
                async for record in con.cursor(
                    compiled.sql, *check_args(args), prefetch=batch_size
                ):
                    yield cast(Record, record)
            else:
                async with con.transaction(readonly=True):
                    cursor = con.cursor(compiled.sql, *check_args(args), prefetch=batch_size)
                    async for record in cursor:
                        yield cast(Record, record)
        except _TRANSLATED as exc:
            raise translate(exc) from exc

    async def run(self, sql: str) -> None:
        try:
            await self._con.execute(sql)
        except _TRANSLATED as exc:
            raise translate(exc) from exc

    def in_transaction(self) -> bool:
        return bool(self._con.is_in_transaction())


# ---------------------------------------------------------------------------- pool


def _encode_json_binary(value: Any) -> bytes:
    return _encode_json(value).encode()


def _encode_jsonb_binary(value: Any) -> bytes:
    return b"\x01" + _encode_json(value).encode()  # jsonb's binary form: version 1, text


def _decode_jsonb_binary(data: bytes) -> Any:
    return json.loads(data[1:])


async def _init_connection(con: asyncpg.Connection) -> None:
    # Binary codecs: COPY (execute_many's bulk path) sends every column in binary and
    # fails on a type that has only a text codec.
    await con.set_type_codec(
        "json",
        schema="pg_catalog",
        encoder=_encode_json_binary,
        decoder=json.loads,
        format="binary",
    )
    await con.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=_encode_jsonb_binary,
        decoder=_decode_jsonb_binary,
        format="binary",
    )


async def _no_reset(con: asyncpg.Connection) -> None:
    """Replaces asyncpg's per-release reset query (see the module docstring)."""


class PostgresDriver(Driver):
    """asyncpg's pool, with the pool timeout applied only where a wait is possible.

    asyncpg's ``acquire(timeout=…)`` arms a timer, and so does the release of a connection
    acquired that way: about 8 µs per statement on a virtual machine, a tenth of a
    primary-key select. While fewer connections are checked out than the pool holds, one
    is free (opening it, if needed, is bounded by the connect timeout), so no timer is
    armed; a release keeps the timeout when it may have to roll back or wait for a
    cancelled query.
    """

    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self._pool = pool
        self._leased = 0  # connections checked out through acquire()
        self._enders: set[asyncio.Task[None]] = set()

    def acquire(self) -> Lease[PostgresConnection]:
        return Lease(self._checkout, self._checkin)

    async def _checkout(self) -> PostgresConnection:
        settings = self.settings
        timeout = settings.pool_timeout if self._leased >= settings.pool_max_size else None
        self._leased += 1
        try:
            con = await self._pool.acquire(timeout=timeout)
        except BaseException as exc:
            self._leased -= 1
            if isinstance(exc, TimeoutError):
                raise errors.PoolTimeout(
                    f"no PostgreSQL connection became free within {settings.pool_timeout}s "
                    f"(pool size {settings.pool_max_size}; DB_POOL_MAX_SIZE / DB_POOL_TIMEOUT)",
                    dialect=NAME,
                ) from None
            if isinstance(exc, _TRANSLATED):
                raise _connect_error(exc, settings) from exc
            raise
        return PostgresConnection(con)

    async def _checkin(self, connection: PostgresConnection, failed: bool) -> None:
        try:
            timeout = self._release_timeout(connection, failed)
            await self._pool.release(connection._con, timeout=timeout)
        finally:
            self._leased -= 1

    def _release_timeout(self, connection: PostgresConnection, failed: bool) -> float | None:
        """The pool timeout if the release may wait (a rollback, a cancelled query to
        finish); otherwise None, which arms no timer."""
        if failed or connection.broken:
            return self.settings.pool_timeout
        try:
            in_transaction = connection._con.is_in_transaction()
        except pgerr.InterfaceError:  # closed and detached by asyncpg: release does nothing
            return None
        return self.settings.pool_timeout if in_transaction else None

    def discard(self, connection: Connection) -> None:
        assert isinstance(connection, PostgresConnection)
        connection.broken = True
        # A connection that died (e.g. pg_terminate_backend) was already closed and
        # detached from the pool by asyncpg: there is nothing left to terminate.
        with contextlib.suppress(pgerr.InterfaceError):
            pid = connection._con.get_server_pid()
            connection._con.terminate()
            # Closing our end does not stop a statement the server is still running (a
            # cancelled pg_sleep, a long scan): its transaction would keep its locks until
            # the statement ended. End that backend too, best effort, through the pool.
            task = asyncio.get_running_loop().create_task(self._end_backend(pid))
            self._enders.add(task)
            task.add_done_callback(self._enders.discard)

    async def _end_backend(self, pid: int) -> None:
        self._leased += 1  # holds a pool slot like any checkout
        try:
            async with self._pool.acquire(timeout=self.settings.pool_timeout) as con:
                await con.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 "
                    "AND datname = current_database() AND usename = current_user",
                    pid,
                )
        except (*_TRANSLATED, TimeoutError):
            pass  # the pool is closing or busy: the server ends it when the statement does
        finally:
            self._leased -= 1

    async def close(self) -> None:
        if self._enders:
            await asyncio.gather(*self._enders, return_exceptions=True)
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except TimeoutError:
            self._pool.terminate()


def _connect_error(exc: BaseException, settings: Settings) -> errors.DatabaseError:
    target = settings.display_url()
    if isinstance(exc, pgerr.InvalidPasswordError | pgerr.InvalidAuthorizationSpecificationError):
        return errors.ConnectionFailed(
            f"PostgreSQL rejected the credentials for {target}: authentication failed "
            "(check the user and password in DATABASE_URL / DB_USER / DB_PASSWORD)",
            dialect=NAME,
        )
    if isinstance(exc, pgerr.InvalidCatalogNameError):
        return errors.ConnectionFailed(
            f"database {settings.database!r} does not exist on {target}", dialect=NAME
        )
    if isinstance(exc, TimeoutError):
        return errors.ConnectionFailed(
            f"could not connect to {target} within {settings.connect_timeout}s "
            "(DB_CONNECT_TIMEOUT)",
            dialect=NAME,
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        return errors.ConnectionFailed(f"could not connect to {target}: {reason}", dialect=NAME)
    mapped = translate(exc)
    if isinstance(mapped, errors.ConnectionFailed):
        return mapped
    return errors.ConnectionFailed(f"could not connect to {target}: {mapped.message}", dialect=NAME)


class PostgresDialect(Dialect):
    name = NAME
    reuses_placeholders = True
    supports_for_update = True
    isolation_levels = frozenset({"read_committed", "repeatable_read", "serializable"})
    unsupported_matching = frozenset(
        {Matching.rlike, Matching.regexp, Matching.bin_regex, Matching.as_of, Matching.glob}
    )
    unsupported_functions: ClassVar[dict[str, str]] = {
        "IFNULL": "use COALESCE, on both backends",
        "GROUP_CONCAT": "",
        "INSTR": "",
        "DATETIME": "",
        "STRFTIME": "",
        "JULIANDAY": "",
        "TOTAL": "use SUM",
        "RANDOMBLOB": "",
        "PRINTF": "",
    }
    column_types: ClassVar[dict[str, str]] = {
        "uuid": "UUID",
        "text": "TEXT",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "boolean": "BOOLEAN",
        "timestamptz": "TIMESTAMPTZ",
        "date": "DATE",
        "json": "JSONB",
        "decimal": "NUMERIC",
        "bytes": "BYTEA",
        "float": "DOUBLE PRECISION",
    }

    explain_prefix = "EXPLAIN "
    version_query = "SELECT version()"

    def placeholder(self, position: int) -> str:
        return f"${position}"

    def begin_sql(self, isolation: str | None, readonly: bool) -> str:
        sql = "BEGIN"
        if isolation is not None:
            sql += " ISOLATION LEVEL " + isolation.replace("_", " ").upper()
        if readonly:
            sql += " READ ONLY"
        return sql

    async def connect(self, settings: Settings) -> PostgresDriver:
        server_settings = dict(settings.url_options)
        if settings.statement_timeout is not None:
            server_settings["statement_timeout"] = str(int(settings.statement_timeout * 1000))
        try:
            pool = await asyncpg.create_pool(  # type: ignore[call-overload, misc]
                host=settings.host,
                port=settings.port,
                user=settings.user,
                password=settings.password,
                database=settings.database,
                ssl=settings.sslmode,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                max_inactive_connection_lifetime=settings.idle_timeout,
                timeout=settings.connect_timeout,
                statement_cache_size=settings.statement_cache_size,
                server_settings=server_settings or None,
                init=_init_connection,
                reset=_no_reset,
            )
        except (*_TRANSLATED, TimeoutError) as exc:
            raise _connect_error(exc, settings) from exc
        return PostgresDriver(settings, pool)
