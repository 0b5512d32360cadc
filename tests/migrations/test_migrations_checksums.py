"""Checksums: an applied migration edited afterwards is caught by status, migrate and check;
the committed dualdb.sum catches an edit before any database sees it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from _migrate_helpers import MIGRATION_IDS, REPO, Result, execute

from dualdb.migrate.checksums import sum_problems
from dualdb.migrate.connection import Target


def _edit(project: Path, name: str) -> None:
    path = project / "migrations" / name
    comment = "#" if path.suffix == ".py" else "--"
    path.write_text(f"{comment} edited after it was applied\n" + path.read_text())


def test_committed_sum_file_matches_the_migrations() -> None:
    assert sum_problems(REPO / "migrations") == []


def test_status_names_a_migration_edited_after_it_was_applied(
    dualdb: Callable[..., Result], migrated: None, project: Path
) -> None:
    _edit(project, "0002_user_sessions.sql")
    result = dualdb("status")
    assert result.returncode == 6, result.output
    assert "0002_user_sessions.sql (or its 0002_user_sessions.rollback.sql) was edited" in (
        result.stdout
    )


def test_an_edited_rollback_file_counts_as_an_edit(
    dualdb: Callable[..., Result], migrated: None, project: Path
) -> None:
    _edit(project, "0003_oauth.rollback.sql")
    result = dualdb("status")
    assert result.returncode == 6, result.output
    assert "0003_oauth.sql (or its 0003_oauth.rollback.sql) was edited" in result.stdout


def test_migrate_refuses_to_go_past_an_edited_migration(
    dualdb: Callable[..., Result], project: Path, db: Callable[[], Target]
) -> None:
    assert dualdb("migrate", "--to", "0002").returncode == 0
    _edit(project, "0001_users.py")
    result = dualdb("migrate")
    assert result.returncode == 6, result.output
    assert "0001_users.py was edited after it was applied" in result.stderr
    assert "--accept-changed" in result.stderr
    with db() as target:
        applied = [row[0] for row in execute(target, "SELECT migration_id FROM _yoyo_migration")]
    assert sorted(applied) == ["0001_users", "0002_user_sessions"]


def test_accept_changed_records_the_new_checksum_and_continues(
    dualdb: Callable[..., Result], project: Path
) -> None:
    assert dualdb("migrate", "--to", "0002").returncode == 0
    _edit(project, "0001_users.py")
    result = dualdb("migrate", "--accept-changed")
    assert result.returncode == 0, result.output
    assert "Accepted the edited 0001_users" in result.stdout
    assert dualdb("status").returncode == 0


def test_check_fails_when_a_file_no_longer_matches_the_sum_file(
    dualdb: Callable[..., Result], migrated: None, project: Path, db: Callable[[], Target]
) -> None:
    # Edited and re-recorded in the database: only dualdb.sum still knows the old content.
    _edit(project, f"{MIGRATION_IDS[-1]}.sql")
    assert dualdb("migrate", "--accept-changed").returncode == 0
    result = dualdb("check")
    assert result.returncode == 6, result.output
    assert f"{MIGRATION_IDS[-1]}.sql changed since dualdb.sum was written" in result.stdout


def test_sum_command_brings_the_sum_file_up_to_date(
    dualdb: Callable[..., Result], project: Path
) -> None:
    _edit(project, "0001_users.py")
    assert sum_problems(project / "migrations") != []
    result = dualdb("sum")
    assert result.returncode == 0, result.output
    assert sum_problems(project / "migrations") == []


def test_a_non_transactional_migration_is_applied_and_its_checksum_recorded(
    dualdb: Callable[..., Result], migrated: None, project: Path, db: Callable[[], Target]
) -> None:
    (project / "migrations" / "9000_outside.sql").write_text(
        "-- transactional: false\nCREATE INDEX users_created_at_idx ON users (created_at);\n"
    )
    result = dualdb("migrate")
    assert result.returncode == 0, result.output
    with db() as target:
        recorded = execute(
            target,
            "SELECT migration_id FROM dualdb_migration_checksums WHERE migration_id = :m",
            {"m": "9000_outside"},
        )
    assert recorded == [("9000_outside",)]
    assert "Recorded" not in dualdb("status").stdout
