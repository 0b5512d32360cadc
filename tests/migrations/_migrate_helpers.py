"""Helpers of the migration tooling tests: running commands, reading the test database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from _cli import Result as Result
from _cli import clean_env as clean_env
from dualdb.migrate.connection import Target
from dualdb.migrate.introspect import introspect
from dualdb.migrate.schema import Schema
from dualdb.migrate.source import load_source

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
YOYO_TABLES = {"_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock"}
#: The repository's migrations, in order (later issues add more; tests must not assume 3).
MIGRATION_IDS = load_source(REPO / "migrations").ids


def run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    """Run a command to completion (never through a shell)."""
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def tables(target: Target) -> set[str]:
    """Every table of the database, bookkeeping included."""
    return {name for name in target.backend.list_tables() if not name.startswith("sqlite_")}


def live_schema(target: Target) -> Schema:
    return introspect(target.backend)


def committed_schema() -> Schema:
    return Schema.from_json((REPO / "migrations" / "schema.json").read_text(encoding="utf-8"))


def execute(target: Target, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Run one statement in its own transaction and return its rows."""
    backend = target.backend
    with backend.transaction():
        cursor = backend.execute(sql, params)
        rows: list[Any] = cursor.fetchall() if cursor.description else []
    return rows


#: The application tables the committed snapshot expects.
APP_TABLES = set(committed_schema().tables)
