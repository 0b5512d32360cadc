"""Helpers for migration files whose SQL must differ between backends.

Most migrations are portable ``.sql`` files. Where a statement must differ — usually a
column of a type whose declared name differs (``json``, ``decimal``, ``bytes``) — write a
Python migration and build its steps with these helpers; yoyo calls each with the DB-API
connection of the migration's transaction::

    from dualdb.migrate.steps import by_backend, step, typed_sql

    steps = [
        step(typed_sql("CREATE TABLE t (id {uuid} PRIMARY KEY NOT NULL, doc {json})"),
             "DROP TABLE t"),
        step(by_backend(sqlite="...", postgresql="..."),
             by_backend(sqlite="...", postgresql="...")),
    ]

``by_backend`` takes one keyword per dialect name, so a migration written for a backend
added later (see CONTRIBUTING.md) names it the same way.

They live in the installed package, not in ``migrations/``, so that plain ``yoyo apply``
can import them too. A step never commits: yoyo runs the whole migration in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from dualdb.dialects import DialectName, dialect_names, get_dialect
from dualdb.errors import MigrationError
from dualdb.migrate.logical_types import LOGICAL_TYPES, ddl_type

__all__ = [
    "ShowableStep",
    "Statements",
    "backend_of",
    "by_backend",
    "execute",
    "step",
    "typed_sql",
]

#: What a step may run: one statement, several, or a function of the connection.
Statements = str | Sequence[str] | Callable[[Any], None]

_TYPE_PLACEHOLDER = re.compile(r"\{(" + "|".join(LOGICAL_TYPES) + r")\}")
#: What looks like a placeholder: ``{word}`` (a JSON literal's braces hold quotes or nothing).
_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


def _check_placeholders(statement: str) -> None:
    """Refuse a ``{word}`` outside string literals that names no logical type (a typo such
    as ``{jsn}`` would otherwise reach the database as SQL it cannot parse)."""
    for outside in statement.split("'")[::2]:
        for match in _ANY_PLACEHOLDER.finditer(outside):
            if match.group(1) not in LOGICAL_TYPES:
                raise MigrationError(
                    f"typed_sql: unknown type placeholder {{{match.group(1)}}}; the types are "
                    + ", ".join(f"{{{name}}}" for name in LOGICAL_TYPES)
                )


def step(
    apply: Statements, rollback: Statements | None = None, ignore_errors: str | None = None
) -> object:
    """yoyo's ``step``, typed: a migration that imports it from here passes ``mypy
    --strict`` (yoyo ships no type information). yoyo finds the migration being loaded
    from its caller's module, which is the migration's, as with its own ``step``."""
    from yoyo import step as yoyo_step

    added: object = yoyo_step(apply, rollback, ignore_errors)
    return added


def backend_of(conn: Any) -> DialectName:
    """The dialect name (``"sqlite"``, ``"postgresql"``…) of a DB-API connection."""
    for name in dialect_names():
        if get_dialect(name).migrations().owns(conn):
            return name
    raise MigrationError(
        f"a migration step got a connection of no registered dialect: {type(conn).__qualname__}"
    )


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


class ShowableStep:
    """A step body built by :func:`by_backend` or :func:`typed_sql`: yoyo calls it with the
    connection; ``dualdb migrate --dry-run --sql`` asks it for the SQL it would run."""

    __slots__ = ("_run", "_sql")

    def __init__(
        self,
        run: Callable[[Any, DialectName], None],
        sql: Callable[[DialectName], list[str] | None],
    ) -> None:
        self._run = run
        self._sql = sql

    def __call__(self, conn: Any) -> None:
        self._run(conn, backend_of(conn))

    def sql_for(self, dialect: DialectName) -> list[str] | None:
        """The statements this step runs on ``dialect``; None where Python code runs
        (or, for :func:`by_backend`, where the dialect is given no statements)."""
        return self._sql(dialect)


def _listed(statements: Statements) -> list[str] | None:
    if callable(statements):
        return None
    return [statements] if isinstance(statements, str) else list(statements)


def by_backend(**per_dialect: Statements) -> ShowableStep:
    """A step body that runs the statements given for the connection's dialect,
    e.g. ``by_backend(sqlite="...", postgresql="...")``.

    A name that is no registered dialect is refused when the migration file loads; a
    connection of a dialect given no statements is refused when the step runs, before
    anything is executed.
    """
    unknown = sorted(set(per_dialect).difference(dialect_names()))
    if unknown:
        raise MigrationError(
            f"by_backend() got {', '.join(map(repr, unknown))}, which is no registered "
            f"dialect; expected keywords among {', '.join(dialect_names())}"
        )

    def run(conn: Any, name: DialectName) -> None:
        if name not in per_dialect:
            raise MigrationError(
                f"this migration step has no statements for {name}: add {name}=... "
                "to its by_backend()"
            )
        execute(conn, per_dialect[name])

    def sql(name: DialectName) -> list[str] | None:
        return _listed(per_dialect[name]) if name in per_dialect else None

    return ShowableStep(run, sql)


def typed_sql(*statements: str) -> ShowableStep:
    """A step body whose SQL names column types logically: ``{uuid}``, ``{json}``, ….

    Each ``{name}`` of the vocabulary (see :mod:`dualdb.migrate.logical_types`) is replaced
    by that backend's declared type; any other brace, such as a JSON literal ``'{}'``, is
    left alone. A ``{word}`` outside quotes that is no type name is refused at once.
    """
    for statement in statements:
        _check_placeholders(statement)

    def sql(backend: DialectName) -> list[str]:
        return [
            _TYPE_PLACEHOLDER.sub(lambda m: ddl_type(m.group(1), backend), s) for s in statements
        ]

    def run(conn: Any, backend: DialectName) -> None:
        execute(conn, sql(backend))

    return ShowableStep(run, sql)
