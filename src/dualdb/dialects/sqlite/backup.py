"""SQLite backups through the online backup API (``sqlite3.Connection.backup``).

The copy is taken inside one read transaction on the source: in WAL mode writers go on
meanwhile, the copy is the snapshot that transaction began with, and the backup never
restarts however busy the writers are (without it, a write between two steps makes
SQLite start the copy over). It proceeds in steps of :data:`PAGES_PER_STEP` pages, so a
caller running it in a thread (``asyncio.to_thread``) lets the GIL go between steps.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import ClassVar

from dualdb.dialects.base import Backups
from dualdb.errors import BackupError, ConfigurationError
from dualdb.settings import Settings

__all__ = ["PAGES_PER_STEP", "SQLiteBackups"]

PAGES_PER_STEP = 1024
_NAME = "sqlite"


def _database_file(settings: Settings) -> Path:
    if settings.sqlite_file == ":memory:" or settings.sqlite_file.startswith("file:"):
        raise ConfigurationError(
            "backups need a SQLite database file, not an in-memory database",
            variable="SQLITE_FILE",
        )
    return Path(settings.sqlite_file)


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    counts = {}
    for table in _tables(conn):
        quoted = table.replace('"', '""')
        counts[table] = int(conn.execute(f'SELECT count(*) FROM "{quoted}"').fetchone()[0])
    return counts


def _failed(action: str, exc: sqlite3.Error) -> BackupError:
    # sqlite3's messages name no values, only the failure ("database is locked" …).
    return BackupError(f"{action} failed: {exc}", dialect=_NAME)


class SQLiteBackups(Backups):
    suffix: ClassVar[str] = "sqlite"

    def dump(self, settings: Settings, path: Path) -> dict[str, int]:
        source_file = _database_file(settings)
        if not source_file.is_file():
            raise BackupError(f"no database file at {source_file}", dialect=_NAME)
        try:
            with (
                closing(sqlite3.connect(source_file, isolation_level=None)) as source,
                closing(sqlite3.connect(path, isolation_level=None)) as target,
            ):
                source.execute(f"PRAGMA busy_timeout = {int(settings.sqlite_busy_timeout * 1000)}")
                source.execute("BEGIN")
                source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
                source.backup(target, pages=PAGES_PER_STEP)
                source.execute("COMMIT")
                # One self-contained file (the copy inherits WAL mode from its source).
                target.execute("PRAGMA journal_mode = DELETE")
                return _counts(target)
        except sqlite3.Error as exc:
            raise _failed("backup", exc) from None

    def restore(self, settings: Settings, path: Path, *, replace: bool) -> None:
        target_file = _database_file(settings)
        target_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            with (
                closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as source,
                closing(sqlite3.connect(target_file, isolation_level=None)) as target,
            ):
                target.execute(f"PRAGMA busy_timeout = {int(settings.sqlite_busy_timeout * 1000)}")
                # One step: the target is written in one transaction, so a failure or a
                # crash midway leaves it as it was, never half-restored.
                source.backup(target, pages=-1)
                target.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise _failed("restore", exc) from None

    def row_counts(self, settings: Settings) -> dict[str, int]:
        target_file = _database_file(settings)
        if not target_file.is_file():
            return {}
        try:
            with closing(sqlite3.connect(target_file, isolation_level=None)) as conn:
                return _counts(conn)
        except sqlite3.Error as exc:
            raise _failed("reading the database", exc) from None
