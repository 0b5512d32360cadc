"""The query API: :class:`Database` (pooled) and :class:`Transaction` (one connection).

Both offer the same methods, so code written against one runs against the other; a
function that takes ``db: Queryable`` can be handed either, which is how callers combine
several calls atomically. There is no ambient, task-local connection: work is inside a
transaction exactly when it runs through the :class:`Transaction` object.
"""

from __future__ import annotations

import math
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass
from logging import INFO
from time import perf_counter
from types import TracebackType
from typing import Any, Protocol, TypeVar, overload

from dualdb._hooks import Hooks, QueryHook, count_rows, shown
from dualdb._logging import log_query
from dualdb._logging import logger as query_logger
from dualdb._replicas import ReplicaRouter, ReplicaStats
from dualdb._results import map_one, map_rows, map_value, stream_mapper
from dualdb.dialects._pool import PoolStats
from dualdb.dialects.base import (
    Connection,
    Dialect,
    Driver,
    IsolationLevel,
    Operation,
)
from dualdb.errors import (
    CommitOutcomeUnknown,
    ConnectionFailed,
    DatabaseError,
    OperationalError,
    QueryError,
    TransactionAborted,
)
from dualdb.records import Record
from dualdb.settings import Settings
from dualdb.sql.compile import Compiled, compile_query
from dualdb.sql.terms import Param

__all__ = ["Database", "Health", "PoolStats", "Queryable", "Replica", "Transaction"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Health:
    """Result of :meth:`Database.health`."""

    backend: str
    latency: float
    server_version: str


class Queryable(Protocol):
    """What :class:`Database` and :class:`Transaction` both provide."""

    @overload
    async def fetch_all(self, query: Any, /, *, as_: type[T], **values: Any) -> list[T]: ...
    @overload
    async def fetch_all(self, query: Any, /, **values: Any) -> list[Record]: ...
    @overload
    async def fetch_one(self, query: Any, /, *, as_: type[T], **values: Any) -> T | None: ...
    @overload
    async def fetch_one(self, query: Any, /, **values: Any) -> Record | None: ...
    @overload
    async def fetch_val(self, query: Any, /, *, as_: type[T], **values: Any) -> T | None: ...
    @overload
    async def fetch_val(self, query: Any, /, **values: Any) -> Any: ...
    async def execute(self, query: Any, /, **values: Any) -> int: ...
    async def execute_many(self, query: Any, rows: Iterable[Mapping[str, Any]], /) -> None: ...
    # pyright sees ``as_`` fitting the second overload's ``**values`` too; the first wins.
    @overload
    def iterate(  # pyright: ignore[reportOverlappingOverload]
        self, query: Any, /, *, batch_size: int = 500, as_: type[T], **values: Any
    ) -> AsyncIterator[T]: ...
    @overload
    def iterate(
        self, query: Any, /, *, batch_size: int = 500, **values: Any
    ) -> AsyncIterator[Record]: ...
    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False
    ) -> Transaction: ...
    @property
    def backend(self) -> str: ...


