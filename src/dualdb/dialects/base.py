"""What a backend must provide: the :class:`Dialect`, its :class:`Compiler` and its
:class:`Connection`.

The dialect is the only place that knows how SQLite and PostgreSQL differ: placeholder
style, how SQL is written and which constructs run (its compiler), column types, value
conversion, error mapping and the driver. Everything above it (compile, Database, auth)
asks the dialect.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    TypeAlias,
    TypeVar,
    get_args,
)

from pypika.enums import Matching, Order

from dualdb.errors import QueryError, UnsupportedFeature
from dualdb.sql._target import literal_type

if TYPE_CHECKING:
    from pathlib import Path

    from dualdb.dialects._pool import PoolStats
    from dualdb.migrate.locking import LockInfo
    from dualdb.migrate.schema import Schema
    from dualdb.records import Record
    from dualdb.settings import Settings
    from dualdb.sql.compile import Compiled

__all__ = [
    "ISOLATION_LEVELS",
    "LOGICAL_TYPES",
    "LOGICAL_TYPE_ALIASES",
    "Backups",
    "Compiler",
    "Connection",
    "DatabaseServer",
    "Dialect",
    "Driver",
    "IsolationLevel",
    "Lease",
    "MigrationBackend",
    "OnConnect",
    "Operation",
    "Rows",
    "ScratchDatabases",
    "begin_sql",
    "named",
]

#: What ``transaction(isolation=...)`` can ask for, weakest first.
IsolationLevel: TypeAlias = Literal["read_committed", "repeatable_read", "serializable"]
ISOLATION_LEVELS: tuple[IsolationLevel, ...] = get_args(IsolationLevel)

#: The single-statement :class:`Connection` methods ``Driver.run`` can perform.
Operation: TypeAlias = Literal["fetch_all", "fetch_rows", "fetch_one", "fetch_val", "execute"]

#: ``fetch_rows``'s result: the column names, and rows readable by position (plain
#: tuples where the driver's rows are not already Records), for ``as_=`` to read into
#: the caller's model with no Record made per row.
Rows: TypeAlias = tuple[tuple[str, ...], Sequence[Any]]

#: The portable column types; each dialect maps them to declared types.
LOGICAL_TYPES = (
    "uuid",
    "text",
    "integer",
    "bigint",
    "boolean",
    "timestamptz",
    "date",
    "json",
    "decimal",
    "bytes",
    "float",
)

#: Other spellings of logical types (lower case, single spaces).
LOGICAL_TYPE_ALIASES = {"numeric": "decimal", "timestamp with time zone": "timestamptz"}

_MATCHING_NAMES = {
    Matching.ilike: "ILIKE",
    Matching.not_ilike: "NOT ILIKE",
    Matching.rlike: "RLIKE",
    Matching.regex: "REGEX",
    Matching.regexp: "REGEXP",
    Matching.bin_regex: "REGEX BINARY",
    Matching.as_of: "AS OF",
    Matching.glob: "GLOB",
}


class Stream(Protocol):
    """What ``Connection.iterate`` returns: an async iterator of non-empty batches of
    records that can be closed early (an async generator is one). Batches, not records:
    the caller's per-row loop is then the only async step per row. Each batch is a new
    list, the caller's to empty as it goes."""

    def __aiter__(self) -> AsyncIterator[list[Record]]: ...
    def __anext__(self) -> Awaitable[list[Record]]: ...
    def aclose(self) -> Awaitable[None]: ...


def begin_sql(isolation: IsolationLevel | None, readonly: bool) -> str:
    """The standard BEGIN statement for a transaction's isolation level and access mode."""
    sql = "BEGIN"
    if isolation is not None:
        sql += " ISOLATION LEVEL " + isolation.replace("_", " ").upper()
    if readonly:
        sql += " READ ONLY"
    return sql


def named(records: Sequence[Any]) -> Rows:
    """Records as :data:`Rows` (the names read from the first; none without rows)."""
    return (tuple(records[0].keys()) if records else ()), records


async def _named(fetch: Coroutine[Any, Any, list[Record]]) -> Rows:
    return named(await fetch)


