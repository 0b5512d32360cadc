"""Fixtures for the operations tests (backups, restores, the retention job): a second
fresh database to restore into, a project folder for the CLI, and the CLI itself.

Every behaviour test runs on both backends; the PostgreSQL ones use the real pg_dump and
pg_restore of the harness's server installation, against the harness's cluster."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_helpers import TEST_PASSWORD, Cli, Result, clean_env

from _pgcluster import PgServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh, empty database of this test's own, to restore into."""
    if backend == "sqlite":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        yield f"sqlite:///{tmp_path}/restored.db"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"r_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's migrations and yoyo.ini, where the CLI runs."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "migrations", root / "migrations")
    shutil.copy(REPO / "yoyo.ini", root / "yoyo.ini")
    (root / "data").mkdir()
    return root


@pytest.fixture
def cli(project: Path) -> Cli:
    """Run ``python -m dualdb --database URL ARGS`` in the project copy."""

    def invoke(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "dualdb", "--database", url, *args],
            cwd=project,
            env=env if env is not None else clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        assert TEST_PASSWORD not in result.output
        return result

    return invoke
