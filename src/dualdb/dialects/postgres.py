"""PostgreSQL through asyncpg: the production backend.

asyncpg already speaks Python types (UUID, aware datetimes, Decimal, bytes, bool) and
its C ``Record`` already has the row interface dualdb promises, so rows are returned as
asyncpg makes them. What dualdb adds: JSON codecs, the shared value checks, error
mapping, and its own pool (:mod:`dualdb.dialects._pool`), whose checkout and release
cost no round trip and no Task.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, ClassVar, cast

import asyncpg
import asyncpg.exceptions as pgerr
from pypika.enums import Matching

from dualdb import errors
from dualdb.dialects._pool import Pool, PoolStats
from dualdb.dialects._values import check_datetime, check_float, dump_json
from dualdb.dialects.base import Connection, Dialect, Driver, Lease, MigrationBackend
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
            if state == "22021" and message.endswith("0x00"):
                # The same words as SQLite's check (PostgreSQL's name the encoding).
                return errors.DataError(_NUL_MESSAGE, **details)
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


_NUL_MESSAGE = "text cannot contain the NUL character (PostgreSQL cannot store it)"

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


def _returning(
    method: str,
) -> Callable[[asyncpg.Connection, Compiled, Sequence[Any]], Coroutine[Any, Any, Any]]:
    """The statement function calling ``asyncpg.Connection.<method>``."""

    async def statement(con: asyncpg.Connection, compiled: Compiled, args: Sequence[Any]) -> Any:
        try:
            return await getattr(con, method)(compiled.sql, *check_args(args))
        except _TRANSLATED as exc:
            raise translate(exc) from exc

    return statement


_fetch_all = _returning("fetch")
_fetch_one = _returning("fetchrow")
_fetch_val = _returning("fetchval")


async def _execute(con: asyncpg.Connection, compiled: Compiled, args: Sequence[Any]) -> int:
    try:
        if args:
            status = await con.execute(compiled.sql, *check_args(args))
        else:
            # Without arguments asyncpg uses the simple protocol, which also runs
            # several statements at once (DDL scripts).
            status = await con.execute(compiled.sql)
    except _TRANSLATED as exc:
        raise translate(exc) from exc
    return _rowcount(status)


#: The single-statement operations of ``Driver.run``, on an asyncpg connection.
_STATEMENTS = {
    "fetch_all": _fetch_all,
    "fetch_one": _fetch_one,
    "fetch_val": _fetch_val,
    "execute": _execute,
}


class PostgresConnection(Connection):
    """One asyncpg connection. The statement methods return the coroutine of the shared
    function ``Driver.run`` also calls, with no frame of their own."""

    __slots__ = ("_con", "broken")

    def __init__(self, con: asyncpg.Connection) -> None:
        self._con = con
        self.broken = False  # terminated by Driver.discard

    def fetch_all(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return _fetch_all(self._con, compiled, args)

    def fetch_one(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return _fetch_one(self._con, compiled, args)

    def fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]:
        return _fetch_val(self._con, compiled, args)

    def execute(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, int]:
        return _execute(self._con, compiled, args)

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


class PostgresDriver(Driver):
    """A pool (see :mod:`dualdb.dialects._pool`) of asyncpg connections.

    A connection goes back to the pool as it is: dualdb sets no session state outside
    transactions, so nothing needs resetting, except an open transaction (rolled back)
    and a connection whose call was cancelled (closed, since its server backend may
    still be running the statement).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: Pool[PostgresConnection] = Pool(
            backend=NAME,
            size=settings.pool_max_size,
            timeout=settings.pool_timeout,
            connect=self._connect,
            close=_close,
            timeout_hint="DB_POOL_MAX_SIZE / DB_POOL_TIMEOUT",
            min_size=settings.pool_min_size,
            idle_timeout=settings.idle_timeout,
        )

    async def start(self) -> None:
        await self._pool.fill(self.settings.pool_min_size)

    async def _connect(self) -> PostgresConnection:
        settings = self.settings
        server_settings = dict(settings.url_options)
        if settings.statement_timeout is not None:
            server_settings["statement_timeout"] = str(int(settings.statement_timeout * 1000))
        try:
            con = await asyncpg.connect(  # type: ignore[misc]
                host=settings.host,
                port=settings.port,
                user=settings.user,
                password=settings.password,
                database=settings.database,
                ssl=settings.sslmode,  # type: ignore[arg-type]  # validated by Settings
                timeout=settings.connect_timeout,
                statement_cache_size=settings.statement_cache_size,
                server_settings=server_settings or None,
            )
        except (*_TRANSLATED, TimeoutError) as exc:
            raise _connect_error(exc, settings) from exc
        try:
            await _init_connection(con)
        except BaseException as exc:
            con.terminate()
            if isinstance(exc, _TRANSLATED):
                raise _connect_error(exc, settings) from exc
            raise
        return PostgresConnection(con)

    async def run(self, operation: str, compiled: Compiled, args: Sequence[Any]) -> Any:
        pool = self._pool
        idle = pool.idle
        conn = idle.pop() if idle else await pool.checkout()
        con = conn._con
        if con.is_closed():  # the server ended it while it was idle
            conn = await pool.replace(conn)
            con = conn._con
        try:
            result = await _STATEMENTS[operation](con, compiled, args)
        except BaseException as exc:
            await self._checkin(conn, exc)
            raise
        if conn.broken or con.is_in_transaction() or con.is_closed():
            await self._checkin(conn, None)
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
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            # Interrupted mid-call: the server may still be running the statement.
            # (GeneratorExit, from leaving an iterate() loop early, arrives between
            # batches: the connection is idle and only its transaction is rolled back.)
            self.discard(conn)
        con = conn._con
        if conn.broken or con.is_closed():
            self._pool.drop(conn)
            return
        if con.is_in_transaction():  # e.g. a BEGIN run as plain SQL, or a failed COMMIT
            try:
                async with asyncio.timeout(self.settings.pool_timeout):
                    await con.execute("ROLLBACK")
            except BaseException:
                self.discard(conn)
                self._pool.drop(conn)
                raise
        self._pool.put(conn)

    def stats(self) -> PoolStats:
        return self._pool.stats()

    def discard(self, connection: Connection) -> None:
        assert isinstance(connection, PostgresConnection)
        if connection.broken:
            return
        connection.broken = True
        con = connection._con
        if con.is_closed():
            return  # it died (e.g. pg_terminate_backend): nothing left to end
        pid = con.get_server_pid()
        con.terminate()
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
        except (*_TRANSLATED, errors.DatabaseError):
            pass  # the pool is closing or busy: the server ends it when the statement does

    async def close(self) -> None:
        # Connections in use get ten seconds to come back before they are cut.
        await self._pool.close(force=_terminate, grace=10.0)


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
    is_embedded = False
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
        driver = PostgresDriver(settings)
        await driver.start()
        return driver

    def migrations(self) -> MigrationBackend:
        from dualdb.dialects._postgres_migrate import PostgresMigrations

        return PostgresMigrations()