class Connection(abc.ABC):
    """One driver connection, with values already in the driver's placeholder order.

    Every method maps driver errors to :mod:`dualdb.errors` and decodes rows to
    :class:`~dualdb.Record`.
    """

    # Declared as functions returning a coroutine (an ``async def`` satisfies them): the
    # drivers return a shared statement function's coroutine, with no frame of their own.

    @abc.abstractmethod
    def fetch_all(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, list[Record]]: ...

    def fetch_rows(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Rows]:
        """``fetch_all`` as :data:`Rows`; a driver whose rows cost more than tuples (a
        Record per row) returns tuples instead."""
        return _named(self.fetch_all(compiled, args))

    @abc.abstractmethod
    def fetch_one(
        self, compiled: Compiled, args: Sequence[Any]
    ) -> Coroutine[Any, Any, Record | None]: ...

    @abc.abstractmethod
    def fetch_val(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, Any]: ...

    @abc.abstractmethod
    def execute(self, compiled: Compiled, args: Sequence[Any]) -> Coroutine[Any, Any, int]: ...

    @abc.abstractmethod
    async def execute_many(self, compiled: Compiled, rows: Sequence[Sequence[Any]]) -> None: ...

    @abc.abstractmethod
    def iterate(self, compiled: Compiled, args: Sequence[Any], batch_size: int) -> Stream:
        """The rows of a statement, in batches of ``batch_size``; the caller closes the
        stream (``aclose``) before it gives the connection back."""

    # Transaction control: methods, so that a driver controls its transactions its own
    # way (SQLite sends BEGIN with the first statement and skips an empty COMMIT) without
    # recognising SQL text. The defaults send the standard statements; savepoint names are
    # dualdb's own identifiers, never user input.

    async def begin(self, isolation: IsolationLevel | None, readonly: bool) -> None:
        """Open a transaction; ``isolation`` is one the dialect serves (see
        :meth:`Dialect.isolation_for`), None for the server's default. A backend may send
        it with the next statement."""
        await self.run(begin_sql(isolation, readonly))

    async def commit(self) -> None:
        await self.run("COMMIT")

    async def rollback(self) -> None:
        await self.run("ROLLBACK")

    async def savepoint(self, name: str) -> None:
        await self.run(f"SAVEPOINT {name}")

    async def release(self, name: str) -> None:
        await self.run(f"RELEASE SAVEPOINT {name}")

    async def rollback_to(self, name: str) -> None:
        await self.run(f"ROLLBACK TO SAVEPOINT {name}")

    @abc.abstractmethod
    async def run(self, sql: str) -> None:
        """Run a statement of dualdb's own (BEGIN, SAVEPOINT …) with no arguments."""

    @abc.abstractmethod
    def in_transaction(self) -> bool: ...

    @abc.abstractmethod
    def driver_connection(self) -> Any:
        """The driver's own connection (``asyncpg.Connection``, ``aiosqlite.Connection``),
        for what dualdb does not wrap. The connection is reset before it is reused
        (see :meth:`taint`)."""

    @abc.abstractmethod
    def taint(self) -> None:
        """Someone may have changed this connection's session (raw SQL such as ``SET``,
        or the driver connection itself): reset it, or replace it, before the next
        borrower gets it."""


C = TypeVar("C", bound=Connection)

#: A function run on every new driver connection (``connect(on_connect=…)``).
OnConnect = Callable[[Any], Awaitable[None]]


class Lease(Generic[C]):
    """What ``Driver.acquire()`` returns: ``async with`` takes a connection, gives it back.

    ``checkout()`` takes it; ``checkin(connection, exc)`` gives it back, with the exception
    the block raised (None if it did not): after a cancellation a driver may have to
    discard the connection rather than reuse it. A plain class rather than an
    ``@asynccontextmanager`` generator, which costs a microsecond more.
    """

    __slots__ = ("_checkin", "_checkout", "_connection")

    def __init__(
        self,
        checkout: Callable[[], Awaitable[C]],
        checkin: Callable[[C, BaseException | None], Awaitable[None]],
    ) -> None:
        self._checkout = checkout
        self._checkin = checkin

    async def __aenter__(self) -> C:
        self._connection = await self._checkout()
        return self._connection

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        await self._checkin(self._connection, exc)


