"""Dates and datetimes bound on SQLite while migrating: stored as the text ``sqlite3``'s
default adapters stored (``str(value)``), without those adapters (deprecated since Python
3.12, so ``-W error::DeprecationWarning`` must not stop a run) and without any adapter of
yoyo's or dualdb's left registered for the rest of the process."""

from __future__ import annotations

import importlib
import re
import sqlite3
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from _migrate_helpers import Result, execute, run

from dualdb.migrate.connection import Target
from dualdb.migrate.runner import Runner

AT = datetime(2026, 3, 1, 12, 30, 45, 123456)
ON = date(2026, 3, 1)

#: Binds through every path a Python migration has: a cursor, the connection's own
#: execute/executemany, positional and named parameters.
STAMPS = f"""
import datetime

from yoyo import step

AT = {AT!r}
ON = {ON!r}


WHOLE = AT.replace(microsecond=0)
INSERT = "INSERT INTO stamps VALUES (?, ?, ?, ?)"


def stamp(conn, name):
    conn.cursor().execute(INSERT, (name + " cursor", AT, WHOLE, ON))
    conn.execute(
        "INSERT INTO stamps VALUES (:name, :at, :whole, :day)",
        {{"name": name + " named", "at": AT, "whole": WHOLE, "day": ON}},
    )
    conn.executemany(INSERT, [(name + " many", AT, WHOLE, ON)])


def unstamp(conn, name):
    conn.execute("DELETE FROM stamps WHERE name LIKE ?", (name + " %",))
"""

MIGRATIONS = {
    "9001_stamps.py": STAMPS
    + """
steps = [
    step("CREATE TABLE stamps (name TEXT, at TEXT, whole TEXT, day TEXT)", "DROP TABLE stamps"),
    step(lambda conn: stamp(conn, "9001"), lambda conn: unstamp(conn, "9001")),
]
""",
    # yoyo runs a non-transactional migration on a copy of its backend used as a context
    # manager, where yoyo's own SQLite backend registers a process-wide adapter.
    "9002_stamps_outside_a_transaction.py": STAMPS
    + """
__transactional__ = False

steps = [step(lambda conn: stamp(conn, "9002"), lambda conn: unstamp(conn, "9002"))]
""",
    "9003_stamps_after.py": STAMPS
    + """
steps = [step(lambda conn: stamp(conn, "9003"), lambda conn: unstamp(conn, "9003"))]
""",
}

#: What sqlite3's default adapter stored for a datetime yoyo binds (naive UTC, microseconds).
DEFAULT_ADAPTER_TEXT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?")

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


@pytest.fixture
def stamped(project: Path) -> Path:
    for name, text in MIGRATIONS.items():
        (project / "migrations" / name).write_text(text)
    return project


def _strict(project: Path, database_url: str, *args: str) -> Result:
    """``python -W error::DeprecationWarning -m dualdb ARGS`` in the project copy."""
    command = [sys.executable, "-W", "error::DeprecationWarning", "-m", "dualdb"]
    return run([*command, "--database", database_url, *args], cwd=project)


def test_migrate_status_and_rollback_run_with_deprecation_warnings_as_errors(
    stamped: Path, database_url: str, db: Callable[[], Target]
) -> None:
    for args in (["migrate"], ["status"], ["rollback", "--steps", "2"], ["migrate"]):
        result = _strict(stamped, database_url, *args)
        assert result.returncode == 0, (args, result.output)
        assert "Warning" not in result.output, (args, result.output)
    with db() as target:
        stamps = execute(target, "SELECT name, at, whole, day FROM stamps ORDER BY name")
        version = execute(target, "SELECT installed_at_utc FROM _yoyo_version")
        applied = execute(target, "SELECT applied_at_utc FROM _yoyo_migration")
        logged = execute(target, "SELECT created_at_utc FROM _yoyo_log")
    expected = (str(AT), str(AT.replace(microsecond=0)), str(ON))
    assert len(stamps) == 9
    assert {tuple(row[1:]) for row in stamps} == {expected}, stamps
    # yoyo's bookkeeping: the text the default adapter wrote, so dualdb, older dualdb runs
    # and plain yoyo's first write (before its own adapter) agree.
    bookkeeping = [row[0] for row in [*version, *applied, *logged]]
    assert len(bookkeeping) > 10
    assert all(DEFAULT_ADAPTER_TEXT.fullmatch(text) for text in bookkeeping), bookkeeping


def test_migrating_in_process_registers_no_sqlite3_adapter(stamped: Path, runner: Runner) -> None:
    # (the C module's own dicts: yoyo's clean-up rebinds only the sqlite3 package's names)
    c_module = importlib.import_module("_sqlite3")
    adapters, converters = dict(c_module.adapters), dict(c_module.converters)
    try:
        runner.migrate()
        runner.rollback(steps=2)
        assert dict(c_module.adapters) == adapters
        assert dict(c_module.converters) == converters
    finally:  # (a failure must not change how the rest of the session's sqlite3 binds)
        c_module.adapters.clear()
        c_module.adapters.update(adapters)
        c_module.converters.clear()
        c_module.converters.update(converters)
        sqlite3.adapters = c_module.adapters
        sqlite3.converters = c_module.converters