class _Queries:
    """The query methods, over whatever connection ``_connection()`` provides."""

    _dialect: Dialect
    _settings: Settings
    #: Runs one statement: ``(operation, compiled, args)``, ``operation`` naming the
    #: Connection method. An attribute, not a method: one call less per statement.
    _perform: Callable[[Operation, Compiled, Sequence[Any]], Awaitable[Any]]
    _slow_threshold: float | None
    _slow: float  # the threshold, or infinity when slow queries are not logged
    #: The Database's query hooks, shared with its transactions, and their list (empty:
    #: none), which the hot path tests.
    _hooks: Hooks
    _hooked: list[Any]

    def _init_queries(self, settings: Settings, dialect: Dialect) -> None:
        self._settings = settings
        self._dialect = dialect
        self._slow_threshold = settings.slow_query_threshold
        self._slow = math.inf if self._slow_threshold is None else self._slow_threshold

    def _connection(self) -> AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect.name

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    def _log(
        self, compiled: Compiled, args: Any, started: float, operation: str, rows: int | None
    ) -> None:
        log_query(
            compiled,
            args,
            perf_counter() - started,
            self._dialect.name,
            self._settings.slow_query_threshold,
            operation,
            rows,
        )

    async def _run(self, operation: Operation, query: Any, values: Mapping[str, Any]) -> Any:
        """Compile, bind, run one statement on a connection, log: the one hot path.

        A round trip to SQLite is ~19 µs, so every step here counts: the SQL comes from
        the cache on the query object, the arguments from one ``itemgetter`` call, and
        the logger is called only when it will write a line.
        """
        compiled = compile_query(query, self._dialect)
        args = compiled.arguments(values)
        if self._hooked:
            return await self._observed(operation, compiled, args)
        started = perf_counter()
        result = await self._perform(operation, compiled, args)
        elapsed = perf_counter() - started
        if elapsed >= self._slow or query_logger.isEnabledFor(INFO):
            self._logged(compiled, args, elapsed, operation, count_rows(operation, result))
        return result

    async def _observed(self, operation: Operation, compiled: Compiled, args: Any) -> Any:
        """``_run`` with the query hooks called around the statement."""
        return await self._observe(self._hooks, self._perform, operation, compiled, args)

    async def _observe(
        self,
        hooks: Hooks,
        perform: Callable[[Operation, Compiled, Sequence[Any]], Awaitable[Any]],
        operation: Operation,
        compiled: Compiled,
        args: Any,
    ) -> Any:
        """``perform`` the statement with ``hooks`` (those naming its server) around it."""
        finishers = hooks.before(shown(operation), self._dialect.name, compiled, compiled.sql, args)
        started = perf_counter()
        try:
            result = await perform(operation, compiled, args)
        except BaseException as exc:
            Hooks.after(finishers, perf_counter() - started, None, exc)
            raise
        elapsed = perf_counter() - started
        rows = count_rows(operation, result)
        Hooks.after(finishers, elapsed, rows, None)
        if elapsed >= self._slow or query_logger.isEnabledFor(INFO):
            self._logged(compiled, args, elapsed, operation, rows)
        return result

    def _logged(
        self, compiled: Compiled, args: Any, elapsed: float, operation: str, rows: int | None
    ) -> None:
        """The statement's log line (slow, or every one at INFO)."""
        name = self._dialect.name
        log_query(compiled, args, elapsed, name, self._slow_threshold, shown(operation), rows)

    # Coroutine functions, not plain functions returning ``_run``'s coroutine: the
    # Queryable protocol, pyright and ``create_autospec`` all rely on it.

    # ``as_`` is a keyword of these methods, so no Param can be named ``as_`` (Param refuses
    # the name): ``**values`` would never receive it.

    @overload
    async def fetch_all(self, query: Any, /, *, as_: type[T], **values: Any) -> list[T]: ...
    @overload
    async def fetch_all(self, query: Any, /, **values: Any) -> list[Record]: ...
    async def fetch_all(self, query: Any, /, *, as_: Any = None, **values: Any) -> list[Any]:
        """All result rows; with ``as_=Model``, each as a ``Model`` (a dataclass, TypedDict,
        NamedTuple, pydantic model or msgspec Struct), matched by column name."""
        if as_ is None:
            result: list[Record] = await self._run("fetch_all", query, values)
            return result
        names, rows = await self._run("fetch_rows", query, values)
        return map_rows(as_, names, rows)

    @overload
    async def fetch_one(self, query: Any, /, *, as_: type[T], **values: Any) -> T | None: ...
    @overload
    async def fetch_one(self, query: Any, /, **values: Any) -> Record | None: ...
    async def fetch_one(self, query: Any, /, *, as_: Any = None, **values: Any) -> Any:
        """The first result row, or None. Add ``.limit(1)`` if the query may match many.
        ``as_=Model`` as for :meth:`fetch_all`."""
        result: Record | None = await self._run("fetch_one", query, values)
        if as_ is None:
            return result
        return map_one(as_, result)

    @overload
    async def fetch_val(self, query: Any, /, *, as_: type[T], **values: Any) -> T | None: ...
    @overload
    async def fetch_val(self, query: Any, /, **values: Any) -> Any: ...
    async def fetch_val(self, query: Any, /, *, as_: Any = None, **values: Any) -> Any:
        """The first column of the first row, or None when there is no row.

        ``as_=cls`` types the value as ``cls | None`` for the type checker, and checks it:
        a value of another type raises :class:`~dualdb.errors.ResultMappingError`.
        """
        result = await self._run("fetch_val", query, values)
        if as_ is None:
            return result
        return map_value(as_, result)

    async def execute(self, query: Any, /, **values: Any) -> int:
        """Run a statement; return the number of rows it inserted, updated or deleted."""
        result: int = await self._run("execute", query, values)
        return result

    async def execute_many(self, query: Any, rows: Iterable[Mapping[str, Any]], /) -> None:
        """Run one statement for each mapping of Param values, atomically.

        Either every row is applied or none. A plain ``INSERT … VALUES (Param…)`` takes
        the driver's fastest path (PostgreSQL's COPY, where COPY stores what INSERT
        would), and fails with the error a one-row INSERT would raise.
        """
        compiled = compile_query(query, self._dialect)
        arguments = compiled.arguments_many(rows)
        if not arguments:
            return
        finishers = (
            self._hooks.before("execute_many", self._dialect.name, compiled, compiled.sql)
            if self._hooked
            else []
        )
        started = perf_counter()
        try:
            async with self._connection() as conn:
                await conn.execute_many(compiled, arguments)
            self._after_write()
        except BaseException as exc:
            Hooks.after(finishers, perf_counter() - started, None, exc)
            raise
        Hooks.after(finishers, perf_counter() - started, len(arguments), None)
        self._log(compiled, arguments[0], started, "execute_many", len(arguments))

    # pyright sees ``as_`` fitting the second overload's ``**values`` too; the first wins.
    @overload
    def iterate(  # pyright: ignore[reportOverlappingOverload]
        self, query: Any, /, *, batch_size: int = 500, as_: type[T], **values: Any
    ) -> AsyncIterator[T]: ...
    @overload
    def iterate(
        self, query: Any, /, *, batch_size: int = 500, **values: Any
    ) -> AsyncIterator[Record]: ...
    async def iterate(
        self, query: Any, /, *, batch_size: int = 500, as_: Any = None, **values: Any
    ) -> AsyncIterator[Any]:
        """Stream rows without loading them all (a server-side cursor on PostgreSQL).

        Holds one connection until the loop ends; break out of the loop to stop early.
        ``as_=Model`` as for :meth:`fetch_all`.
        """
        if batch_size < 1:
            raise QueryError(f"batch_size must be ≥ 1, got {batch_size}")
        convert = None if as_ is None else stream_mapper(as_)
        compiled = compile_query(query, self._dialect)
        args = compiled.arguments(values)
        hooks: Hooks | None = None  # the event is the connection's server's: made once
        finishers: list[Any] = []  # it is taken (or, if that fails, with the failure)
        started = perf_counter()
        rows = 0
        error: BaseException | None = None
        try:
            # The stream is closed before the connection is given back, whether the loop
            # ended, broke off or was cancelled: a driver's stream must not outlive its
            # lease.
            source = self._connection()
            async with (
                source as conn,
                aclosing(conn.iterate(compiled, args, batch_size)) as records,
            ):
                if self._hooked:
                    hooks = self._hooks_on(source)
                    finishers = hooks.before(
                        "iterate", self._dialect.name, compiled, compiled.sql, args
                    )
                # Each record is let go of as it is taken (the batch reversed, popped
                # from its end): records the caller is done with, held by the batch
                # until its end, survive the garbage collector's young generation and
                # are promoted to be collected again later, with every object inside.
                if convert is None:
                    async for batch in records:
                        batch.reverse()
                        take = batch.pop
                        while batch:
                            rows += 1
                            yield take()
                else:
                    async for batch in records:
                        batch.reverse()
                        take = batch.pop
                        while batch:
                            rows += 1
                            yield convert(take())
        except BaseException as exc:
            error = exc
            if hooks is None and self._hooked:
                finishers = self._hooks.before(
                    "iterate", self._dialect.name, compiled, compiled.sql, args
                )
            raise
        finally:
            if finishers:
                Hooks.after(finishers, perf_counter() - started, rows, error)
        self._log(compiled, args, started, "iterate", rows)

    def _hooks_on(self, source: AbstractAsyncContextManager[Connection]) -> Hooks:
        """The hooks whose events name the server of the connection ``source`` gave."""
        return self._hooks

    def compile(self, query: Any, /, **values: Any) -> tuple[str, list[Any]]:
        """The SQL this dialect runs for ``query`` and its arguments, for inspection.

        Params without a value in ``values`` appear as the :class:`~dualdb.Param` itself.
        """
        compiled = compile_query(query, self._dialect)
        args = [
            (values.get(s.name, Param(s.name)) if s.name is not None else s.value)
            for s in compiled.slots
        ]
        return compiled.sql, args

    async def explain(self, query: Any, /, **values: Any) -> list[str]:
        """The backend's query plan for ``query``, one line per row."""
        compiled = compile_query(query, self._dialect)
        args = compiled.arguments(values)
        plan = Compiled(
            sql=self._dialect.explain_prefix + compiled.sql,
            slots=compiled.slots,
            names=compiled.names,
            param_names=compiled.param_names,
            state=self._dialect.statement_state(None),  # a plan's rows: text, as stored
        )
        async with self._connection() as conn:
            rows = await conn.fetch_all(plan, args)
        return [str(row[-1]) for row in rows]

    def transaction(self, *, isolation: str | None = None, readonly: bool = False) -> Transaction:
        raise NotImplementedError

    def _after_write(self) -> None:
        """A write succeeded (read-your-writes with replicas; see :mod:`dualdb._replicas`)."""


