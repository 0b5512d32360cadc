"""The schema itself: every migration applies and rolls back, the live result matches the
committed snapshot on both backends (parity), and the constraints hold in the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from _migrate_helpers import (
    MIGRATION_IDS,
    REPO,
    YOYO_TABLES,
    Result,
    committed_schema,
    execute,
    live_schema,
    tables,
)

from dualdb.migrate.backends import enforce_foreign_keys
from dualdb.migrate.connection import Target
from dualdb.migrate.introspect import introspect
from dualdb.migrate.runner import Runner
from dualdb.migrate.schema import Schema, diff

NOW = "2024-01-01 00:00:00.000000+00:00"


def _insert_user(target: Target, user_id: str, email: str, role: str = "user") -> None:
    execute(
        target,
        "INSERT INTO users (id, email, role, created_at, updated_at) "
        "VALUES (:id, :email, :role, :now, :now)",
        {"id": user_id, "email": email, "role": role, "now": NOW},
    )


def test_each_migration_applies_and_rolls_back_in_turn(
    runner: Runner, db: Callable[[], Target]
) -> None:
    schemas = [Schema({})]  # the live schema after 0, 1, 2, … migrations
    for migration_id in MIGRATION_IDS:
        assert runner.migrate(to=migration_id) == [migration_id]
        with db() as target:
            schemas.append(live_schema(target))
        assert schemas[-1] != schemas[-2], f"{migration_id} changed nothing"
    for position in reversed(range(len(MIGRATION_IDS))):
        assert runner.rollback() == [MIGRATION_IDS[position]]
        with db() as target:
            assert diff(schemas[position], live_schema(target)) == []


def test_migrating_twice_changes_nothing(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        before = (live_schema(target), execute(target, "SELECT count(*) FROM _yoyo_log"))
    again = dualdb("migrate")
    assert again.returncode == 0, again.output
    assert "Nothing to apply" in again.stdout
    with db() as target:
        assert (live_schema(target), execute(target, "SELECT count(*) FROM _yoyo_log")) == before


def test_live_schema_matches_the_committed_snapshot(
    migrated: None, db: Callable[[], Target]
) -> None:
    # Run on both backends, this proves SQLite and PostgreSQL end with the same schema.
    with db() as target:
        assert diff(committed_schema(), live_schema(target)) == []


def test_committed_snapshot_is_what_schema_dump_writes(
    dualdb: Callable[..., Result], tmp_path: Path
) -> None:
    output = tmp_path / "schema.json"
    result = dualdb("schema", "dump", "--output", str(output))
    assert result.returncode == 0, result.output
    assert output.read_text() == (REPO / "migrations" / "schema.json").read_text()


def test_rolling_back_everything_leaves_no_dualdb_tables(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    result = dualdb("rollback", "--all")
    assert result.returncode == 0, result.output
    with db() as target:
        assert tables(target) <= YOYO_TABLES


def test_two_ascii_spellings_of_one_email_cannot_both_exist(
    migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        _insert_user(target, "01890000-0000-7000-8000-00000000000a", "ada@example.com")
        with pytest.raises(target.backend.driver.IntegrityError):
            _insert_user(target, "01890000-0000-7000-8000-00000000000b", "Ada@Example.com")


def test_role_outside_user_and_admin_is_rejected(migrated: None, db: Callable[[], Target]) -> None:
    with db() as target, pytest.raises(target.backend.driver.IntegrityError):
        _insert_user(target, "01890000-0000-7000-8000-00000000000a", "x@example.com", "root")


def test_user_id_cannot_be_null(migrated: None, db: Callable[[], Target]) -> None:
    with db() as target, pytest.raises(target.backend.driver.IntegrityError):
        execute(
            target,
            "INSERT INTO users (id, email, created_at, updated_at) VALUES (NULL, 'n@x.io', :t, :t)",
            {"t": NOW},
        )


def test_deleting_a_user_deletes_their_sessions_and_linked_accounts(
    migrated: None, db: Callable[[], Target]
) -> None:
    user = "01890000-0000-7000-8000-00000000000a"
    with db() as target:
        enforce_foreign_keys(target.backend)
        _insert_user(target, user, "gone@example.com")
        execute(
            target,
            "INSERT INTO user_sessions (id, user_id, token_hash, expires_at, created_at, "
            "last_seen_at) VALUES (:id, :user, 'h', :t, :t, :t)",
            {"id": "01890000-0000-7000-8000-0000000000b1", "user": user, "t": NOW},
        )
        execute(
            target,
            "INSERT INTO oauth_providers (id, user_id, provider, provider_id, created_at, "
            "updated_at) VALUES (:id, :user, 'github', '42', :t, :t)",
            {"id": "01890000-0000-7000-8000-0000000000c1", "user": user, "t": NOW},
        )
        execute(target, "DELETE FROM users WHERE id = :id", {"id": user})
        counts = [
            execute(target, f"SELECT count(*) FROM {table}")[0][0]
            for table in ("user_sessions", "oauth_providers")
        ]
    assert counts == [0, 0]


def test_snapshot_catches_a_nullable_non_integer_primary_key_on_sqlite(
    backend: str, db: Callable[[], Target], runner: Runner
) -> None:
    runner.migrate(to="0001")  # any migration, so that the database exists
    with db() as target:
        execute(target, "CREATE TABLE quirk (id UUID PRIMARY KEY)")
        column = introspect(target.backend).tables["quirk"].columns["id"]
    # SQLite lets a non-INTEGER primary key hold NULL unless declared NOT NULL.
    assert column.nullable is (backend == "sqlite")


def test_check_passes_on_a_freshly_migrated_database(
    dualdb: Callable[..., Result], migrated: None
) -> None:
    result = dualdb("check")
    assert result.returncode == 0, result.output
    assert "OK:" in result.stdout


def test_check_names_a_dropped_index(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        execute(target, "DROP INDEX users_email_idx")
    result = dualdb("check")
    assert result.returncode == 1, result.output
    assert "users: index users_email_idx missing" in result.stdout


def test_check_names_a_column_added_by_hand(
    dualdb: Callable[..., Result], migrated: None, db: Callable[[], Target]
) -> None:
    with db() as target:
        execute(target, "ALTER TABLE oauth_sessions ADD COLUMN nonce TEXT")
    result = dualdb("check")
    assert result.returncode == 1, result.output
    assert "oauth_sessions.nonce: column not in the snapshot" in result.stdout
