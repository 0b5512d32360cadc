"""SQLite for the migration tooling: yoyo's backend adjusted, introspection, drop-all.

The yoyo backend here works on a plain file connection (no shared cache, whose table locks
fail at once instead of waiting), with dualdb's busy timeout, no declared-type converters,
and datetimes bound as ISO text rather than through ``sqlite3``'s default adapter
(deprecated since Python 3.12). Foreign keys stay off while migrating, as under plain yoyo:
SQLite's table rebuild recipe (create, copy, drop, rename) would otherwise cascade-delete
child rows.

Introspection details that matter: a non-INTEGER ``PRIMARY KEY`` column is nullable unless
declared ``NOT NULL`` (reported as such, so the snapshot catches it), while an ``INTEGER
PRIMARY KEY`` rowid alias can never be NULL; expression indexes appear in ``PRAGMA
index_xinfo`` only as ``cid = -2``, so their expressions are read from the ``CREATE INDEX``
text in ``sqlite_master``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from yoyo.backends.core.sqlite3 import SQLiteBackend as _YoyoSQLiteBackend
from yoyo.connections import DatabaseURI
from yoyo.migrations import default_migration_table

from dualdb.dialects.base import MigrationBackend
from dualdb.dialects.sqlite import SQLiteDialect
from dualdb.errors import ConfigurationError, ConnectionFailed
from dualdb.migrate.backends import AfterChange, AtomicMigrations, drop_listed
from dualdb.migrate.introspect import is_bookkeeping
from dualdb.migrate.schema import (
    Column,
    ForeignKey,
    Index,
    Schema,
    Table,
    normalize_default,
    normalize_expression,
)
from dualdb.settings import Settings

__all__ = ["SQLiteBackend", "SQLiteMigrations"]

NAME = "sqlite"


class SQLiteBackend(AtomicMigrations, _YoyoSQLiteBackend):  # type: ignore[misc]
    """yoyo's SQLite backend on a plain file connection; see the module docstring."""

    dialect = NAME
    after_change: AfterChange | None = None

    def connect(self, dburi: Any) -> sqlite3.Connection:
        timeout = float(dburi.args.get("timeout", 5.0))
        return sqlite3.connect(dburi.database, timeout=timeout, isolation_level=None)

    def _check_transactional_ddl(self) -> bool:
        return True

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        if params:
            params = {
                key: value.isoformat(" ") if isinstance(value, datetime) else value
                for key, value in params.items()
            }
        return super().execute(sql, params)


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
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConnectionFailed(
                    f"cannot create the folder of {settings.display_url()}: {exc.strerror}",
                    dialect=NAME,
                ) from exc
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

    def lock_holder_gone(self, pid: int) -> bool:
        # The database is a file on this machine, so its lock holder ran here too.
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # exists, owned by someone else
            return False
        return False

    def scratch_settings(self, folder: str) -> Settings:
        return Settings(backend=NAME, sqlite_file=str(Path(folder) / "scratch.db"))


_OBJECTS = """
    SELECT type, name FROM sqlite_master
    WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
    ORDER BY type DESC, name
"""


#: Declared type → logical type: exactly the names the dialect writes in DDL.
_LOGICAL = {declared: logical for logical, declared in SQLiteDialect.column_types.items()}


def logical_type(declared: str) -> str:
    normalized = " ".join(declared.split())
    found = _LOGICAL.get(normalized.upper())
    return found if found is not None else f"{NAME}:{normalized.lower()}"


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    items, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items]


def _index_parts(sql: str) -> tuple[list[str], str | None]:
    """The key expressions and the WHERE predicate of a ``CREATE INDEX`` statement."""
    match = re.search(r"\bON\s+(?:\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]|[\w.]+)\s*\(", sql, re.I)
    if match is None:
        return [], None
    start = match.end() - 1
    depth, quote, end = 0, "", len(sql)
    for i in range(start, len(sql)):
        char = sql[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                end = i
                break
    keys = []
    for item in _split_top_level(sql[start + 1 : end]):
        item = re.sub(r"\s+(ASC|DESC)\s*$", "", item, flags=re.I)
        item = re.sub(r"\s+COLLATE\s+\S+\s*$", "", item, flags=re.I)
        keys.append(item)
    rest = sql[end + 1 :].strip().rstrip(";").strip()
    where = re.match(r"WHERE\s+(.*)$", rest, flags=re.I | re.S)
    return keys, where.group(1) if where else None


def introspect(backend: Any) -> Schema:
    def rows(sql: str, **params: Any) -> list[Any]:
        result: list[Any] = backend.execute(sql, params).fetchall()
        return result

    masters = rows("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    index_sql = dict(rows("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    pk_cache: dict[str, tuple[str, ...]] = {}

    def primary_key(table: str) -> tuple[str, ...]:
        if table not in pk_cache:
            found = rows("SELECT name, pk FROM pragma_table_info(:t) WHERE pk > 0", t=table)
            pk_cache[table] = tuple(name for name, _ in sorted(found, key=lambda r: r[1]))
        return pk_cache[table]

    tables: dict[str, Table] = {}
    for table, create_sql in masters:
        if is_bookkeeping(table) or table.startswith("sqlite_"):
            continue
        without_rowid = bool(re.search(r"\)\s*WITHOUT\s+ROWID\s*;?\s*$", create_sql or "", re.I))
        info = rows(
            'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_xinfo(:t) ORDER BY cid',
            t=table,
        )
        pk = primary_key(table)
        columns: dict[str, Column] = {}
        for name, declared, notnull, default, pk_position in info:
            rowid_alias = (
                pk_position == 1 and len(pk) == 1 and declared.upper() == "INTEGER"
            ) and not without_rowid
            columns[name] = Column(
                type=logical_type(declared),
                nullable=not (notnull or rowid_alias),
                default=normalize_default(default),
            )

        fk_rows = rows(
            'SELECT id, seq, "table", "from", "to", on_delete '
            "FROM pragma_foreign_key_list(:t) ORDER BY id, seq",
            t=table,
        )
        grouped: dict[int, list[Any]] = defaultdict(list)
        for row in fk_rows:
            grouped[row[0]].append(row)
        foreign_keys = []
        for parts in grouped.values():
            parent = parts[0][2]
            referenced = tuple(p[4] for p in parts)
            if any(col is None for col in referenced):  # REFERENCES parent without columns
                referenced = primary_key(parent)
            foreign_keys.append(
                ForeignKey(tuple(p[3] for p in parts), parent, referenced, parts[0][5].lower())
            )

        unique: list[tuple[str, ...]] = []
        indexes: dict[str, Index] = {}
        for index, is_unique, origin in rows(
            'SELECT name, "unique", origin FROM pragma_index_list(:t)', t=table
        ):
            if origin == "pk":
                continue
            keys = rows(
                "SELECT cid, name FROM pragma_index_xinfo(:i) WHERE key = 1 ORDER BY seqno",
                i=index,
            )
            if origin == "u":
                unique.append(tuple(name for _, name in keys))
                continue
            expressions, where = _index_parts(index_sql.get(index) or "")
            cols = []
            for position, (cid, name) in enumerate(keys):
                if cid == -2 and position < len(expressions):
                    cols.append(normalize_expression(expressions[position]))
                else:
                    cols.append(name if cid != -1 else "rowid")
            indexes[index] = Index(
                tuple(cols), bool(is_unique), normalize_expression(where) if where else None
            )
        tables[table] = Table(
            columns=columns,
            primary_key=pk,
            foreign_keys=tuple(foreign_keys),
            unique_constraints=tuple(unique),
            indexes=indexes,
        )
    return Schema(dict(sorted(tables.items())))