class Database(_Queries):
    """A pool of connections to one database; see :func:`dualdb.connect`.

    Each call takes a connection from the pool for its one statement, so concurrent
    tasks never share a connection. Use :meth:`transaction` to run several statements
    on one connection, atomically.
    """

    def __init__(
        self,
        settings: Settings,
        dialect: Dialect,
        driver: Driver,
        replicas: Sequence[tuple[Settings, Driver]] = (),
    ) -> None:
        self._init_queries(settings, dialect)
        self._perform = driver.run
        self._driver = driver
        self._closed = False
        if dialect.is_embedded:
            self._hooks = Hooks(settings.sqlite_file, None)
        else:
            self._hooks = Hooks(settings.database or "", settings.endpoints()[0])
        self._hooked = self._hooks.entries
        #: Each replica's view of the hooks: events naming its server.
        self._replica_hooks = {
            d: self._hooks.at(s.database or "", s.endpoints()[0]) for s, d in replicas
        }
        self._router: ReplicaRouter | None = None
        if replicas:
            self._router = ReplicaRouter(settings, dialect, driver, replicas)
            # Only with replicas does a write cost anything more: one check, one set.
            self._perform = self._tracked
        self._replica = Replica(self, self._router)

    async def _tracked(self, operation: Operation, compiled: Compiled, args: Sequence[Any]) -> Any:
        result = await self._driver.run(operation, compiled, args)
        if compiled.is_write:
            self._after_write()
        return result

    def _after_write(self) -> None:
        if self._router is not None:
            self._router.wrote()

    def _hooks_for(self, driver: Driver) -> Hooks:
        """The hooks whose events name ``driver``'s server (the primary's, or a
        replica's)."""
        return self._replica_hooks.get(driver, self._hooks)

    @property
    def replica(self) -> Replica:
        """Reads on a read replica (``DATABASE_REPLICA_URLS``), falling back to the
        primary when none is fit; on a backend without replicas (SQLite), reads on the
        database itself, so that the same code runs on both. See ``docs/replicas.md``."""
        return self._replica

    def add_query_hook(self, hook: QueryHook, *, values: bool = False) -> Callable[[], None]:
        """Call ``hook(event)`` before every statement this Database (and its transactions)
        runs, and the function it returns, if any, with the outcome: for metrics, tracing
        and audit logs (see :class:`~dualdb.QueryEvent`, :class:`~dualdb.QueryOutcome`).
        ``values=True`` gives the hook the arguments, secrets shown as ``***``. Returns a
        function that removes the hook."""
        return self._hooks.add(hook, values)

    @property
    def settings(self) -> Settings:
        return self._settings

    def _connection(self) -> AbstractAsyncContextManager[Connection]:
        return self._driver.acquire()

    def transaction(self, *, isolation: str | None = None, readonly: bool = False) -> Transaction:
        """A transaction on one pooled connection: ``async with db.transaction() as tx:``.

        Commits when the block ends, rolls back if it raises. ``isolation`` is one of
        ``read_committed``, ``repeatable_read``, ``serializable``: the transaction runs at
        the weakest level the backend gives that is at least that strong (SQLite gives
        only serializable; ``tx.isolation`` says which), and a backend that has none is
        refused with :class:`~dualdb.errors.UnsupportedFeature`. ``readonly`` starts a
        read-only transaction (on SQLite: one that takes no write lock up front).
        """
        return Transaction(self, None, isolation=isolation, readonly=readonly)

    def connection(self) -> _DriverConnection:
        """The driver's own connection for the block, for what dualdb does not wrap:
        ``async with db.connection() as conn:`` gives an ``asyncpg.Connection`` on
        PostgreSQL (LISTEN/NOTIFY, ``copy_to_table`` from a file, session advisory
        locks, custom type codecs) or an ``aiosqlite.Connection`` on SQLite.

        Whatever the block changes in the session does not reach the connection's next
        borrower: on PostgreSQL it is reset as asyncpg's own pool resets a connection
        (advisory locks released, LISTENs ended, settings reset, temporary tables
        dropped); on SQLite the connection is closed. A transaction the block left open
        is rolled back.
        """
        return _DriverConnection(self._driver.acquire())

    def pool_stats(self) -> PoolStats:
        """How many connections are open, idle and in use, and how many callers wait."""
        return self._driver.stats()

    async def health(self) -> Health:
        """One round trip to the database; raises if it fails."""
        started = perf_counter()
        version = await self.fetch_val(self._dialect.version_query)
        return Health(self._dialect.name, perf_counter() - started, str(version))

    async def close(self) -> None:
        """Close every connection; the Database cannot be used afterwards."""
        if not self._closed:
            self._closed = True
            if self._router is not None:
                await self._router.close()
            await self._driver.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<Database {self._settings.display_url()}>"


