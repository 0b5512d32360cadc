"""Failures are clear, carry distinct exit codes, and leave nothing behind."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _migrate_helpers import MIGRATION_IDS, Result, clean_env, execute, live_schema, run

from _network import black_hole
from dualdb.migrate.checksums import CHECKSUM_TABLE
from dualdb.migrate.connection import Target

BROKEN = """-- Creates a table and an index, then fails.
CREATE TABLE broken_half (id INTEGER PRIMARY KEY, note TEXT);
CREATE INDEX broken_half_note_idx ON broken_half (note);
INSERT INTO no_such_table (id) VALUES (1);
"""


def _dualdb(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run([sys.executable, "-m", "dualdb", *args], cwd=cwd, env=env or clean_env())


@pytest.fixture
def broken_migration(project: Path) -> str:
    (project / "migrations" / "9000_broken.sql").write_text(BROKEN)
    return "9000_broken"


def test_a_failing_migration_is_named_with_the_database_error(
    dualdb: Callable[..., Result], broken_migration: str
) -> None:
    result = dualdb("migrate")
    assert result.returncode == 4, result.output
    assert f"migration {broken_migration} failed to apply" in result.stderr
    assert "no_such_table" in result.stderr
    assert f"Nothing of {broken_migration} was kept" in result.stderr


def test_a_failing_migration_leaves_nothing_behind(
    dualdb: Callable[..., Result], broken_migration: str, db: Callable[[], Target]
) -> None:
    assert dualdb("migrate", "--to", MIGRATION_IDS[-1]).returncode == 0
    with db() as target:
        before = live_schema(target)
    assert dualdb("migrate").returncode == 4
    with db() as target:
        assert live_schema(target) == before
        applied = {row[0] for row in execute(target, "SELECT migration_id FROM _yoyo_migration")}
        checksums = {
            row[0] for row in execute(target, f"SELECT migration_id FROM {CHECKSUM_TABLE}")
        }
    assert broken_migration not in applied | checksums


def test_migrations_before_the_failing_one_stay_applied(
    dualdb: Callable[..., Result], broken_migration: str, db: Callable[[], Target]
) -> None:
    assert dualdb("migrate").returncode == 4
    with db() as target:
        applied = {row[0] for row in execute(target, "SELECT migration_id FROM _yoyo_migration")}
    assert applied == set(MIGRATION_IDS)


def test_a_migration_file_that_cannot_load_is_named_before_anything_runs(
    dualdb: Callable[..., Result], project: Path, db: Callable[[], Target]
) -> None:
    (project / "migrations" / "9000_typo.py").write_text("from yoyo import step\nsteps = [\n")
    result = dualdb("migrate")
    assert result.returncode == 4, result.output
    assert "cannot load migration 9000_typo" in result.stderr
    with db() as target:
        assert live_schema(target).tables == {}


def test_a_comment_after_the_last_sql_statement_is_refused(
    dualdb: Callable[..., Result], project: Path
) -> None:
    # SQLite would run it; psycopg2 rejects the trailing comment as an empty query.
    (project / "migrations" / "9000_tail.sql").write_text("CREATE TABLE t (id TEXT);\n-- done\n")
    result = dualdb("migrate")
    assert result.returncode == 4, result.output
    assert "9000_tail.sql: statement 2 is only a comment" in result.stderr


def test_a_missing_migrations_folder_is_an_error(dualdb: Callable[..., Result]) -> None:
    result = dualdb("--migrations", "no-such-folder", "migrate")
    assert result.returncode == 2, result.output
    assert "migrations folder no-such-folder does not exist" in result.stderr


def test_an_empty_migrations_folder_is_an_error(
    dualdb: Callable[..., Result], project: Path
) -> None:
    (project / "empty").mkdir()
    result = dualdb("--migrations", "empty", "migrate")
    assert result.returncode == 2, result.output
    assert "no migrations in empty" in result.stderr


def test_an_unreachable_database_fails_with_exit_code_3(
    backend: str, tmp_path: Path, project: Path
) -> None:
    if backend == "sqlite":
        (tmp_path / "a-file").write_text("not a folder")
        url = f"sqlite:///{tmp_path}/a-file/app.db"
    else:
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"postgresql://app:pw@127.0.0.1:{port}/app"
    result = _dualdb(project, "--database", url, "migrate")
    assert result.returncode == 3, result.output
    assert "cannot" in result.stderr


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung server)."""
    with black_hole() as port:
        yield port


