"""Plain ``yoyo`` on the same migrations folder, against both backends, and its interplay
with ``dualdb`` on one database: both use yoyo's bookkeeping, so either can follow the other."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from _migrate_helpers import (
    BIN,
    MIGRATION_IDS,
    REPO,
    YOYO_TABLES,
    Result,
    clean_env,
    committed_schema,
    live_schema,
    run,
    tables,
)

from _pgbouncer import driver_url
from dualdb.migrate.connection import Target
from dualdb.migrate.schema import diff


def test_yoyo_apply_from_the_repository_root_migrates_the_database(
    database_url: str, db: Callable[[], Target]
) -> None:
    # The repository's own yoyo.ini, as a user's deploy script would run it.
    url = driver_url(database_url)  # (libpq's URL: no dualdb parameter)
    result = run([str(BIN / "yoyo"), "apply", "--batch", "--database", url], cwd=REPO)
    assert result.returncode == 0, result.output
    with db() as target:
        assert diff(committed_schema(), live_schema(target)) == []


def test_yoyo_list_shows_every_migration_applied(
    yoyo: Callable[..., Result], migrated: None
) -> None:
    result = yoyo("list")
    assert result.returncode == 0, result.output
    for migration_id in MIGRATION_IDS:
        assert f"A         {migration_id}" in result.stdout, result.stdout


def test_yoyo_apply_twice_changes_nothing(
    yoyo: Callable[..., Result], db: Callable[[], Target]
) -> None:
    assert yoyo("apply", "--batch").returncode == 0
    with db() as target:
        before = live_schema(target)
    again = yoyo("apply", "--batch")
    assert again.returncode == 0, again.output
    with db() as target:
        assert live_schema(target) == before


def test_yoyo_rollback_all_leaves_no_dualdb_tables(
    yoyo: Callable[..., Result], db: Callable[[], Target]
) -> None:
    assert yoyo("apply", "--batch").returncode == 0
    result = yoyo("rollback", "--all", "--batch")
    assert result.returncode == 0, result.output
    with db() as target:
        assert tables(target) <= YOYO_TABLES


def test_yoyo_ini_default_migrates_data_app_db_without_any_environment(tmp_path: Path) -> None:
    project = tmp_path / "fresh-clone"
    shutil.copytree(REPO / "migrations", project / "migrations")
    shutil.copy(REPO / "yoyo.ini", project / "yoyo.ini")
    (project / "data").mkdir()  # committed as data/.gitkeep
    result = run([str(BIN / "yoyo"), "apply"], cwd=project, env=clean_env())
    assert result.returncode == 0, result.output
    # (closing(): a sqlite3 connection's own `with` commits but does not close it, and
    # Python 3.13 warns about a connection left to the garbage collector)
    with contextlib.closing(sqlite3.connect(project / "data" / "app.db")) as conn:
        names = {row[0] for row in conn.execute("SELECT migration_id FROM _yoyo_migration")}
    assert names == set(MIGRATION_IDS)


def test_dualdb_finds_nothing_to_do_after_yoyo_and_records_the_checksums(
    yoyo: Callable[..., Result], dualdb: Callable[..., Result]
) -> None:
    assert yoyo("apply", "--batch").returncode == 0
    result = dualdb("migrate")
    assert result.returncode == 0, result.output
    assert "Nothing to apply" in result.stdout
    assert "Recorded the checksum of 0001_users: applied outside dualdb" in result.stdout


def test_yoyo_finds_nothing_to_do_after_dualdb(
    yoyo: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        log_before = target.backend.execute("SELECT count(*) FROM _yoyo_log").fetchone()
    assert yoyo("apply", "--batch").returncode == 0
    with db() as target:
        assert target.backend.execute("SELECT count(*) FROM _yoyo_log").fetchone() == log_before


def test_a_migration_reapplied_by_yoyo_after_an_edit_is_not_reported_as_edited(
    yoyo: Callable[..., Result], dualdb: Callable[..., Result], migrated: None, project: Path
) -> None:
    newest = MIGRATION_IDS[-1]
    assert yoyo("rollback", "--batch").returncode == 0  # batch mode: the newest one only
    for path in (project / "migrations").glob(f"{newest}.*"):
        path.write_text("-- edited while rolled back\n" + path.read_text())
    assert yoyo("apply", "--batch").returncode == 0
    result = dualdb("status")
    assert result.returncode == 0, result.output
    assert f"{newest}: re-applied outside dualdb" in result.stdout
