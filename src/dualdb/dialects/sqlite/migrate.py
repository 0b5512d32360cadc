"""SQLite for the migration tooling: yoyo's backend adjusted, introspection, drop-all.

The yoyo backend here works on a plain file connection (no shared cache, whose table locks
fail at once instead of waiting), with dualdb's busy timeout and no declared-type
converters. Dates and datetimes bound on that connection (yoyo's bookkeeping, a Python
migration's or a seed's own statements) are turned into the text ``sqlite3``'s default
adapters wrote (``str(value)``) before ``sqlite3`` sees them: those adapters are deprecated
since Python 3.12, and the conversion belongs to this connection only (``sqlite3`` has no
per-connection adapters, so it is a cursor and connection class of its own). yoyo's
backend registers a process-wide adapter of its own (ISO text with a ``T``) whenever it is
used as a context manager, as for a non-transactional migration, and never really removes
it; dualdb's does not. Foreign keys stay off while migrating, as under plain yoyo:
SQLite's table rebuild recipe (create, copy, drop, rename) would otherwise cascade-delete
child rows.

Introspection details that matter: a non-INTEGER ``PRIMARY KEY`` column is nullable unless
declared ``NOT NULL`` (reported as such, so the snapshot catches it), while an ``INTEGER
PRIMARY KEY`` rowid alias can never be NULL; expression indexes appear in ``PRAGMA
index_xinfo`` only as ``cid = -2``, so their expressions are read from the ``CREATE INDEX``
text in ``sqlite_master``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from yoyo.backends.core.sqlite3 import SQLiteBackend as _YoyoSQLiteBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import default_migration_table

from dualdb.dialects.base import MigrationBackend
from dualdb.dialects.sqlite.codec import kind_of
from dualdb.dialects.sqlite.dialect import NAME
from dualdb.dialects.sqlite.driver import prepare_file
from dualdb.dialects.sqlite.introspect import introspect, logical_type
from dualdb.errors import ConfigurationError, ConnectionFailed
from dualdb.migrate.backends import AfterChange, AtomicMigrations, drop_listed
from dualdb.migrate.locking import LockInfo, held, lock_holder, yoyo_row_lock
from dualdb.migrate.schema import (
    Schema,
)
from dualdb.settings import Settings

__all__ = ["SQLiteBackend", "SQLiteMigrations"]


def _as_stored(value: object) -> object:
    """``value``, or for a date or datetime the text ``sqlite3``'s default adapter stored for
    it (``isoformat()``, with a space before a datetime's time: ``str(value)``).

    Only the two exact types: the default adapters are looked up by exact type, so a
    subclass was never theirs (it adapts itself, or is refused, as before).
    """
    if type(value) is datetime:
        return value.isoformat(" ")
    if type(value) is date:
        return value.isoformat()
    return value


def _as_stored_params(parameters: Any) -> Any:
    """Bound parameters (a mapping or a sequence) with :func:`_as_stored` applied."""
    if isinstance(parameters, Mapping):
        return {key: _as_stored(value) for key, value in parameters.items()}
    if isinstance(parameters, (list, tuple)):
        return [_as_stored(value) for value in parameters]
    return parameters  # (anything else: sqlite3 refuses or reads it as before)


class _Cursor(sqlite3.Cursor):
    """A cursor whose bound dates and datetimes never reach ``sqlite3``'s default adapter."""

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        return super().execute(sql, _as_stored_params(parameters))

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Self:
        return super().executemany(sql, (_as_stored_params(p) for p in seq_of_parameters))


class _Connection(sqlite3.Connection):
    """The connection dualdb opens for yoyo: its cursors are :class:`_Cursor` (its own
    ``execute`` and ``executemany`` skip ``cursor()``, so they go through one here)."""

    # (typeshed's overloads return the factory's own cursor type; this one returns a Cursor)
    def cursor(  # type: ignore[override]
        self, factory: Callable[[sqlite3.Connection], sqlite3.Cursor] | None = None
    ) -> sqlite3.Cursor:
        return super().cursor(factory or _Cursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)


class SQLiteBackend(AtomicMigrations, _YoyoSQLiteBackend):  # type: ignore[misc]
    """yoyo's SQLite backend on a plain file connection; see the module docstring."""

    dialect = NAME
    after_change: AfterChange | None = None

    def connect(self, dburi: Any) -> sqlite3.Connection:
        timeout = float(dburi.args.get("timeout", 5.0))
        return sqlite3.connect(
            dburi.database, timeout=timeout, isolation_level=None, factory=_Connection
        )

    def __enter__(self) -> Self:
        # yoyo's SQLite backend registers its datetime adapter and timestamp converter
        # process-wide here (and its __exit__ cannot take them back: it rebinds the
        # module's attributes, not the dicts sqlite3 reads). This connection binds
        # datetimes itself and parses no declared types: neither is needed.
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def _check_transactional_ddl(self) -> bool:
        return True

    def inexact_columns(self) -> dict[str, str]:
        # A decimal type without TEXT has NUMERIC affinity, which stores 9.00 as 9 and
        # keeps 15 digits; dualdb refuses every write into such a column.
        found = {}
        tables = self.execute(_TABLES).fetchall()
        for (table,) in tables:
            quoted = self.quote_identifier(table)
            for row in self.execute(f"PRAGMA table_xinfo({quoted})").fetchall():
                column, declared = row[1], row[2] or ""
                if kind_of(declared) == "numeric affinity":
                    found[f"{table}.{column}"] = (
                        f"SQLite would round its decimals (it declares {declared}, which has "
                        "NUMERIC affinity): declare it DECIMAL TEXT on SQLite, e.g. with "
                        "{decimal} in typed_sql"
                    )
        return found


class SQLiteMigrations(MigrationBackend):
    name: ClassVar[str] = NAME

    def open(self, settings: Settings, *, read_only: bool) -> tuple[Any, bool]:
        path = settings.sqlite_file
        if path == ":memory:":
            raise ConfigurationError(
                "migrations need a SQLite database file; ':memory:' would vanish when the "
                "command exits (set SQLITE_FILE or --database sqlite:///path/to/app.db)",
                variable="SQLITE_FILE",
            )
        existed = Path(path).exists()
        if read_only and not existed:
            # Nothing applied, without creating the file: a private in-memory database.
            path = ":memory:"
        elif not existed:
            prepare_file(settings, migrating=True)
        uri = DatabaseURI(
            scheme="sqlite",
            username=None,
            password=None,
            hostname=None,
            port=None,
            database=path,
            args={"timeout": str(settings.sqlite_busy_timeout)},
        )
        try:
            backend = SQLiteBackend(uri, default_migration_table)
        except sqlite3.Error as exc:
            raise ConnectionFailed(
                f"cannot open {settings.display_url()}: {exc}", dialect=NAME
            ) from exc
        try:
            backend.execute("SELECT count(*) FROM sqlite_master").fetchall()
        except sqlite3.Error as exc:
            backend.connection.close()
            raise ConnectionFailed(
                f"cannot use {settings.display_url()}: {exc}", dialect=NAME
            ) from exc
        if not read_only:
            # As the application's connections do: readers then never block on a
            # migration, and a writer waits (busy timeout) rather than failing at once.
            with contextlib.suppress(sqlite3.OperationalError):  # (busy: keep the mode)
                backend.connection.execute("PRAGMA journal_mode = WAL")
        return backend, existed

    def owns(self, connection: Any) -> bool:
        return isinstance(connection, sqlite3.Connection)

    def is_driver_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)

    def prepare(self, backend: Any) -> None:
        # ON DELETE CASCADE works only with this on (off by default, per connection);
        # SQLite ignores the pragma inside a transaction.
        backend.connection.execute("PRAGMA foreign_keys = ON")

    def drop_everything(self, backend: Any, *, keep: frozenset[str]) -> list[str]:
        # Off, so that dropping a parent table neither cascades nor fails on its children.
        backend.connection.execute("PRAGMA foreign_keys = OFF")
        objects = backend.execute(_OBJECTS).fetchall()
        return drop_listed(
            backend,
            (
                (kind, name, f"DROP {kind.upper()} IF EXISTS {backend.quote_identifier(name)}")
                for kind, name in objects
            ),
            keep=keep,
        )

    def introspect(self, backend: Any) -> Schema:
        return introspect(backend)

    def logical_type(self, declared: str) -> str:
        return logical_type(declared)

    @contextmanager
    def migration_lock(
        self, backend: Any, *, timeout: float, break_lock: bool, echo: Callable[[str], None]
    ) -> Iterator[None]:
        """An OS lock (``flock``) on ``<database>-migrate.lock`` beside the database,
        then yoyo's lock row. The kernel frees the file lock when its process dies, in
        any container sharing the volume; the file names the run that holds it. Holding
        the file lock, a yoyo row that the file says a dualdb run wrote was left by a
        run that died: it is removed. Any other row (plain yoyo's) is waited for."""
        if backend.uri.database == ":memory:":  # (nothing to share a private database with)
            yield
            return
        path = _lock_file(backend)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._flock(fd, timeout, echo)
            left = _read_owner(fd)
            holder = lock_holder(backend)
            if holder is not None and left is not None and left.get("pid") == holder.pid:
                backend.break_lock()
                echo(
                    f"Removed the migration lock left by {holder.describe()} on "
                    f"{left.get('host', '?')}, a run that ended without releasing it."
                )
            with yoyo_row_lock(backend, timeout=timeout, break_lock=break_lock, echo=echo):
                _write_owner(fd, {"pid": os.getpid(), "host": socket.gethostname()})
                try:
                    yield
                finally:
                    _write_owner(fd, None)
        finally:
            os.close(fd)  # (frees the file lock)

    def _flock(self, fd: int, timeout: float, echo: Callable[[str], None]) -> None:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            owner = _read_owner(fd) or {}
            holder = LockInfo(int(owner.get("pid", 0)), None)
            if time.monotonic() >= deadline:
                raise held(holder, timeout, live=True)
            if not waiting:
                echo(
                    f"Waiting up to {timeout:g} s for the migration lock held by "
                    f"{holder.describe()} on {owner.get('host', '?')}…"
                )
                waiting = True
            time.sleep(0.2)

    def running_migration(self, backend: Any) -> LockInfo | None:
        held, owner = _probe(backend)
        return LockInfo(int((owner or {}).get("pid", 0)), None) if held else None

    def left_by_killed_run(self, backend: Any, holder: LockInfo) -> bool:
        held, owner = _probe(backend)
        return not held and owner is not None and owner.get("pid") == holder.pid

    def scratch_settings(self, folder: str) -> Settings:
        return Settings(backend=NAME, sqlite_file=str(Path(folder) / "scratch.db"))


def _lock_file(backend: Any) -> str:
    """The file whose OS lock guards the migration lock (see ``migration_lock``)."""
    return f"{backend.uri.database}-migrate.lock"


def _probe(backend: Any) -> tuple[bool, dict[str, Any] | None]:
    """Whether a run holds the lock file's OS lock now, and whom the file names (the
    holder, or the run that died holding it)."""
    try:
        fd = os.open(_lock_file(backend), os.O_RDONLY)
    except OSError:
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, _read_owner(fd)
        return False, _read_owner(fd)
    finally:
        os.close(fd)


def _read_owner(fd: int) -> dict[str, Any] | None:
    """Who the lock file says holds the lock (or held it, if it died holding it)."""
    try:
        text = os.pread(fd, 4096, 0).decode()
        owner = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _write_owner(fd: int, owner: dict[str, Any] | None) -> None:
    os.ftruncate(fd, 0)
    if owner is not None:
        os.pwrite(fd, json.dumps(owner).encode(), 0)
    os.fsync(fd)


_TABLES = """
    SELECT name FROM sqlite_master
    WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name
"""

_OBJECTS = """
    SELECT type, name FROM sqlite_master
    WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
    ORDER BY type DESC, name
"""