class Transaction(_Queries):
    """A transaction (or, nested, a SAVEPOINT) with the same query methods as Database.

    Everything run through this object runs on its connection, inside it.
    """

    def __init__(
        self,
        database: Database,
        parent: Transaction | None,
        *,
        isolation: str | None = None,
        readonly: bool = False,
        source: Callable[[], Awaitable[tuple[Driver, Any, Connection]]] | None = None,
    ) -> None:
        dialect = database.dialect
        level: IsolationLevel | None = None
        if isolation is not None:
            level = dialect.isolation_for(isolation)
        if parent is not None and (isolation or readonly):
            raise QueryError("a nested transaction (savepoint) takes no isolation or readonly")
        self._init_queries(database.settings, dialect)
        self._perform = self._on_connection
        self._hooks, self._hooked = database._hooks, database._hooked
        self._database = database
        self._source = source
        self._driver: Driver = database._driver if parent is None else parent._driver
        #: The transaction whose commit makes this block's writes visible, and whether
        #: anything in it wrote (read-your-writes with replicas).
        self._root: Transaction = self if parent is None else parent._root
        self._wrote = False
        if database._router is not None:
            self._perform = self._on_connection_tracked
        self._parent = parent
        self._isolation: IsolationLevel | None = level
        self._readonly = readonly
        self._conn: Connection | None = None
        self._lease: AbstractAsyncContextManager[Connection] | None = None
        self._savepoint: str | None = None
        self._children = 0
        self._done = False

    @property
    def isolation(self) -> IsolationLevel | None:
        """The level this transaction runs at (None: the server's default, or a savepoint)."""
        return self._isolation

    def _connection(self) -> _OwnConnection:
        return _OwnConnection(self)

    def _live_connection(self) -> Connection:
        """The transaction's connection, or the error for a block not (or no longer) open."""
        conn = self._conn
        if conn is None or self._done:
            raise OperationalError(
                "this transaction is not active (use it inside its `async with` block)",
                dialect=self._dialect.name,
            )
        return conn

    def _on_connection(
        self, operation: Operation, compiled: Compiled, args: Sequence[Any]
    ) -> Awaitable[Any]:
        call: Awaitable[Any] = getattr(self._live_connection(), operation)(compiled, args)
        return call

    def _on_connection_tracked(
        self, operation: Operation, compiled: Compiled, args: Sequence[Any]
    ) -> Awaitable[Any]:
        if compiled.is_write:
            self._root._wrote = True
        return self._on_connection(operation, compiled, args)

    def _after_write(self) -> None:
        self._root._wrote = True

    def transaction(self, *, isolation: str | None = None, readonly: bool = False) -> Transaction:
        """A nested block: a SAVEPOINT that rolls back alone if the block raises."""
        return Transaction(self._database, self, isolation=isolation, readonly=readonly)

    async def __aenter__(self) -> Transaction:
        if self._parent is not None:
            parent = self._parent
            if parent._conn is None or parent._done:
                raise OperationalError("the enclosing transaction is not active")
            parent._children += 1
            self._conn = parent._conn
            self._hooks = parent._hooks
            self._savepoint = f"dualdb_sp_{id(parent):x}_{parent._children}"
            await self._conn.savepoint(self._savepoint)
            return self
        if self._source is not None:
            self._driver, lease, conn = await self._source()
            self._hooks = self._database._hooks_for(self._driver)
        else:
            lease = self._driver.acquire()
            conn = await lease.__aenter__()
        try:
            await self._control("begin", conn.begin(self._isolation, self._readonly))
        except BaseException as exc:
            await lease.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._lease, self._conn = lease, conn
        return self

    async def _control(self, operation: str, call: Awaitable[None]) -> None:
        """A BEGIN, COMMIT or ROLLBACK, seen by the query hooks."""
        if not self._hooked:
            await call
            return
        finishers = self._hooks.before(operation, self._dialect.name, None, operation.upper())
        started = perf_counter()
        try:
            await call
        except BaseException as exc:
            Hooks.after(finishers, perf_counter() - started, None, exc)
            raise
        Hooks.after(finishers, perf_counter() - started, None, None)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        assert conn is not None
        self._done = True
        if self._savepoint is not None:
            await self._exit_savepoint(conn, exc)
            return
        lease = self._lease
        assert lease is not None
        try:
            if exc is None:
                try:
                    await self._control("commit", conn.commit())
                except ConnectionFailed as lost:
                    raise CommitOutcomeUnknown(
                        "the connection was lost during COMMIT: the transaction may or may "
                        "not have been committed",
                        dialect=self._dialect.name,
                    ) from lost
                if self._wrote:
                    self._database._after_write()
            elif isinstance(exc, Exception):
                await self._control("rollback", conn.rollback())
            else:
                # Cancelled (or interpreter exit) mid-transaction: the block's work may be
                # half done, so the driver settles (rolls back) the connection or closes it.
                self._driver.discard(conn)
        except BaseException:
            # COMMIT/ROLLBACK failed: the transaction may still be open, so the
            # connection must not be reused. A failed COMMIT is the caller's error.
            self._driver.discard(conn)
            if exc is None:
                raise
        finally:
            await lease.__aexit__(None, None, None)

    async def _exit_savepoint(self, conn: Connection, exc: BaseException | None) -> None:
        name = self._savepoint
        assert name is not None
        if exc is None:
            try:
                await conn.release(name)
            except TransactionAborted:
                # A statement of the block failed and its error was caught: roll back to
                # the savepoint, as an error leaving the block would have, so that the
                # enclosing transaction goes on; and say that the block's work is gone.
                await conn.rollback_to(name)
                await conn.release(name)
                raise TransactionAborted.in_savepoint(self._dialect.name) from None
        elif isinstance(exc, Exception):
            try:
                await conn.rollback_to(name)
                await conn.release(name)
            except DatabaseError:
                pass  # the outer transaction will fail and roll back; keep the first error
        else:
            self._driver.discard(conn)

    def __repr__(self) -> str:
        kind = "savepoint" if self._parent is not None else "transaction"
        state = "done" if self._done else ("active" if self._conn else "new")
        return f"<Transaction {kind} {state} on {self._settings.display_url()}>"


