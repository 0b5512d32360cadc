"""The ``dualdb`` command's everyday behaviour, run as a subprocess on both backends."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from _migrate_helpers import (
    APP_TABLES,
    BIN,
    MIGRATION_IDS,
    Result,
    execute,
    live_schema,
    run,
    tables,
)

from dualdb.migrate.checksums import read_sum
from dualdb.migrate.connection import Target


def test_migrate_prints_each_migration_with_its_duration(dualdb: Callable[..., Result]) -> None:
    result = dualdb("migrate")
    assert result.returncode == 0, result.output
    for migration_id in MIGRATION_IDS:
        assert re.search(rf"applied {migration_id} \(\d+ ms\)", result.stdout), result.stdout


def test_migrate_to_stops_after_the_named_migration(
    dualdb: Callable[..., Result], db: Callable[[], Target]
) -> None:
    result = dualdb("migrate", "--to", "0002")
    assert result.returncode == 0, result.output
    with db() as target:
        assert set(live_schema(target).tables) == {"users", "user_sessions"}


def test_dry_run_prints_the_plan_and_creates_nothing(
    dualdb: Callable[..., Result], db: Callable[[], Target], backend: str, database_url: str
) -> None:
    result = dualdb("migrate", "--dry-run")
    assert result.returncode == 0, result.output
    assert f"Would apply {len(MIGRATION_IDS)} migration(s)" in result.stdout
    if backend == "sqlite":
        assert not Path(database_url.removeprefix("sqlite:///")).exists()
    with db() as target:
        assert tables(target) == set()


def test_status_lists_applied_migrations_with_their_time_and_the_pending_ones(
    dualdb: Callable[..., Result],
) -> None:
    assert dualdb("migrate", "--to", "0001").returncode == 0
    result = dualdb("status")
    assert result.returncode == 0, result.output
    assert re.search(r"0001_users\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", result.stdout)
    pending = "".join(f"\n  {migration_id}" for migration_id in MIGRATION_IDS[1:])
    assert f"Pending ({len(MIGRATION_IDS) - 1}):{pending}" in result.stdout


def test_rollback_steps_rolls_back_the_newest_migrations_newest_first(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    result = dualdb("rollback", "--steps", "2")
    assert result.returncode == 0, result.output
    newest, second = MIGRATION_IDS[-1], MIGRATION_IDS[-2]
    assert result.stdout.index(f"rolled back {newest}") < result.stdout.index(second)
    with db() as target:
        applied = {row[0] for row in execute(target, "SELECT migration_id FROM _yoyo_migration")}
    assert applied == set(MIGRATION_IDS[:-2])


def test_rollback_to_keeps_the_named_migration(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    result = dualdb("rollback", "--to", "0002_user_sessions")
    assert result.returncode == 0, result.output
    with db() as target:
        assert set(live_schema(target).tables) == {"users", "user_sessions"}
        applied = {row[0] for row in execute(target, "SELECT migration_id FROM _yoyo_migration")}
    assert applied == {"0001_users", "0002_user_sessions"}


def test_reset_refuses_without_yes(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    result = dualdb("reset")
    assert result.returncode == 2
    assert "--yes" in result.stderr
    with db() as target:
        assert tables(target) >= APP_TABLES


def test_reset_drops_everything_and_applies_every_migration(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        execute(target, "CREATE TABLE scratch (id INTEGER)")
        execute(
            target,
            "INSERT INTO users (id, email, created_at, updated_at) "
            "VALUES ('01890000-0000-7000-8000-00000000000a', 'a@b.io', 'x', 'x')"
            if target.dialect == "sqlite"
            else "INSERT INTO users (id, email, created_at, updated_at) "
            "VALUES ('01890000-0000-7000-8000-00000000000a', 'a@b.io', now(), now())",
        )
    result = dualdb("reset", "--yes", "--allow-production")
    assert result.returncode == 0, result.output
    with db() as target:
        assert set(live_schema(target).tables) == APP_TABLES
        assert execute(target, "SELECT count(*) FROM users") == [(0,)]


def test_reset_of_postgresql_also_needs_allow_production(
    dualdb: Callable[..., Result], migrated: None, backend: str
) -> None:
    result = dualdb("reset", "--yes")
    assert result.returncode == (2 if backend == "postgresql" else 0), result.output


def test_new_creates_the_next_numbered_migration_with_its_rollback(
    dualdb: Callable[..., Result], project: Path
) -> None:
    result = dualdb("new", "Add user phone")
    assert result.returncode == 0, result.output
    new_id = f"{int(MIGRATION_IDS[-1][:4]) + 1:04d}_add_user_phone"
    created = project / "migrations" / f"{new_id}.sql"
    depends = created.read_text().splitlines()[1]
    assert depends.startswith("-- depends: ") and MIGRATION_IDS[-1] in depends.split()
    assert (project / "migrations" / f"{new_id}.rollback.sql").is_file()
    _, listed = read_sum(project / "migrations" / "dualdb.sum")
    assert {f"{new_id}.sql", f"{new_id}.rollback.sql"} <= set(listed)


def test_a_new_python_migration_applies_and_passes_check(
    dualdb: Callable[..., Result], project: Path
) -> None:
    assert dualdb("new", "--python", "noop").returncode == 0
    new_id = f"{int(MIGRATION_IDS[-1][:4]) + 1:04d}_noop"
    assert (project / "migrations" / f"{new_id}.py").is_file()
    assert dualdb("migrate").returncode == 0
    result = dualdb("check")
    assert result.returncode == 0, result.output


_EXAMPLE_STEP = """\
    # step(
    #     typed_sql("ALTER TABLE example ADD COLUMN payload {json}"),
    #     "ALTER TABLE example DROP COLUMN payload",
    # ),"""