def test_a_hung_postgresql_server_fails_within_the_connect_timeout(
    project: Path, silent_server: int
) -> None:
    url = f"postgresql://app:pw@127.0.0.1:{silent_server}/app"
    started = time.monotonic()
    result = _dualdb(project, "--database", url, "status", env=clean_env(DB_CONNECT_TIMEOUT="2"))
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.output
    assert "connect timeout 2 s" in result.stderr
    assert elapsed < 10


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/app", "not a url", "postgresql://u:p@host:99999/app"]
)
def test_a_bad_url_is_a_usage_error(project: Path, url: str) -> None:
    result = _dualdb(project, "--database", url, "status")
    assert result.returncode == 2, result.output
    assert result.stderr.startswith("dualdb: error: ")


def test_the_password_is_never_printed(project: Path, database_url: str, backend: str) -> None:
    if backend == "sqlite":
        url, secrets = database_url, ["dualdb-test-pw"]
    else:
        good = database_url
        url = good.replace("dualdb-test-pw", "Wr0ng-Secret%25pw")  # wrong, URL-quoted
        secrets = ["dualdb-test-pw", "Wr0ng-Secret%pw", "Wr0ng-Secret%25pw"]
        failed = _dualdb(project, "--database", url, "status")
        assert failed.returncode == 3, failed.output
        assert "authentication failed" in failed.stderr  # (PgBouncer's words: "SASL …")
        url = good
    outputs = [
        _dualdb(project, "--database", url, *args).output
        for args in (["-v", "migrate"], ["-v", "status"], ["check"], ["seed"], ["-v", "reset"])
    ]
    for output in outputs:
        for secret in secrets:
            assert secret not in output


ROUNDING = "CREATE TABLE prices (id BIGINT PRIMARY KEY NOT NULL, amount NUMERIC(20,2));\n"


def test_a_decimal_column_sqlite_would_round_is_refused_there_when_migrating(
    dualdb: Callable[..., Result], project: Path, database_url: str
) -> None:
    """``NUMERIC(20,2)`` is exact on PostgreSQL; on SQLite it has NUMERIC affinity, which
    stores 9.00 as 9 and keeps 15 digits. dualdb refuses every write into such a column;
    its migration runner refuses the migration that declares one, naming the fix."""
    (project / "migrations" / "9000_prices.sql").write_text(ROUNDING)
    result = dualdb("migrate")
    if database_url.startswith("sqlite"):
        assert result.returncode == 4, result.output
        assert "the column prices.amount is not supported on sqlite" in result.stderr
        assert "declare it DECIMAL TEXT" in result.stderr
        assert "Nothing of 9000_prices was kept" in result.stderr
    else:
        assert result.returncode == 0, result.output


@pytest.mark.parametrize("password", ["postgres", "app", "127", "pw?password=x"])
def test_a_password_is_masked_where_it_stands_not_wherever_its_text_occurs(
    project: Path, password: str
) -> None:
    """With the common password ``postgres``, replacing its text everywhere printed
    ``[***ql] cannot connect to ***ql://…``; masking by position keeps the message."""
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    quoted = password.replace("?", "%3F").replace("=", "%3D")
    url = (
        f"postgresql://app:{quoted}@127.0.0.1:{port}/app?sslpassword=k3y&application_name=postgres"
    )
    result = _dualdb(project, "--database", url, "status")
    assert result.returncode == 3, result.output
    assert "[postgresql] cannot connect to postgresql://app:***@127.0.0.1:" in result.stderr
    assert "sslpassword=%2A%2A%2A" in result.stderr or "sslpassword=***" in result.stderr
    assert "k3y" not in result.stderr
    if password not in ("app", "127", "postgres"):
        assert password not in result.stderr and quoted not in result.stderr