class _DriverConnection:
    """``async with db.connection() as conn:`` (see :meth:`Database.connection`)."""

    __slots__ = ("_conn", "_lease")

    def __init__(self, lease: AbstractAsyncContextManager[Connection]) -> None:
        self._lease = lease
        self._conn: Connection | None = None

    async def __aenter__(self) -> Any:
        self._conn = conn = await self._lease.__aenter__()
        conn.taint()
        return conn.driver_connection()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._lease.__aexit__(exc_type, exc, tb)


class _OwnConnection:
    """``async with`` around each statement run through a Transaction: its connection.

    A plain class rather than an ``@asynccontextmanager`` generator, which costs a
    microsecond more for every statement.
    """

    __slots__ = ("_transaction",)

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    async def __aenter__(self) -> Connection:
        return self._transaction._live_connection()

    async def __aexit__(self, *exc: object) -> None:
        return None


def _refuse_write(dialect: str) -> QueryError:
    return QueryError(
        "db.replica runs reads only (a replica cannot write, and its reads may run on one): "
        "run writes on the Database itself",
        dialect=dialect,
    )


class Replica(_Queries):
    """``db.replica``: the read methods of a :class:`Database`, run on a read replica.

    Which server answers is the router's choice (:mod:`dualdb._replicas`): a replica fit
    to serve (reachable, within ``replica_max_lag``, and, after this context's own
    write, caught up with it), else the primary. Writes are refused before anything is
    sent, whatever server would have run them. Without replicas (none configured, or
    SQLite) every read runs on the database itself, so application code is the same.
    """

    def __init__(self, database: Database, router: ReplicaRouter | None) -> None:
        self._init_queries(database.settings, database.dialect)
        self._hooks, self._hooked = database._hooks, database._hooked
        self._database = database
        self._router = router
        self._perform = self._read
        self._primary_reads = 0

    @property
    def primary(self) -> Database:
        """The database these reads belong to: where a write that a read calls for goes
        (as ``auth.validate_session`` writes ``last_seen_at`` back)."""
        return self._database

    async def _read(self, operation: Operation, compiled: Compiled, args: Sequence[Any]) -> Any:
        if compiled.is_write:
            raise _refuse_write(self._dialect.name)
        router = self._router
        if router is None:
            self._primary_reads += 1
            return await self._database._driver.run(operation, compiled, args)
        return await _on(router, await router.choose(), _run_on, operation, compiled, args)

    async def _observed(self, operation: Operation, compiled: Compiled, args: Any) -> Any:
        """``_read`` with the hooks called once the server is chosen, so that each event
        names the server the statement ran on. A try on a replica that failed and the
        primary's run of the same read are two events; a read refused or failed before
        any server was chosen is the primary's."""
        router = self._router
        try:
            if compiled.is_write:
                raise _refuse_write(self._dialect.name)
            if router is None:
                self._primary_reads += 1
                driver = self._database._driver
            else:
                driver = await router.choose()
        except BaseException as exc:
            Hooks.after(
                self._hooks.before(
                    shown(operation), self._dialect.name, compiled, compiled.sql, args
                ),
                0.0,
                None,
                exc,
            )
            raise
        if router is None:
            return await self._observed_on(driver, operation, compiled, args)
        return await _on(router, driver, self._observed_on, operation, compiled, args)

    async def _observed_on(
        self, driver: Driver, operation: Operation, compiled: Compiled, args: Sequence[Any]
    ) -> Any:
        hooks = self._database._hooks_for(driver)
        return await self._observe(hooks, driver.run, operation, compiled, args)

    async def _lease(self) -> tuple[Driver, Any, Connection]:
        """A connection for a stream or a transaction: on a replica, or the primary."""
        router = self._router
        if router is None:
            self._primary_reads += 1
            driver = self._database._driver
        else:
            driver = await router.choose()
        lease = driver.acquire()
        try:
            return driver, lease, await lease.__aenter__()
        except ConnectionFailed as exc:
            if router is None or driver is router.primary:
                raise
            router.failed(driver, exc, routed=True)
            driver = router.fell_back("failed")
            lease = driver.acquire()
            return driver, lease, await lease.__aenter__()

    def _connection(self) -> _RoutedConnection:
        return _RoutedConnection(self)

    def _hooks_on(self, source: AbstractAsyncContextManager[Connection]) -> Hooks:
        driver = source.driver if isinstance(source, _RoutedConnection) else None
        return self._hooks if driver is None else self._database._hooks_for(driver)

    async def execute_many(self, query: Any, rows: Iterable[Mapping[str, Any]], /) -> None:
        """Refused: a replica takes no writes."""
        raise _refuse_write(self._dialect.name)

    @overload  # pyright: ignore[reportIncompatibleMethodOverride]
    def iterate(  # pyright: ignore[reportOverlappingOverload]
        self, query: Any, /, *, batch_size: int = 500, as_: type[T], **values: Any
    ) -> AsyncIterator[T]: ...
    @overload
    def iterate(
        self, query: Any, /, *, batch_size: int = 500, **values: Any
    ) -> AsyncIterator[Record]: ...
    def iterate(self, query: Any, /, *, batch_size: int = 500, **values: Any) -> AsyncIterator[Any]:
        """Stream rows from a replica (see :meth:`Database.iterate`)."""
        if compile_query(query, self._dialect).is_write:
            raise _refuse_write(self._dialect.name)
        return super().iterate(query, batch_size=batch_size, **values)

    def transaction(self, *, isolation: str | None = None, readonly: bool = True) -> Transaction:
        """A read-only transaction on one replica (or the primary, as for a read): several
        reads that see one snapshot. ``readonly=False`` is refused."""
        if not readonly:
            raise _refuse_write(self._dialect.name)
        return Transaction(
            self._database, None, isolation=isolation, readonly=True, source=self._lease
        )

    def stats(self) -> ReplicaStats:
        """Where the reads went, and each replica's state: for metrics."""
        if self._router is None:
            return ReplicaStats(0, {"none": self._primary_reads} if self._primary_reads else {}, ())
        return self._router.stats()

    def __repr__(self) -> str:
        count = len(self._database.settings.replica_urls)
        return f"<Replica reader of {self._settings.display_url()}, {count} replica(s)>"


