"""A project of the user's own on dualdb's shipped schema: ``dualdb init``, the package
source ``package:dualdb:migrations`` read by plain yoyo and by ``dualdb``, and the checklist
that extends ``users`` with application columns, on both backends."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from _migrate_helpers import BIN, MIGRATION_IDS, REPO, Result, run

import dualdb
from _pgbouncer import driver_url
from dualdb import Param, Query, auth

Dualdb = Callable[..., Result]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An empty folder: the user's new project."""
    root = tmp_path / "app"
    root.mkdir()
    return root


@pytest.fixture
def cli(app: Path, database_url: str) -> Dualdb:
    """``dualdb ARGS`` in the user's project, on this test's database (``init`` takes none)."""

    def invoke(*args: str) -> Result:
        database = [] if args[:1] == ("init",) else ["--database", database_url]
        return run([sys.executable, "-m", "dualdb", *database, *args], cwd=app)

    return invoke


def _init(app: Path) -> Result:
    result = run([sys.executable, "-m", "dualdb", "init"], cwd=app)
    assert result.returncode == 0, result.output
    return result


# --------------------------------------------------------------------------------- dualdb init


def test_init_scaffolds_a_project_on_the_shipped_schema(app: Path) -> None:
    result = _init(app)

    for name in (
        "yoyo.ini",
        "migrations/0001_app.py",
        "migrations/dualdb.sum",
        "migrations/schema.json",
        "seeds/dev.py",
        ".env.example",
        ".gitignore",
    ):
        assert (app / name).is_file(), name
        assert f"Created {name}" in result.stdout
    assert (
        "sources = package:dualdb:migrations %(here)s/migrations" in (app / "yoyo.ini").read_text()
    )
    first = (app / "migrations/0001_app.py").read_text()
    assert f"__depends__: set[str] = {{{MIGRATION_IDS[-1]!r}}}" in first
    assert ".env" in (app / ".gitignore").read_text().splitlines()


def test_init_keeps_every_file_that_exists(app: Path) -> None:
    (app / "yoyo.ini").write_text("# mine\n")
    (app / "seeds").mkdir()
    (app / "seeds/dev.py").write_text("# my seeds\n")

    result = _init(app)
    again = _init(app)

    assert (app / "yoyo.ini").read_text() == "# mine\n"
    assert (app / "seeds/dev.py").read_text() == "# my seeds\n"
    assert "Kept    yoyo.ini" in result.stdout
    assert "Created" not in again.stdout
    assert sorted(p.name for p in (app / "migrations").iterdir()) == [
        "0001_app.py",
        "dualdb.sum",
        "schema.json",
    ]


# ------------------------------------------------------------------- migrating the project


def test_an_initialised_project_migrates_and_passes_check(app: Path, cli: Dualdb) -> None:
    _init(app)

    migrated = cli("migrate")
    checked = cli("check")

    assert migrated.returncode == 0, migrated.output
    assert [f"applied {mid}" in migrated.stdout for mid in [*MIGRATION_IDS, "0001_app"]] == [
        True
    ] * (len(MIGRATION_IDS) + 1)
    assert checked.returncode == 0, checked.output
    assert "package:dualdb:migrations" not in checked.output  # the folder, resolved
    assert str(REPO / "src/dualdb/migrations") in checked.stdout


def test_plain_yoyo_applies_the_shipped_schema_then_the_projects_own(
    app: Path, cli: Dualdb, database_url: str
) -> None:
    _init(app)

    applied = run([str(BIN / "yoyo"), "apply", "--database", driver_url(database_url)], cwd=app)
    status = cli("status", "--json")

    assert applied.returncode == 0, applied.output
    assert status.returncode == 0, status.output
    assert '"pending": []' in status.stdout
    assert cli("check").returncode == 0


