"""Fixtures for the migration tooling tests: a project copy, the CLI as a subprocess, and
in-process access to the test database.

Every test gets its own copy of the repository's ``migrations/``, ``seeds/`` and
``yoyo.ini`` (``project``), so tests may add or edit migration files freely; the commands
run from that copy with an environment stripped of every dualdb setting, so nothing on the
developer's machine (``.env``, ``DATABASE_URL``) leaks in.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _migrate_helpers import BIN, REPO, Result, run

from _pgbouncer import driver_url
from dualdb.migrate.connection import Target, open_target
from dualdb.migrate.runner import Runner
from dualdb.settings import Settings, load_settings


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's migrations, seeds and yoyo.ini, with an empty data/."""
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "migrations", root / "migrations", ignore=ignore)
    shutil.copytree(REPO / "seeds", root / "seeds", ignore=ignore)
    shutil.copy(REPO / "yoyo.ini", root / "yoyo.ini")
    (root / "data").mkdir()
    return root


@pytest.fixture
def dualdb(project: Path, database_url: str) -> Callable[..., Result]:
    """Run ``python -m dualdb --database <this test's database> ARGS`` in the project copy."""

    def invoke(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Result:
        command = [sys.executable, "-m", "dualdb", "--database", database_url, *args]
        return run(command, cwd=project, env=env, timeout=timeout)

    return invoke


@pytest.fixture
def yoyo(project: Path, database_url: str) -> Callable[..., Result]:
    """Run plain ``yoyo ARGS --database <this test's database>`` in the project copy."""

    def invoke(*args: str) -> Result:
        # (plain yoyo takes libpq's URL: no dualdb parameter such as ?pgbouncer=true)
        url = driver_url(database_url)
        return run([str(BIN / "yoyo"), *args, "--database", url], cwd=project)

    return invoke


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(environ={}, env_file=None, url=database_url)


@pytest.fixture
def runner(settings: Settings, project: Path) -> Runner:
    """The in-process runner on this test's database and project copy (output discarded)."""
    return Runner(settings, project / "migrations", echo=lambda _: None, warn=lambda _: None)


@pytest.fixture
def db(settings: Settings) -> Callable[[], Target]:
    """Open this test's database in-process (``with db() as target: ...``), creating nothing."""

    def connect() -> Target:
        return open_target(settings, read_only=True)

    return connect


@pytest.fixture
def migrated(dualdb: Callable[..., Result]) -> None:
    """This test's database with every migration applied by ``dualdb migrate``."""
    result = dualdb("migrate")
    assert result.returncode == 0, result.output
