"""Migrated test databases: a template per backend and session, and cheap copies of it.

Migrating is the slow part of a test database, so it happens once per session, into a
template; every test that needs a database of its own gets a copy (a file copy on SQLite,
``CREATE DATABASE … TEMPLATE`` on PostgreSQL), and the ``truncate`` isolation empties the
application's tables instead of copying.

How each backend makes, copies, drops and empties a database lives in one small class per
backend, registered by dialect name in :data:`STORES` (as the suite's own ``FRESH_DATABASE``
does): a backend added to dualdb adds its class here.
"""

from __future__ import annotations

import abc
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dualdb.errors import HarnessError
from dualdb.settings import load_settings
from dualdb.testing._cluster import PostgresServer, dbname_from_url

__all__ = ["STORES", "DatabaseTemplate", "Store", "migration_sources"]


def migration_sources(root: Path, given: Sequence[str | Path] = ()) -> list[Path]:
    """The migrations folders a test session applies, in order (upstream first).

    ``given`` (``--dualdb-migrations``, the ``dualdb_migrations`` ini value), relative to
    ``root``; else the ``sources`` of ``root/yoyo.ini``, as plain ``yoyo`` and the ``dualdb``
    command read them (``package:dualdb:migrations`` included); else ``root/migrations`` if
    it exists; else none (the databases stay empty).
    """
    # (dualdb.migrate loads yoyo: only once a session has a database to migrate)
    from dualdb.migrate.source import YOYO_INI, folders_from, sources_of_yoyo_ini

    specs = [str(entry) for entry in given] or sources_of_yoyo_ini(root / YOYO_INI)
    if not specs:
        return [root / "migrations"] if (root / "migrations").is_dir() else []
    return list(folders_from(specs, base=root).all)


def migrate(url: str, sources: Sequence[Path]) -> None:
    """Apply every migration of ``sources`` to ``url`` with dualdb's runner, quietly (its
    errors say what failed). The environment and ``.env`` play no part: the test database
    is the URL alone."""
    from dualdb.migrate import Runner  # yoyo, loaded when a test first needs a database
    from dualdb.migrate.source import Folders

    if not sources:
        return
    settings = load_settings({}, env_file=None, url=url)
    folders = Folders(sources[-1], tuple(sources[:-1]))
    Runner(settings, folders, echo=lambda _line: None, warn=lambda _line: None).migrate()


def is_bookkeeping(table: str) -> bool:
    from dualdb.migrate.introspect import is_bookkeeping as bookkeeping

    return bookkeeping(table)


class Store(abc.ABC):
    """How one backend's test databases are made, copied, dropped and emptied."""

    #: Whether it needs the PostgreSQL server (a throwaway cluster, or the given URL).
    needs_server: ClassVar[bool] = False

    def __init__(self, folder: Path, server: Callable[[], PostgresServer]) -> None:
        self.folder = folder
        self._server = server

    @abc.abstractmethod
    def create(self, name: str) -> str:
        """The URL of a new, empty database."""

    @abc.abstractmethod
    def copy(self, template_url: str, name: str, folder: Path) -> str:
        """The URL of a new database holding what ``template_url`` holds."""

    @abc.abstractmethod
    def drop(self, url: str) -> None:
        """Remove a database made by :meth:`create` or :meth:`copy`."""

    @abc.abstractmethod
    def empty_tables(self, url: str) -> list[str]:
        """Delete every row of every application table (not the bookkeeping tables of
        yoyo and dualdb: the database stays migrated); return the tables."""


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


class SQLiteStore(Store):
    """A database is a file; a copy is a copy of the file."""

    def create(self, name: str) -> str:
        return f"sqlite:///{self.folder / f'{name}.db'}"

    def copy(self, template_url: str, name: str, folder: Path) -> str:
        target = folder / f"{name}.db"
        shutil.copyfile(_sqlite_path(template_url), target)
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        path = _sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    def empty_tables(self, url: str) -> list[str]:
        with closing(sqlite3.connect(_sqlite_path(url), isolation_level=None)) as conn:
            names = [
                str(row[0])
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            tables = [name for name in names if not is_bookkeeping(name)]
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


class PostgresStore(Store):
    """A database on the session's server; a copy is ``CREATE DATABASE … TEMPLATE``."""

    needs_server = True

    def create(self, name: str) -> str:
        return self._server().create_database(name)

    def copy(self, template_url: str, name: str, folder: Path) -> str:
        return self._server().create_database(name, template=dbname_from_url(template_url))

    def drop(self, url: str) -> None:
        self._server().drop_database(dbname_from_url(url))

    def empty_tables(self, url: str) -> list[str]:
        server = PostgresServer(url)
        rows = server.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY schemaname, tablename"
        )
        tables = [(str(schema), str(table)) for schema, table in rows if not is_bookkeeping(table)]
        if tables:
            from psycopg2 import sql  # type: ignore[import-untyped, unused-ignore]

            names: Any = sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)
            with server._admin_cursor() as cur:
                cur.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(names))
        return [table for _schema, table in tables]


#: Each backend's store, by dialect name.
STORES: dict[str, type[Store]] = {"sqlite": SQLiteStore, "postgresql": PostgresStore}


def new_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@dataclass
class DatabaseTemplate:
    """A backend's migrated database for the session (what the ``dualdb_template``
    fixture gives): copy it for a test of its own with :meth:`copy`."""

    backend: str
    url: str
    store: Store

    def copy(self, folder: Path) -> str:
        """The URL of a new database holding the migrated schema (drop it with
        :meth:`drop`). ``folder`` holds it if the backend keeps databases in files."""
        return self.store.copy(self.url, new_name("dualdb_t"), folder)

    def drop(self, url: str) -> None:
        self.store.drop(url)

    def empty_tables(self, url: str) -> list[str]:
        """Empty every application table of ``url``; return their names."""
        return self.store.empty_tables(url)


def make_template(
    backend: str, sources: Sequence[Path], folder: Path, server: Callable[[], PostgresServer]
) -> DatabaseTemplate:
    """Migrate a new database of ``backend`` with ``sources``: the session's template."""
    store_class = STORES.get(backend)
    if store_class is None:
        raise HarnessError(
            f"dualdb.testing cannot make {backend} databases yet (it knows "
            f"{', '.join(sorted(STORES))})"
        )
    store = store_class(folder, server)
    url = store.create(new_name("dualdb_tpl"))
    try:
        migrate(url, sources)
    except BaseException:
        store.drop(url)
        raise
    return DatabaseTemplate(backend, url, store)