async def test_the_checklist_extends_users_and_auth_reads_the_new_column_in_one_query(
    app: Path, cli: Dualdb, database_url: str
) -> None:
    _init(app)
    new = cli("new", "add", "user", "plan")
    migration = app / "migrations/0002_add_user_plan.sql"
    assert new.returncode == 0, new.output
    assert "-- depends: 0001_app" in migration.read_text()
    with migration.open("a") as file:
        file.write("ALTER TABLE users ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';\n")
    with (app / "migrations/0002_add_user_plan.rollback.sql").open("a") as file:
        file.write("ALTER TABLE users DROP COLUMN plan;\n")
    assert cli("migrate").returncode == 0

    stale = cli("check")
    steps = [cli("sum"), cli("schema", "dump"), cli("check")]

    assert stale.returncode == 6  # (dualdb.sum disagrees with the files: EXIT_CHECKSUM)
    assert "dualdb.sum" in stale.output
    assert [step.returncode for step in steps] == [0, 0, 0], steps[-1].output

    users = auth.USERS_TABLE
    by_id = Query.from_(users).select(*auth.USER_COLUMNS, users.plan).where(users.id == Param("id"))
    set_plan = Query.update(users).set(users.plan, Param("plan")).where(users.id == Param("id"))
    async with dualdb.connect(database_url) as db:
        async with db.transaction() as tx:
            user = await auth.create_user(tx, "ada@example.com", name="Ada")
            await tx.execute(set_plan, plan="pro", id=user.id)
        row = await db.fetch_one(by_id, id=user.id)
        assert row is not None
        assert auth.user_from_row(row) == user
        assert row["plan"] == "pro"
        assert await auth.get_user(db, user.id) == user  # auth's own queries still work


# ------------------------------------------------------------------------------ refusals


def test_an_own_migration_reusing_a_shipped_id_is_refused(app: Path, cli: Dualdb) -> None:
    _init(app)
    shutil.copy(REPO / "migrations/0003_oauth.sql", app / "migrations/0003_oauth.sql")

    result = cli("migrate")

    assert result.returncode == 2
    assert "'0003_oauth'" in result.stderr
    assert "upstream" in result.stderr


def test_an_edited_upstream_migration_fails_check_naming_its_folder(app: Path, cli: Dualdb) -> None:
    _init(app)
    vendored = app / "vendor"
    shutil.copytree(REPO / "migrations", vendored, ignore=shutil.ignore_patterns("__pycache__"))
    assert cli("--migrations", "vendor", "--migrations", "migrations", "migrate").returncode == 0
    with (vendored / "0003_oauth.sql").open("a") as file:
        file.write("\n-- edited\nSELECT 1;\n")

    result = cli("--migrations", "vendor", "--migrations", "migrations", "check")

    assert result.returncode == 6
    assert "vendor: 0003_oauth.sql changed since dualdb.sum was written" in result.stdout


def test_a_package_source_that_is_not_installed_is_a_clear_error(app: Path, cli: Dualdb) -> None:
    result = cli("--migrations", "package:no_such_package:migrations", "status")

    assert result.returncode == 2
    assert "no installed package 'no_such_package'" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_refuses_an_own_migration_id_of_the_shipped_schema_before_writing_anything(
    app: Path,
) -> None:
    (app / "migrations").mkdir()
    shutil.copy(REPO / "migrations/0003_oauth.sql", app / "migrations/0003_oauth.sql")

    result = run([sys.executable, "-m", "dualdb", "init"], cwd=app)

    assert result.returncode == 2
    assert "'0003_oauth'" in result.stderr
    assert sorted(p.name for p in app.iterdir()) == ["migrations"]


def test_init_over_existing_migrations_writes_their_sum(app: Path) -> None:
    (app / "migrations").mkdir()
    (app / "migrations/0001_notes.sql").write_text("CREATE TABLE notes (id INTEGER);\n")

    _init(app)

    assert "0001_notes.sql" in (app / "migrations/dualdb.sum").read_text()


@pytest.mark.parametrize("command", [["new", "add", "thing"], ["sum"], ["schema", "dump"]])
def test_writing_commands_outside_a_project_refuse_and_suggest_init(
    app: Path, command: list[str]
) -> None:
    result = run([sys.executable, "-m", "dualdb", *command], cwd=app)

    assert result.returncode == 2
    assert "dualdb init" in result.stderr
    assert list(app.iterdir()) == []