class Driver(abc.ABC):
    """A pool of connections to one database."""

    @abc.abstractmethod
    def acquire(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for the duration of the block; waits at most the pool timeout."""

    @abc.abstractmethod
    async def run(self, operation: Operation, compiled: Compiled, args: Sequence[Any]) -> Any:
        """Run one statement on a pooled connection: ``operation`` names the
        :class:`Connection` method. Not ``acquire()`` plus the method: this is the path
        of every statement outside a transaction, where a context manager costs."""

    @abc.abstractmethod
    def stats(self) -> PoolStats: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def discard(self, connection: Connection) -> None:
        """Mark a connection whose transaction was interrupted (e.g. cancelled mid-block):
        it must not commit, and it is settled (rolled back) or closed before anyone
        reuses it."""


class DatabaseServer(Protocol):
    """A database server that test databases are made on (``dualdb.testing``'s
    throwaway cluster or a given one): what a server-backed dialect's
    :class:`ScratchDatabases` asks of it."""

    url: str

    def create_database(self, name: str, template: str | None = None) -> str: ...

    def drop_database(self, name: str) -> None: ...


class ScratchDatabases(abc.ABC):
    """How ``dualdb.testing`` makes, copies, drops and empties this backend's test
    databases (a backend's role like :class:`MigrationBackend`: the testing package itself
    knows no backend)."""

    #: Whether databases live on a server (``dualdb.testing`` then starts or reaches one).
    needs_server: ClassVar[bool] = False

    def __init__(self, folder: Path, server: Callable[[], DatabaseServer]) -> None:
        self.folder = folder
        self._server = server

    @abc.abstractmethod
    def create(self, name: str) -> str:
        """The URL of a new, empty database."""

    @abc.abstractmethod
    def copy(self, template_url: str, name: str, folder: Path) -> str:
        """The URL of a new database holding what ``template_url`` holds; ``folder`` holds
        it if the backend keeps databases in files."""

    @abc.abstractmethod
    def drop(self, url: str) -> None:
        """Remove a database made by :meth:`create` or :meth:`copy`."""

    @abc.abstractmethod
    def empty_tables(self, url: str, keep: Callable[[str], bool]) -> list[str]:
        """Delete every row of every table except those ``keep`` names (the bookkeeping
        tables of yoyo and dualdb: the database stays migrated); return the tables."""


class Backups(abc.ABC):
    """How ``dualdb backup``/``restore`` copy this backend's database to and from a file
    (a backend's role like :class:`ScratchDatabases`): the file naming, the manifest, the
    checksum and the refusal to restore over tables are generic, in ``dualdb._backup``."""

    #: The backup file's extension, without the dot.
    suffix: ClassVar[str]

    @abc.abstractmethod
    def dump(self, settings: Settings, path: Path) -> dict[str, int]:
        """Write a consistent copy of the database to ``path`` while writers go on;
        return the row count of each table as of that copy."""

    @abc.abstractmethod
    def restore(self, settings: Settings, path: Path, *, replace: bool) -> None:
        """Load ``path`` into the database, all or nothing; ``replace``: its tables may
        exist already (the caller checked with :meth:`row_counts` otherwise)."""

    @abc.abstractmethod
    def row_counts(self, settings: Settings) -> dict[str, int]:
        """The row count of each table of the database (empty: no tables, or no database
        file yet)."""


class Dialect(abc.ABC):
    """How one backend renders, converts and runs queries."""

    name: ClassVar[str]
    #: The database lives in a local file the application opens itself (SQLite): a
    #: development database. Every "refuse in production unless told" guard (seeds, reset,
    #: unencrypted tokens) reads this flag, never a backend name.
    is_embedded: ClassVar[bool]
    #: The attribute of a query object that caches its SQL for this dialect.
    cache_attribute: ClassVar[str]

    #: How this backend writes what its SQL spells differently (see :class:`Compiler`).
    compiler: ClassVar[Compiler]
    #: PostgreSQL can refer to ``$1`` twice; SQLite's ``?`` needs a value per occurrence.
    reuses_placeholders: ClassVar[bool]
    #: The isolation levels this backend really gives. A request for another level runs
    #: at the weakest served level that is stronger, or is refused if there is none
    #: (see :meth:`isolation_for`).
    isolation_levels: ClassVar[frozenset[IsolationLevel]]
    column_types: ClassVar[dict[str, str]]
    #: How identifiers are quoted (a quote inside a name is doubled).
    quote_char: ClassVar[str] = '"'
    #: Prefix that turns a statement into a query-plan query.
    explain_prefix: ClassVar[str]
    #: A one-row query naming the server version (used by ``health()``).
    version_query: ClassVar[str]
    #: Read replicas: a one-value query on the primary giving a position in its change
    #: stream at or after every commit it has made (an int), and a one-row query on a
    #: replica giving ``(replayed position, lag in seconds, still a replica)``. None: the
    #: backend has no replicas, and ``db.replica`` reads the database itself.
    write_position_query: ClassVar[str | None] = None
    replica_state_query: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            cls.cache_attribute = f"_dualdb_compiled_{cls.name}"

    def isolation_for(self, requested: str) -> IsolationLevel:
        """The level a transaction asking for ``requested`` runs at: the weakest level
        this backend gives that is at least as strong. A stronger level keeps every
        guarantee of a weaker one; a weaker one would silently lose some, so it is
        refused. "READ COMMITTED" and "read_committed" are the same request."""
        name = requested.strip().lower().replace(" ", "_") if isinstance(requested, str) else ""
        if name not in ISOLATION_LEVELS:
            raise QueryError(
                f"isolation must be one of {', '.join(ISOLATION_LEVELS)}; got {requested!r}"
            )
        for level in ISOLATION_LEVELS[ISOLATION_LEVELS.index(name) :]:
            if level in self.isolation_levels:
                return level
        raise UnsupportedFeature(
            f"isolation level {requested}",
            self.name,
            f"this backend gives {', '.join(sorted(self.isolation_levels))}",
        )

    def statement_state(self, query: Any) -> object:
        """What this backend's driver keeps about one statement, worked out once when the
        query is compiled and carried in :attr:`Compiled.state` (e.g. where SQLite's
        result columns come from, to decode them by declared type). None by default."""
        return None

    @abc.abstractmethod
    def placeholder(self, position: int) -> str:
        """The placeholder for the argument at 1-based ``position``."""

    @abc.abstractmethod
    async def connect(self, settings: Settings, on_connect: OnConnect | None = None) -> Driver:
        """Open the pool; raise :class:`~dualdb.errors.ConnectionFailed` if unreachable.
        ``on_connect`` runs on every new driver connection, after dualdb's own set-up."""

    @abc.abstractmethod
    def migrations(self) -> MigrationBackend:
        """The migration tooling's view of this backend (imported on first use: the
        application's hot path never loads yoyo)."""

    def scratch_databases(self) -> type[ScratchDatabases] | None:
        """How ``dualdb.testing`` makes this backend's test databases; None when it cannot
        (a third-party dialect that does not say)."""
        return None

    def backups(self) -> Backups | None:
        """How ``dualdb backup``/``restore`` work on this backend; None when they cannot
        (a third-party dialect that does not say)."""
        return None

    def column_type(self, logical: str) -> str:
        """The declared column type for a portable type name (see ``LOGICAL_TYPES``, and
        ``LOGICAL_TYPE_ALIASES``: ``numeric`` is another name for ``decimal``)."""
        found = self.column_types.get(LOGICAL_TYPE_ALIASES.get(logical, logical))
        if found is None:
            raise QueryError(
                f"unknown logical type {logical!r}; expected one of {', '.join(LOGICAL_TYPES)}"
            )
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class Compiler:
    """How one backend writes the SQL constructs whose text differs between backends.

    dualdb renders queries with PyPika's PostgreSQL builder; at each point where backends
    differ, dualdb's builder (:mod:`dualdb.query`) and its hooks on PyPika's terms
    (:mod:`dualdb.sql._render`) ask the dialect's compiler, as Kysely's dialects override
    its ``DefaultQueryCompiler``. The defaults write PostgreSQL's text; a backend overrides
    what it writes differently and lists what it cannot run, which is refused with
    :class:`~dualdb.errors.UnsupportedFeature` before anything is sent.

    Compilers are stateless: one instance serves every compilation of its dialect.
    """

    __slots__ = ("dialect",)

    #: Comparison operators (LIKE's relatives) this backend does not have.
    unsupported_matching: ClassVar[frozenset[Matching]] = frozenset()
    #: Upper-case function names this backend does not have, with a hint for each
    #: ("" for none).
    unsupported_functions: ClassVar[dict[str, str]] = {}
    #: Constructs, by the names the renderer checks ("DISTINCT ON"), this backend does
    #: not have, with a hint for each.
    unsupported_constructs: ClassVar[dict[str, str]] = {}
    #: Whether the renderer marks the places whose SQL depends on a column's type
    #: (:class:`~dualdb.sql._target.Spot`), for the driver to write once it knows the
    #: types: a backend that types values by their column, as PostgreSQL does, needs none.
    typed_spots: ClassVar[bool] = False
    #: Whether the renderer aliases each unaliased expression of a select list (or a
    #: RETURNING clause) with the name PostgreSQL gives it ("count", "?column?"): a
    #: backend that names an expression by its text, as SQLite does, needs it.
    names_expressions: ClassVar[bool] = False

    def __init__(self, dialect: str) -> None:
        #: The dialect's name, for the errors the checks raise.
        self.dialect = dialect

    def nulls(self, order: Order | None) -> str:
        """The suffix of an ORDER BY term (``order`` None: no direction given) that sorts
        NULLs as PostgreSQL does: last ascending, first descending."""
        return ""

    def limit(self, count: str) -> str:
        """The LIMIT clause; ``count`` is a number or a placeholder, already checked."""
        return f" LIMIT {count}"

    def offset(self, count: str, *, limited: bool) -> str:
        """The OFFSET clause, written after the LIMIT clause when ``limited``, else where
        that clause would be; ``count`` is a number or a placeholder, already checked."""
        return f" OFFSET {count}"

    def modulo(self, left: str, right: str) -> str:
        """PyPika's ``a % b`` (its ``Mod`` term): the integer remainder of PostgreSQL's
        ``MOD()``, for operands already rendered (the right one as ``divisor`` writes it)."""
        return f"MOD({left},{right})"

    def divisor(self, right: str, dividend: str) -> str | None:
        """The divisor of a division or remainder (rendered; ``dividend`` is the left
        operand rendered again) so that dividing by zero is an error, as on PostgreSQL,
        where a NULL dividend gives NULL; None when the backend raises one already."""
        return None

    def literal(self, placeholder: str, value: Any) -> str:
        """The placeholder of a literal that meets nothing typed (it stands alone in a
        select list, or is a function's argument), written so that the server types it as
        it would type the literal written inline: PostgreSQL cannot type a parameter
        there (``SELECT $1`` is text, ``SUM($1)`` is ambiguous), where ``SELECT 1`` is
        an integer."""
        written = _INLINE_TYPES.get(literal_type(value) or "")
        return f"{placeholder}::{written}" if written else placeholder

    def parenthesize_set_members(self, members: Sequence[Any]) -> bool:
        """Whether the SELECTs of a UNION/INTERSECT/EXCEPT (``members``, PyPika builders)
        are written in parentheses; may refuse members the bare form cannot express."""
        return True

    def bare_set_member(self, member: Any) -> Any:
        """A member of a set operation written without parentheses (a PyPika builder):
        as it is, or a query the bare form can express that gives its rows."""
        return member

    def function(self, name: str, *, window: bool = False) -> str:
        """The name to call an aggregate or scalar function ``name`` (upper case) by, or
        a window function (``window``, with OVER): a backend may put its own in place of
        one that answers differently."""
        return name

    def returning_star(self, sql: str) -> str:
        """A ``table.*`` in a RETURNING clause (rendered)."""
        return sql

    def for_update(self, clause: str) -> str:
        """A SELECT's locking clause as PyPika wrote it (``" FOR UPDATE …"``, or ``""``),
        as this backend writes it."""
        return clause

    def check_matching(self, comparator: Matching) -> None:
        if comparator in self.unsupported_matching:
            construct = _MATCHING_NAMES.get(comparator, comparator.name.upper())
            raise UnsupportedFeature(construct, self.dialect, _matching_hint(comparator))

    def check_function(self, name: str) -> None:
        hint = self.unsupported_functions.get(name.upper())
        if hint is not None:
            raise UnsupportedFeature(f"function {name.upper()}()", self.dialect, hint or None)

    def check_construct(self, construct: str) -> None:
        if construct in self.unsupported_constructs:
            raise UnsupportedFeature(
                construct, self.dialect, self.unsupported_constructs[construct] or None
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dialect}>"


class MigrationBackend(abc.ABC):
    """What the migration tooling (yoyo underneath, the ``dualdb`` CLI) needs of a backend.

    The tooling is synchronous and works on yoyo's backend objects over DB-API connections;
    a backend object knows its dialect by its ``dialect`` attribute (the dialect name).
    """

    #: The dialect name, as in :attr:`Dialect.name`.
    name: ClassVar[str]

    @abc.abstractmethod
    def open(self, settings: Settings, *, read_only: bool) -> tuple[Any, bool]:
        """A connected yoyo backend for ``settings`` and whether the database existed.

        ``read_only`` creates nothing (no file, no folder). Raises
        :class:`~dualdb.errors.ConnectionFailed` or
        :class:`~dualdb.errors.ConfigurationError`, never with a password in the message.
        """

    @abc.abstractmethod
    def owns(self, connection: Any) -> bool:
        """Whether ``connection`` (a DB-API connection yoyo hands to a step) is ours."""

    @abc.abstractmethod
    def is_driver_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` was raised by this backend's DB-API driver."""

    def is_connection_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the connection broke (the CLI's "unreachable" exit)."""
        return self.is_driver_error(exc) and type(exc).__name__ == "OperationalError"

    def prepare(self, backend: Any) -> None:
        """Make a connection obey the same rules as the application's (outside a
        transaction; e.g. SQLite's foreign keys, off by default). Nothing by default."""
        return None

    @abc.abstractmethod
    def drop_everything(self, backend: Any, *, keep: frozenset[str]) -> list[str]:
        """Drop every application object but the tables in ``keep``, in one transaction;
        return what was dropped."""

    @abc.abstractmethod
    def introspect(self, backend: Any) -> Schema:
        """The live application schema (bookkeeping tables left out)."""

    @abc.abstractmethod
    def logical_type(self, declared: str) -> str:
        """The logical type of a column type as the catalog reports it, or
        ``"<dialect>:<declared>"`` for a type outside the vocabulary (it then never equals
        a logical type, so a snapshot comparison reports it)."""

    def migration_lock(
        self, backend: Any, *, timeout: float, break_lock: bool, echo: Callable[[str], None]
    ) -> AbstractContextManager[None]:
        """The migration lock, held so that the server or the operating system frees it
        when this process dies (see :mod:`dualdb.migrate.locking`). By default yoyo's own
        lock row, which a killed run leaves behind."""
        from dualdb.migrate.locking import yoyo_row_lock

        return yoyo_row_lock(backend, timeout=timeout, break_lock=break_lock, echo=echo)

    def running_migration(self, backend: Any) -> LockInfo | None:
        """A dualdb run holding the migration lock in a form yoyo's row does not show
        (see :meth:`migration_lock`), or None."""
        return None

    def left_by_killed_run(self, backend: Any, holder: LockInfo) -> bool:
        """Whether yoyo's lock row ``holder`` was left by a dualdb run that died holding it,
        which the next run removes by itself (the lock is free: no run is going on)."""
        return False

    def scratch_settings(self, folder: str) -> Settings | None:
        """Settings of a throwaway database in ``folder``, for a backend that can make one
        without a server (what ``dualdb schema dump`` applies migrations to); else None."""
        return None


#: PostgreSQL's name of each logical type a literal may have (see ``literal_type``).
_INLINE_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "bigint": "bigint",
    "float": "double precision",
    "decimal": "numeric",
}


def _matching_hint(comparator: Matching) -> str | None:
    if comparator in (Matching.ilike, Matching.not_ilike):
        return (
            "compare lower-cased values with LIKE (e.g. fn.Lower(col).like(...)), on both backends"
        )
    return None
