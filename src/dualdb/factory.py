"""``connect()``: settings → an open :class:`~dualdb.Database`, plus an app-wide accessor."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from dualdb._rollback import pinned
from dualdb.database import Database
from dualdb.dialects import get_dialect
from dualdb.dialects.base import OnConnect
from dualdb.errors import ConfigurationError, QueryError
from dualdb.settings import Settings, load_settings

__all__ = ["close_database", "connect", "get_database"]


class _Connect:
    """Both ``await connect()`` and ``async with connect() as db:`` (which closes it)."""

    def __init__(
        self, settings: Settings, on_connect: OnConnect | None, force_rollback: bool
    ) -> None:
        self._settings = settings
        self._on_connect = on_connect
        self._force_rollback = force_rollback
        self._db: Database | None = None

    async def _open(self) -> Database:
        dialect = get_dialect(self._settings.backend)
        replicas = self._settings.replica_settings()
        if replicas and dialect.replica_state_query is None:
            raise ConfigurationError(
                f"{dialect.name} has no read replicas (db.replica reads the database itself "
                "there): remove DATABASE_REPLICA_URLS",
                variable="DATABASE_REPLICA_URLS",
            )
        driver = await dialect.connect(self._settings, self._on_connect)
        if self._force_rollback:
            # Everything on one connection, the replicas' reads too: they must see it.
            driver = await pinned(driver, dialect.name)
            replicas = ()
        opened = []
        try:
            for settings in replicas:
                opened.append((settings, await dialect.connect(settings, self._on_connect)))
        except BaseException:
            for _, replica in opened:
                await replica.close()
            await driver.close()
            raise
        return Database(self._settings, dialect, driver, opened)

    def __await__(self) -> Generator[Any, None, Database]:
        return self._open().__await__()

    async def __aenter__(self) -> Database:
        self._db = await self._open()
        return self._db

    async def __aexit__(self, *exc: object) -> None:
        if self._db is not None:
            await self._db.close()

    if not TYPE_CHECKING:  # type checkers should still see the missing attribute

        def __getattr__(self, name: str) -> Any:
            # ``db = connect(url); await db.fetch_one(…)``: a missing ``await`` otherwise
            # surfaces as "'_Connect' object has no attribute 'fetch_one'".
            if name.startswith("_"):
                raise AttributeError(name)
            raise QueryError(
                f"connect() opens the database: write `db = await connect(...)` or "
                f"`async with connect(...) as db:` before calling db.{name}"
            )


def connect(
    url: str | None = None,
    /,
    *,
    settings: Settings | None = None,
    on_connect: OnConnect | None = None,
    force_rollback: bool = False,
    **options: Any,
) -> _Connect:
    """Open a Database from ``url``, ``settings``, or the environment and ``.env``.

    ``options`` override single settings by field name (e.g. ``pool_max_size=5``). With
    no arguments: ``DB_TYPE``/``DATABASE_URL``/``SQLITE_FILE``… (see ``.env.example``),
    defaulting to SQLite at ``./data/app.db``. ``on_connect`` is awaited with every new
    driver connection (``asyncpg.Connection``, ``aiosqlite.Connection``) after dualdb's
    own set-up: register a type codec (pgvector), load an extension, set a session
    parameter every connection needs. Raises ConfigurationError for bad settings
    and ConnectionFailed if the database cannot be reached within the connect timeout.

    ``force_rollback=True`` is for tests: the Database runs everything on one connection,
    inside a transaction that ``close()`` rolls back, so nothing the code under test writes
    outlives it, though its own ``transaction()`` blocks (savepoints now) commit and roll
    back as usual. Code that opens connections of its own does not see that work.
    """
    if settings is None:
        settings = load_settings(url=url, **options)
    elif url is not None or options:
        settings = (
            settings.with_options(**options) if url is None else load_settings(url=url, **options)
        )
    return _Connect(settings, on_connect, force_rollback)


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Database] = (
    weakref.WeakKeyDictionary()
)
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def get_database() -> Database:
    """The application's one Database, opened from the environment on first use.

    One per event loop (a pool is bound to the loop that made it). Close it at shutdown
    with :func:`close_database`.
    """
    loop = asyncio.get_running_loop()
    db = _shared.get(loop)
    if db is not None:
        return db
    lock = _locks.setdefault(loop, asyncio.Lock())
    async with lock:
        db = _shared.get(loop)
        if db is None:
            db = await connect()
            _shared[loop] = db
    return db


async def close_database() -> None:
    """Close the Database made by :func:`get_database` (a no-op if there is none)."""
    db = _shared.pop(asyncio.get_running_loop(), None)
    if db is not None:
        await db.close()
