"""The migration lock: concurrent runs apply each migration once; a lock left by a killed run
is reported with how to clear it; a held lock makes a run wait, then give up clearly."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _migrate_helpers import MIGRATION_IDS, Result, clean_env, execute

from dualdb.migrate.connection import Target, open_target
from dualdb.settings import Settings

SLOW_MIGRATION = '''
"""Takes long enough for concurrent runs to overlap."""
import time

from yoyo import step

steps = [step(lambda conn: time.sleep(1.5), lambda conn: None)]
'''


def _hold_lock(settings: Settings, pid: int) -> None:
    """Write yoyo's lock row for ``pid`` (as a run that never finished would leave it)."""
    with open_target(settings) as target:  # creates yoyo_lock, as every run does
        execute(
            target,
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, :now, :pid)",
            {"now": datetime.now(UTC).replace(tzinfo=None), "pid": pid},
        )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_concurrent_migrate_runs_apply_each_migration_once(
    project: Path, database_url: str, db: Callable[[], Target]
) -> None:
    (project / "migrations" / "9000_slow.py").write_text(SLOW_MIGRATION)
    command = [sys.executable, "-m", "dualdb", "--database", database_url, "migrate"]
    runs = [
        subprocess.Popen(
            command,
            cwd=project,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    stdout = "".join(out for out, _ in outputs)
    for migration_id in [*MIGRATION_IDS, "9000_slow"]:
        assert stdout.count(f"applied {migration_id} (") == 1, stdout
    assert stdout.count("Nothing to apply") == 3, stdout
    with db() as target:
        applies = execute(
            target,
            "SELECT migration_id, count(*) FROM _yoyo_log WHERE operation = 'apply' "
            "GROUP BY migration_id",
        )
    assert sorted(applies) == sorted((m, 1) for m in [*MIGRATION_IDS, "9000_slow"])


def test_a_lock_left_by_a_killed_run_is_reported_with_how_to_clear_it(
    dualdb: Callable[..., Result], settings: Settings
) -> None:
    pid = _dead_pid()
    _hold_lock(settings, pid)
    result = dualdb("migrate", "--lock-timeout", "1")
    assert result.returncode == 5, result.output
    assert f"process {pid}" in result.stderr
    assert "dualdb migrate --break-lock" in result.stderr
    assert "yoyo break-lock" in result.stderr


def test_break_lock_removes_a_stale_lock_and_migrates(
    dualdb: Callable[..., Result], settings: Settings, db: Callable[[], Target]
) -> None:
    pid = _dead_pid()
    _hold_lock(settings, pid)
    result = dualdb("migrate", "--break-lock")
    assert result.returncode == 0, result.output
    assert f"Removed the migration lock held by process {pid}" in result.stdout
    with db() as target:
        assert execute(target, "SELECT count(*) FROM yoyo_lock") == [(0,)]
        assert len(execute(target, "SELECT migration_id FROM _yoyo_migration")) == len(
            MIGRATION_IDS
        )


def test_a_held_lock_makes_migrate_wait_for_the_lock_timeout_then_fail(
    dualdb: Callable[..., Result], settings: Settings
) -> None:
    _hold_lock(settings, os.getpid())  # a live process: the lock may be in use
    started = time.monotonic()
    result = dualdb("migrate", "--lock-timeout", "1.5")
    waited = time.monotonic() - started
    assert result.returncode == 5, result.output
    assert waited >= 1.5
    assert f"still held by process {os.getpid()}" in result.stderr
    assert "Waiting up to 1.5 s" in result.stdout


# ----------------------------------------------------------- crash-safe: no manual step


def _start_slow_run(project: Path, database_url: str, seconds: float = 60) -> subprocess.Popen[str]:
    """A ``dualdb migrate`` that is inside a migration of ``seconds`` when this returns."""
    (project / "migrations" / "9000_slow.py").write_text(
        SLOW_MIGRATION.replace("time.sleep(1.5)", f"time.sleep({seconds})")
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "dualdb", "--database", database_url, "migrate"],
        cwd=project,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stdout is not None
    for line in run.stdout:
        if "9000_slow" in line or "Applying" in line:
            break
    time.sleep(0.5)  # (inside the slow step by now: the others are quick)
    assert run.poll() is None, run.stderr.read() if run.stderr else ""
    return run


def test_a_run_killed_mid_migration_needs_no_manual_step(
    project: Path, database_url: str, dualdb: Callable[..., Result], db: Callable[[], Target]
) -> None:
    """SIGKILL (a container's OOM kill, ``docker kill``): the next ``dualdb migrate``
    proceeds at once, without ``--break-lock``, and nothing is half-applied."""
    run = _start_slow_run(project, database_url)
    run.kill()
    run.communicate(timeout=30)
    (project / "migrations" / "9000_slow.py").write_text(SLOW_MIGRATION)
    started = time.monotonic()
    result = dualdb("migrate", "--lock-timeout", "10")
    assert result.returncode == 0, result.output
    assert time.monotonic() - started < 10
    with db() as target:
        applies = execute(
            target,
            "SELECT migration_id, count(*) FROM _yoyo_log WHERE operation = 'apply' "
            "GROUP BY migration_id",
        )
        assert execute(target, "SELECT count(*) FROM yoyo_lock") == [(0,)]
    assert sorted(applies) == sorted((m, 1) for m in [*MIGRATION_IDS, "9000_slow"])


def test_status_after_a_killed_run_does_not_ask_for_a_manual_step(
    project: Path, database_url: str, dualdb: Callable[..., Result]
) -> None:
    """PostgreSQL's lock went with the killed run's transaction; SQLite's row stays until
    the next run, which removes it by itself: status says so, not "--break-lock"."""
    run = _start_slow_run(project, database_url)
    run.kill()
    run.communicate(timeout=30)
    status = dualdb("status")
    assert status.returncode == 0, status.output
    assert "--break-lock" not in status.stdout
    lock_lines = [line for line in status.stdout.splitlines() if line.startswith("Lock:")]
    if lock_lines:
        assert lock_lines[0].startswith(f"Lock: left by process {run.pid} since ")
        assert lock_lines[0].endswith(", a run that was killed; the next")
        assert "`dualdb migrate` removes it by itself" in status.stdout


def test_a_live_run_is_waited_for_and_never_broken(
    project: Path, database_url: str, dualdb: Callable[..., Result]
) -> None:
    """A run that is alive holds the lock even where its pid means nothing here (another
    container): a second run waits, says a migration is running, and ``--break-lock``
    does not take the lock from it (on SQLite it failed with a raw "database is locked")."""
    run = _start_slow_run(project, database_url)
    try:
        status = dualdb("status")
        assert f"process {run.pid}" in status.stdout, status.output
        for extra in ([], ["--break-lock"]):
            result = dualdb("migrate", "--lock-timeout", "1", *extra)
            assert result.returncode == 5, result.output
            assert "A migration is running" in result.stderr
            assert "database is locked" not in result.output
        assert run.poll() is None  # untouched
    finally:
        run.kill()
        run.communicate(timeout=30)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_migrate_puts_a_sqlite_file_in_wal_mode(
    backend: str, dualdb: Callable[..., Result], settings: Settings
) -> None:
    """As the application's connections do: a reader never blocks on a migration."""
    sqlite3.connect(settings.sqlite_file).close()  # a new file: rollback-journal mode
    result = dualdb("migrate")
    assert result.returncode == 0, result.output
    with contextlib.closing(sqlite3.connect(settings.sqlite_file)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_seed_waits_for_a_running_migration(
    project: Path, database_url: str, dualdb: Callable[..., Result], backend: str
) -> None:
    """Seeding beside a migration saw it unfinished ("not migrated") or seeded a schema
    being changed; it now waits for the lock, then seeds the migrated database."""
    migrate = _start_slow_run(project, database_url, seconds=2)
    seed = dualdb("seed", *(["--allow-production"] if backend == "postgresql" else []))
    out, err = migrate.communicate(timeout=60)
    assert migrate.returncode == 0, out + err
    assert seed.returncode == 0, seed.output
