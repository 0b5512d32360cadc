"""The SQL a migration would run on a backend, read from its loaded steps without running it
(``dualdb migrate --dry-run --sql``).

A ``.sql`` migration and a ``step("…")`` hold their statements as text. A step built with
:func:`~dualdb.migrate.steps.typed_sql` or :func:`~dualdb.migrate.steps.by_backend` can say
what it would run on a given backend. Any other Python callable can only be run, not shown.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from yoyo.migrations import MigrationStep, StepGroup, Transactionless, TransactionWrapper

from dualdb.dialects import DialectName
from dualdb.migrate.steps import ShowableStep

__all__ = ["StepSQL", "migration_sql"]


@dataclass(frozen=True)
class StepSQL:
    """One statement a migration would run, or (``sql`` None) a step of Python code."""

    sql: str | None
    step: int

    @property
    def is_python(self) -> bool:
        return self.sql is None


def _leaves(step: Any) -> Iterator[Any]:
    """yoyo's steps, unwrapped from their transaction wrappers and groups, in order."""
    if isinstance(step, TransactionWrapper | Transactionless):
        yield from _leaves(step.step)
    elif isinstance(step, StepGroup):
        for item in step.steps:
            yield from _leaves(item)
    elif isinstance(step, MigrationStep):
        yield step


def migration_sql(migration: Any, dialect: DialectName) -> list[StepSQL]:
    """What ``migration`` (loaded) would run on ``dialect``, step by step."""
    shown: list[StepSQL] = []
    for number, leaf in enumerate(
        (leaf for step in migration.steps for leaf in _leaves(step)), start=1
    ):
        body = leaf._apply  # yoyo keeps a step's apply SQL or callable here
        if not body:
            continue
        if isinstance(body, str):
            shown.append(StepSQL(textwrap.dedent(body).strip(), number))
            continue
        statements = body.sql_for(dialect) if isinstance(body, ShowableStep) else None
        if statements is None:
            shown.append(StepSQL(None, number))
        else:
            shown.extend(StepSQL(textwrap.dedent(s).strip(), number) for s in statements)
    return shown
