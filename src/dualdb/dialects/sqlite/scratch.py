"""SQLite test databases for ``dualdb.testing``: a database is a file, a copy a file copy."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from dualdb.dialects.base import ScratchDatabases

__all__ = ["SQLiteScratchDatabases"]


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


class SQLiteScratchDatabases(ScratchDatabases):
    def create(self, name: str) -> str:
        return f"sqlite:///{self.folder / f'{name}.db'}"

    def copy(self, template_url: str, name: str, folder: Path) -> str:
        target = folder / f"{name}.db"
        shutil.copyfile(_path(template_url), target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        path = _path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    def empty_tables(self, url: str, keep: Callable[[str], bool]) -> list[str]:
        with closing(sqlite3.connect(_path(url), isolation_level=None)) as conn:
            names = [
                str(row[0])
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            tables = [name for name in names if not keep(name)]
            conn.execute("BEGIN IMMEDIATE")
            # Every table is empty at COMMIT, when deferred foreign keys are checked: the
            # order of the deletes does not matter.
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for table in tables:
                conn.execute(f'DELETE FROM "{table.replace(chr(34), chr(34) * 2)}"')
            has_sequence = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
            ).fetchone()
            if has_sequence and tables:
                marks = ",".join("?" * len(tables))
                conn.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({marks})", tables)
            conn.execute("COMMIT")
        return tables
