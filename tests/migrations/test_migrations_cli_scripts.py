"""The ``dualdb`` command in scripts: ``--json``, ``migrate --dry-run --sql``, ``mark`` and
``--version``, run as a subprocess on both backends."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _migrate_helpers import BIN, MIGRATION_IDS, Result, execute, run, tables

import dualdb
from dualdb.migrate.connection import Target, open_target
from dualdb.settings import Settings

#: The test server's password (tests/_pgcluster.py): it must never be printed.
TEST_PASSWORD = "dualdb-test-pw"
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _json(result: Result) -> dict[str, Any]:
    """stdout as the one JSON object it must be (nothing else on it)."""
    assert TEST_PASSWORD not in result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict), result.stdout
    return document


def _applied_ids(db: Callable[[], Target]) -> set[str]:
    with db() as target:
        if "_yoyo_migration" not in tables(target):
            return set()
        return {row[0] for row in execute(target, "SELECT migration_id FROM _yoyo_migration")}


# ------------------------------------------------------------------------------- --version


def test_version_prints_the_package_version(project: Path) -> None:
    result = run([str(BIN / "dualdb"), "--version"], cwd=project)
    assert result.returncode == 0, result.output
    assert result.stdout == f"dualdb {dualdb.__version__}\n"


# ---------------------------------------------------------------------------------- --json


def test_status_json_lists_applied_with_times_pending_and_no_lock(
    dualdb: Callable[..., Result], backend: str
) -> None:
    assert dualdb("migrate", "--to", "0001").returncode == 0
    result = dualdb("status", "--json")
    assert result.returncode == 0, result.output
    document = _json(result)
    assert document["command"] == "status"
    assert document["database"].startswith(backend)
    if backend == "postgresql":
        assert ":***@" in document["database"]
    assert [a["id"] for a in document["applied"]] == [MIGRATION_IDS[0]]
    assert UTC_TIME.match(document["applied"][0]["applied_at"]), document
    assert document["pending"] == MIGRATION_IDS[1:]
    assert document["lock"] is None
    assert document["problems"] == []
    assert "Pending" in result.stderr  # the human text, on stderr only


def test_status_json_reports_a_lock_row_with_its_holder(
    dualdb: Callable[..., Result], settings: Settings
) -> None:
    with open_target(settings) as target:  # creates yoyo_lock, as every run does
        execute(
            target,
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, :now, :pid)",
            {"now": datetime.now(UTC).replace(tzinfo=None), "pid": os.getpid()},
        )
    document = _json(dualdb("status", "--json"))
    lock = document["lock"]
    assert lock["pid"] == os.getpid()
    assert UTC_TIME.match(lock["since"]), lock
    assert lock["left_by_killed_run"] is False


def test_check_json_names_each_problem_by_kind_and_gives_the_checklist(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        execute(target, "CREATE TABLE scratch (id INTEGER)")
    result = dualdb("check", "--json")
    assert result.returncode == 1, result.output
    document = _json(result)
    assert document["command"] == "check"
    assert [p["kind"] for p in document["problems"]] == ["drift"]
    assert "scratch" in document["problems"][0]["message"]
    assert "dualdb new" in document["hint"]


def test_check_json_of_an_edited_migration_keeps_the_checksum_exit_code(
    dualdb: Callable[..., Result], migrated: None, project: Path
) -> None:
    edited = project / "migrations" / f"{MIGRATION_IDS[-1]}.sql"
    edited.write_text(edited.read_text() + "\n-- edited\nSELECT 1;\n")
    result = dualdb("check", "--json")
    assert result.returncode == 6, result.output
    kinds = {p["kind"] for p in _json(result)["problems"]}
    assert "edited" in kinds


def test_migrate_json_lists_the_migrations_applied_now_and_nothing_else_on_stdout(
    dualdb: Callable[..., Result],
) -> None:
    assert dualdb("migrate", "--to", "0001").returncode == 0
    result = dualdb("migrate", "--json")
    assert result.returncode == 0, result.output
    document = _json(result)
    assert document["command"] == "migrate"
    assert document["applied_now"] == MIGRATION_IDS[1:]
    assert [a["id"] for a in document["applied"]] == MIGRATION_IDS
    assert document["pending"] == []
    assert f"applied {MIGRATION_IDS[1]} (" in result.stderr


def test_migrate_json_dry_run_lists_what_it_would_apply_and_changes_nothing(
    dualdb: Callable[..., Result], db: Callable[[], Target]
) -> None:
    result = dualdb("migrate", "--json", "--dry-run")
    assert result.returncode == 0, result.output
    document = _json(result)
    assert document["dry_run"] is True
    assert document["applied_now"] == []
    assert document["would_apply"] == MIGRATION_IDS
    with db() as target:
        assert tables(target) == set()


def test_json_errors_are_one_object_with_the_documented_exit_code(
    dualdb: Callable[..., Result], settings: Settings
) -> None:
    usage = dualdb("migrate", "--json", "--to", "9999_nope")
    assert usage.returncode == 2, usage.output
    assert _json(usage)["error"]["kind"] == "usage"
    assert "9999_nope" in _json(usage)["error"]["message"]

    refused = dualdb("status", "--json", "--no-such-option")
    assert refused.returncode == 2, refused.output
    assert _json(refused) == {
        "error": {"kind": "usage", "message": "unrecognized arguments: --no-such-option"}
    }

    with open_target(settings) as target:
        execute(
            target,
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, :now, :pid)",
            {"now": datetime.now(UTC).replace(tzinfo=None), "pid": os.getpid()},
        )
    locked = dualdb("migrate", "--json", "--lock-timeout", "0.5")
    assert locked.returncode == 5, locked.output
    assert _json(locked)["error"]["kind"] == "locked"


def test_json_error_of_an_unreachable_database_masks_the_password(project: Path) -> None:
    url = f"postgresql://someone:{TEST_PASSWORD}@127.0.0.1:1/nothing"
    result = run([str(BIN / "dualdb"), "--database", url, "status", "--json"], cwd=project)
    assert result.returncode == 3, result.output
    error = _json(result)["error"]
    assert error["kind"] == "unreachable"
    assert "someone:***@" in error["message"]


# ---------------------------------------------------------------------- --dry-run --sql


def test_dry_run_sql_prints_each_pending_migrations_sql_for_the_backend(
    dualdb: Callable[..., Result], db: Callable[[], Target], backend: str
) -> None:
    result = dualdb("migrate", "--dry-run", "--sql")
    assert result.returncode == 0, result.output
    for migration_id in MIGRATION_IDS:
        assert f"-- {migration_id}: what it would run on {backend}" in result.stdout
    # 0001 is a Python migration of typed_sql steps: shown with this backend's types.
    blob = "webauthn_public_key BYTEA" if backend == "postgresql" else "webauthn_public_key BLOB"
    assert blob in result.stdout
    assert "CREATE TABLE user_sessions (" in result.stdout  # a .sql migration
    with db() as target:
        assert tables(target) == set()


def test_dry_run_sql_says_a_python_step_cannot_be_shown(
    dualdb: Callable[..., Result], migrated: None, project: Path
) -> None:
    (project / "migrations" / "9000_python.py").write_text(
        "from yoyo import step\n\n"
        "steps = [step('CREATE TABLE t9000 (id INTEGER)', 'DROP TABLE t9000'),\n"
        "         step(lambda conn: None, lambda conn: None)]\n"
    )
    result = dualdb("migrate", "--dry-run", "--sql")
    assert result.returncode == 0, result.output
    assert "CREATE TABLE t9000 (id INTEGER);" in result.stdout
    assert "step 2: Python code, which cannot be shown" in result.stdout
    document = _json(dualdb("migrate", "--dry-run", "--sql", "--json"))
    assert document["sql"]["9000_python"] == [
        {"step": 1, "python": False, "sql": "CREATE TABLE t9000 (id INTEGER)"},
        {"step": 2, "python": True, "sql": None},
    ]


def test_sql_without_dry_run_is_refused(
    dualdb: Callable[..., Result], db: Callable[[], Target]
) -> None:
    result = dualdb("migrate", "--sql")
    assert result.returncode == 2, result.output
    assert "--dry-run" in result.stderr
    assert _applied_ids(db) == set()


# ------------------------------------------------------------------------------------ mark


def test_mark_records_a_migration_and_its_dependencies_without_running_them(
    dualdb: Callable[..., Result], db: Callable[[], Target], yoyo: Callable[..., Result]
) -> None:
    result = dualdb("mark", "0002")
    assert result.returncode == 0, result.output
    assert _applied_ids(db) == set(MIGRATION_IDS[:2])
    with db() as target:
        assert not {"users", "user_sessions"} & tables(target)  # nothing was run
        marks = execute(target, "SELECT migration_id FROM _yoyo_log WHERE operation = 'mark'")
    assert sorted(row[0] for row in marks) == sorted(MIGRATION_IDS[:2])
    listed = yoyo("list")  # plain yoyo sees the same bookkeeping
    assert listed.returncode == 0, listed.output
    assert re.search(rf"^A\s+{MIGRATION_IDS[1]}\b", listed.stdout, re.M), listed.stdout
    assert re.search(rf"^U\s+{MIGRATION_IDS[2]}\b", listed.stdout, re.M), listed.stdout
    status = _json(dualdb("status", "--json"))
    assert status["pending"] == MIGRATION_IDS[2:]
    assert status["problems"] == []  # checksums were recorded with the marks


def test_mark_all_is_a_baseline_after_which_migrate_has_nothing_to_do(
    dualdb: Callable[..., Result], db: Callable[[], Target]
) -> None:
    result = dualdb("mark", "--all", "--json")
    assert result.returncode == 0, result.output
    assert _json(result)["marked_now"] == MIGRATION_IDS
    assert _applied_ids(db) == set(MIGRATION_IDS)
    again = dualdb("migrate")
    assert again.returncode == 0, again.output
    assert "Nothing to apply" in again.stdout


def test_mark_refuses_an_unknown_id_and_marks_nothing(
    dualdb: Callable[..., Result], db: Callable[[], Target]
) -> None:
    result = dualdb("mark", MIGRATION_IDS[0], "9999_nope")
    assert result.returncode == 2, result.output
    assert "9999_nope" in result.stderr
    assert _applied_ids(db) == set()
    assert dualdb("mark").returncode == 2  # nothing named, no --all


def test_mark_waits_for_the_migration_lock(
    dualdb: Callable[..., Result], settings: Settings, db: Callable[[], Target]
) -> None:
    with open_target(settings) as target:
        execute(
            target,
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, :now, :pid)",
            {"now": datetime.now(UTC).replace(tzinfo=None), "pid": os.getpid()},
        )
    result = dualdb("mark", "--all", "--lock-timeout", "0.5")
    assert result.returncode == 5, result.output
    assert f"still held by process {os.getpid()}" in result.stderr
    assert _applied_ids(db) == set()


# --------------------------------------------------------------------------------- check


def test_the_drift_message_of_check_gives_the_migration_checklist(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        execute(target, "CREATE TABLE scratch (id INTEGER)")
    result = dualdb("check")
    assert result.returncode == 1, result.output
    text = " ".join(result.stdout.split())
    steps = ["dualdb new", "edit", "dualdb sum", "dualdb schema dump", "dualdb migrate"]
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions), text
    assert text.index("`dualdb check`") > positions[-1]


def test_check_of_a_database_with_pending_migrations_says_to_migrate_first(
    dualdb: Callable[..., Result],
) -> None:
    assert dualdb("migrate", "--to", MIGRATION_IDS[0]).returncode == 0

    result = dualdb("check", "--json")

    document = _json(result)
    assert result.returncode == 1, result.output
    assert {"pending", "drift"} <= {p["kind"] for p in document["problems"]}
    assert document["hint"].endswith("run `dualdb migrate`, then `dualdb check` again.")
