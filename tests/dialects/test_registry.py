"""The dialect registry: the one place a backend is chosen by name."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dualdb.dialects import dialect_names, embedded_dialect, get_dialect, register_dialect
from dualdb.errors import ConfigurationError, MigrationError
from dualdb.migrate.steps import by_backend

SRC = Path(__file__).resolve().parents[2] / "src" / "dualdb"
BACKEND_NAMES = {"sqlite", "sqlite3", "postgresql", "postgres", "pg"}


def test_dualdb_registers_sqlite_and_postgresql_first() -> None:
    assert dialect_names()[:2] == ("sqlite", "postgresql")


def test_every_registered_dialect_knows_its_own_name() -> None:
    for name in dialect_names():
        assert get_dialect(name).name == name


def test_an_unknown_dialect_is_a_configuration_error_naming_the_registered_ones() -> None:
    with pytest.raises(ConfigurationError, match="registered: postgresql, sqlite"):
        get_dialect("mysql")


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ConfigurationError, match="already registered"):
        register_dialect("sqlite", lambda: get_dialect("sqlite"))


def test_the_embedded_dialect_is_sqlite() -> None:
    assert embedded_dialect().name == "sqlite"
    assert not get_dialect("postgresql").is_embedded


def test_by_backend_refuses_a_keyword_that_is_no_dialect() -> None:
    with pytest.raises(MigrationError, match="'sqlight'"):
        by_backend(sqlight="CREATE TABLE t (id INTEGER)")


def _compared_backend_names(path: Path) -> list[str]:
    """``x == "sqlite"``-style comparisons (and ``in`` tests) with a backend name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            values = (
                [operand]
                if isinstance(operand, ast.Constant)
                else list(operand.elts)
                if isinstance(operand, ast.Tuple | ast.List | ast.Set)
                else []
            )
            for value in values:
                if isinstance(value, ast.Constant) and value.value in BACKEND_NAMES:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_no_code_outside_the_dialects_compares_a_backend_name() -> None:
    # The settings' alias table maps DB_TYPE spellings and URL schemes to dialect names.
    allowed = {SRC / "settings.py"}
    offenders = [
        where
        for path in sorted(SRC.rglob("*.py"))
        if "dialects" not in path.relative_to(SRC).parts and path not in allowed
        for where in _compared_backend_names(path)
    ]
    assert offenders == []


DRIVERS = {"sqlite3", "aiosqlite", "asyncpg", "psycopg2"}


def _imported_drivers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & DRIVERS


def test_no_code_outside_the_dialects_imports_a_database_driver() -> None:
    # The throwaway PostgreSQL cluster of dualdb.testing is a PostgreSQL server by nature.
    allowed = {SRC / "testing" / "_cluster.py"}
    offenders = {
        str(path.relative_to(SRC)): drivers
        for path in sorted(SRC.rglob("*.py"))
        if "dialects" not in path.relative_to(SRC).parts and path not in allowed
        if (drivers := _imported_drivers(path))
    }
    assert offenders == {}


def test_every_dialect_of_dualdb_says_how_to_make_its_test_databases() -> None:
    for name in dialect_names():
        scratch = get_dialect(name).scratch_databases()
        assert scratch is not None, name
        assert scratch.needs_server is not get_dialect(name).is_embedded


def test_an_application_on_sqlite_never_imports_the_postgresql_driver(tmp_path: Path) -> None:
    program = f"""
import asyncio, sys
import dualdb

async def main():
    async with dualdb.connect("sqlite:///{tmp_path / "app.db"}") as db:
        assert await db.fetch_val("SELECT 1") == 1

asyncio.run(main())
print("asyncpg" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_what_a_driver_keeps_about_a_statement_is_its_dialects_own() -> None:
    """A compiled statement has one slot for its dialect's driver (``state``) instead of
    fields only one backend reads."""
    from dataclasses import fields

    from dualdb import Query, Table
    from dualdb.sql.compile import Compiled, compile_query

    assert not {f.name for f in fields(Compiled)} & {"origins", "tables", "plans"}
    t = Table("t")
    query = Query.from_(t).select(t.id)
    for name in dialect_names():
        dialect = get_dialect(name)
        state = compile_query(query, dialect).state
        assert type(state) is type(dialect.statement_state(query))