def _run_on(driver: Driver, operation: Operation, compiled: Compiled, args: Sequence[Any]) -> Any:
    return driver.run(operation, compiled, args)


async def _on(
    router: ReplicaRouter,
    driver: Driver,
    run: Callable[[Driver, Operation, Compiled, Sequence[Any]], Awaitable[Any]],
    operation: Operation,
    compiled: Compiled,
    args: Sequence[Any],
) -> Any:
    """``run(driver, …)`` for a read the router sent to ``driver``; if that was a replica
    that could not be reached, again on the primary (a read is safe to run again)."""
    if driver is router.primary:
        return await run(driver, operation, compiled, args)
    try:
        return await run(driver, operation, compiled, args)
    except ConnectionFailed as exc:
        router.failed(driver, exc, routed=True)
        return await run(router.fell_back("failed"), operation, compiled, args)


class _RoutedConnection:
    """``async with`` for a stream on ``db.replica``: the connection the router chose."""

    __slots__ = ("_lease", "_reader", "driver")

    def __init__(self, reader: Replica) -> None:
        self._reader = reader
        self._lease: Any = None
        #: The server's driver, once entered.
        self.driver: Driver | None = None

    async def __aenter__(self) -> Connection:
        self.driver, self._lease, conn = await self._reader._lease()
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._lease.__aexit__(exc_type, exc, tb)
