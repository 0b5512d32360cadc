"""Helpers for migration files whose SQL must differ between SQLite and PostgreSQL.

Most migrations are portable ``.sql`` files. Where a statement must differ — usually a
column of a type whose declared name differs (``json``, ``decimal``, ``bytes``) — write a
Python migration and build its steps with these helpers; yoyo calls each with the DB-API
connection of the migration's transaction::

    from yoyo import step
    from dualdb.migrate.steps import by_backend, typed_sql

    steps = [
        step(typed_sql("CREATE TABLE t (id {uuid} PRIMARY KEY NOT NULL, doc {json})"),
             "DROP TABLE t"),
        step(by_backend(sqlite="...", postgresql="..."),
             by_backend(sqlite="...", postgresql="...")),
    ]

They live in the installed package, not in ``migrations/``, so that plain ``yoyo apply``
can import them too. A step never commits: yoyo runs the whole migration in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from dualdb.migrate.logical_types import LOGICAL_TYPES, Backend, ddl_type

__all__ = ["Statements", "backend_of", "by_backend", "execute", "typed_sql"]

#: What a step may run: one statement, several, or a function of the connection.
Statements = str | Sequence[str] | Callable[[Any], None]

_TYPE_PLACEHOLDER = re.compile(r"\{(" + "|".join(LOGICAL_TYPES) + r")\}")


def backend_of(conn: Any) -> Backend:
    """``"sqlite"`` or ``"postgresql"`` for a DB-API connection (sqlite3, psycopg2, psycopg)."""
    module = type(conn).__module__
    if module.startswith("sqlite3"):
        return "sqlite"
    if module.startswith(("psycopg2", "psycopg")):
        return "postgresql"
    raise TypeError(f"not a sqlite3 or psycopg connection: {type(conn).__qualname__}")


def execute(conn: Any, statements: Statements) -> None:
    """Run ``statements`` on ``conn``, one ``cursor.execute`` per statement.

    One statement per call because ``sqlite3`` refuses several in one ``execute`` and
    ``executescript`` would commit the migration's transaction half-way.
    """
    if callable(statements):
        statements(conn)
        return
    for sql in [statements] if isinstance(statements, str) else statements:
        cursor = conn.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()


def by_backend(*, sqlite: Statements, postgresql: Statements) -> Callable[[Any], None]:
    """A step body that runs ``sqlite`` or ``postgresql`` depending on the connection."""

    def run(conn: Any) -> None:
        execute(conn, sqlite if backend_of(conn) == "sqlite" else postgresql)

    return run


def typed_sql(*statements: str) -> Callable[[Any], None]:
    """A step body whose SQL names column types logically: ``{uuid}``, ``{json}``, ….

    Each ``{name}`` of the vocabulary (see :mod:`dualdb.migrate.logical_types`) is replaced
    by that backend's declared type; any other brace, such as a JSON literal ``'{}'``, is
    left alone.
    """

    def run(conn: Any) -> None:
        backend = backend_of(conn)
        execute(
            conn,
            [_TYPE_PLACEHOLDER.sub(lambda m: ddl_type(m.group(1), backend), s) for s in statements],
        )

    return run
