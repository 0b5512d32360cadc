"""The migration lock: concurrent runs apply each migration once; a lock left by a killed run
is reported with how to clear it; a held lock makes a run wait, then give up clearly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

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
