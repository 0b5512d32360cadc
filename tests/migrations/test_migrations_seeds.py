"""``dualdb seed``: development rows on both backends, idempotent, never on PostgreSQL by
accident, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from _migrate_helpers import Result, execute

from dualdb.migrate.connection import Target

TABLES = ("users", "oauth_providers", "user_sessions", "oauth_sessions")


def _seed(dualdb: Callable[..., Result], backend: str) -> Result:
    extra = ["--allow-production"] if backend == "postgresql" else []
    return dualdb("seed", *extra)


def _rows(target: Target) -> dict[str, list[Any]]:
    return {
        table: execute(target, f"SELECT * FROM {table} ORDER BY CAST(id AS TEXT)")
        for table in TABLES
    }


def test_seed_loads_an_admin_a_user_and_a_linked_oauth_account(
    dualdb: Callable[..., Result], migrated: None, backend: str, db: Callable[[], Target]
) -> None:
    result = _seed(dualdb, backend)
    assert result.returncode == 0, result.output
    assert "user admin@example.com (admin)" in result.stdout
    with db() as target:
        roles = execute(target, "SELECT email, role FROM users ORDER BY email")
        linked = execute(
            target,
            "SELECT u.email, o.provider FROM oauth_providers o JOIN users u ON u.id = o.user_id",
        )
    assert roles == [("admin@example.com", "admin"), ("user@example.com", "user")]
    assert linked == [("user@example.com", "github")]


def test_seeding_twice_leaves_the_same_rows(
    dualdb: Callable[..., Result], migrated: None, backend: str, db: Callable[[], Target]
) -> None:
    assert _seed(dualdb, backend).returncode == 0
    with db() as target:
        first = _rows(target)
    again = _seed(dualdb, backend)
    assert again.returncode == 0, again.output
    with db() as target:
        assert _rows(target) == first


def test_seed_refuses_postgresql_without_allow_production(
    dualdb: Callable[..., Result], migrated: None, backend: str, db: Callable[[], Target]
) -> None:
    result = dualdb("seed")
    if backend == "sqlite":
        assert result.returncode == 0, result.output
        return
    assert result.returncode == 2, result.output
    assert "--allow-production" in result.stderr
    with db() as target:
        assert execute(target, "SELECT count(*) FROM users") == [(0,)]


def test_seed_before_migrate_is_refused(dualdb: Callable[..., Result], backend: str) -> None:
    result = _seed(dualdb, backend)
    assert result.returncode == 4, result.output
    assert "run `dualdb migrate` first" in result.stderr


def test_a_failing_seed_keeps_nothing(
    dualdb: Callable[..., Result],
    migrated: None,
    backend: str,
    project: Path,
    db: Callable[[], Target],
) -> None:
    (project / "seeds" / "zz_broken.py").write_text(
        "def seed(conn, backend):\n    raise RuntimeError('boom')\n"
    )
    result = _seed(dualdb, backend)
    assert result.returncode == 4, result.output
    assert "seed zz_broken.py failed: RuntimeError: boom" in result.stderr
    with db() as target:
        assert execute(target, "SELECT count(*) FROM users") == [(0,)]