_PAYLOADS_STEP = """\
    step(
        typed_sql("CREATE TABLE payloads (id {uuid} PRIMARY KEY NOT NULL, body {json})"),
        "DROP TABLE payloads",
    ),"""


def test_a_new_python_migration_with_a_step_applies_with_dualdb_and_yoyo(
    dualdb: Callable[..., Result],
    yoyo: Callable[..., Result],
    project: Path,
    db: Callable[[], Target],
) -> None:
    """The template's ``step`` is dualdb's typed one (see the mypy test below); yoyo still
    collects it, whichever tool applies the migration."""
    assert dualdb("new", "--python", "add payloads").returncode == 0
    path = next((project / "migrations").glob("*_add_payloads.py"))
    text = path.read_text()
    assert _EXAMPLE_STEP in text
    path.write_text(text.replace(_EXAMPLE_STEP, _PAYLOADS_STEP))
    assert dualdb("sum").returncode == 0
    result = dualdb("migrate")
    assert result.returncode == 0, result.output
    with db() as target:
        assert "payloads" in tables(target)
    result = yoyo("rollback", "--batch", "--revision", path.stem)
    assert result.returncode == 0, result.output
    with db() as target:
        assert "payloads" not in tables(target)
    result = yoyo("apply", "--batch")
    assert result.returncode == 0, result.output
    with db() as target:
        assert "payloads" in tables(target)


def test_a_new_python_migration_passes_mypy_strict(
    dualdb: Callable[..., Result], project: Path
) -> None:
    """Application projects type-check their migrations too: the generated file imports
    nothing untyped (yoyo ships no type information) and annotates what it defines."""
    assert dualdb("new", "--python", "first").returncode == 0
    assert dualdb("new", "--python", "second").returncode == 0
    created = sorted((project / "migrations").glob("*_first.py")) + sorted(
        (project / "migrations").glob("*_second.py")
    )
    assert "__depends__: set[str] = {" in created[1].read_text()
    mypy = run([str(BIN / "mypy"), "--strict", "--no-incremental", *map(str, created)], cwd=project)
    assert mypy.returncode == 0, mypy.output


def test_the_dualdb_command_documents_every_exit_code(project: Path) -> None:
    result = run([str(BIN / "dualdb"), "--help"], cwd=project)
    assert result.returncode == 0, result.output
    for code in (0, 1, 2, 3, 4, 5, 6):
        assert re.search(rf"^\s+{code}  \S", result.stdout, re.M), code
