"""The pytest plugin (dualdb.testing), seen from a user's project run with pytester.

The inner runs are in-process and reuse the session's PostgreSQL server
(``--dualdb-postgresql-url``); each runs the backend of the outer test alone.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

import dualdb
from dualdb.errors import ConfigurationError, HarnessError
from dualdb.migrate.scaffold import init_project
from dualdb.testing import _cluster, migration_sources

pytest_plugins = ["pytester"]

# An in-process run forgets the modules it imported when it ends, and the drivers' C parts
# do not survive being imported twice (psycopg2 keeps the classes of its first
# psycopg2.sql: a TypeError; _sqlite3 and asyncpg's protocol: a crash of the interpreter).
# Imported here, before any inner run, they are kept.
_KEPT = [
    importlib.import_module(name)
    for name in (
        "psycopg2.extensions",
        "psycopg2.sql",
        "sqlite3",
        "zoneinfo",
        "aiosqlite",
        "asyncpg",
        "dualdb.migrate",
        "dualdb.dialects.sqlite.driver",
        "dualdb.dialects.sqlite.migrate",
        "dualdb.dialects.postgres.driver",
        "dualdb.dialects.postgres.migrate",
    )
]

DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _documented_project() -> dict[str, str]:
    """The user's project docs/testing.md shows: its test file, migration and settings."""
    files: dict[str, str] = {}
    for language, body in _BLOCK.findall(DOCS_PAGE.read_text(encoding="utf-8")):
        named = re.search(r"^# file: (\S+)$", body, re.MULTILINE)
        if language == "python" and named:
            files[named.group(1)] = body
        elif language == "sql":
            files.setdefault("migrations/0001_notes.sql", body)
        elif language == "toml":
            files.setdefault("pyproject.toml", body)
    assert set(files) == {"tests/test_notes.py", "migrations/0001_notes.sql", "pyproject.toml"}
    return files


SETTINGS = """[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""


def _project(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    for name, text in {"pyproject.toml": SETTINGS, **files}.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _run(
    pytester: pytest.Pytester, backend: str, request: pytest.FixtureRequest, *args: str
) -> pytest.RunResult:
    options = [f"--dualdb-backends={backend}", "-p", "no:cacheprovider", "-v"]
    if backend == "postgresql":
        options.append(f"--dualdb-postgresql-url={request.getfixturevalue('pg_server').url}")
    return pytester.runpytest_inprocess(*options, *args)


def test_the_documented_project_passes_with_each_isolation(
    pytester: pytest.Pytester, backend: str, request: pytest.FixtureRequest
) -> None:
    # Rollback isolation: the note committed by the code under test in the first test is
    # absent from the second; truncate: the row committed through a connection of the
    # test's own is gone in the next test; database: a copy of its own.
    _project(pytester, _documented_project())
    result = _run(pytester, backend, request)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([f"*test_a_note_is_added[[]{backend}[]] PASSED*"])


AUTH_TESTS = """
from dualdb import auth


async def test_sign_up(dualdb_db):
    await auth.create_user(dualdb_db, "ada@example.com", name="Ada")
    assert (await auth.list_users(dualdb_db)).total == 1


async def test_the_user_of_the_test_before_is_gone(dualdb_db):
    assert (await auth.list_users(dualdb_db)).total == 0
"""


def test_a_project_made_by_dualdb_init_gets_the_shipped_schema(
    pytester: pytest.Pytester, backend: str, request: pytest.FixtureRequest
) -> None:
    # yoyo.ini's sources: package:dualdb:migrations, then the project's own folder.
    init_project(pytester.path)
    _project(pytester, {"tests/test_auth.py": AUTH_TESTS})
    result = _run(pytester, backend, request)
    result.assert_outcomes(passed=2)


def test_a_failing_migration_fails_the_tests_with_the_migration_error(
    pytester: pytest.Pytester, backend: str, request: pytest.FixtureRequest
) -> None:
    _project(
        pytester,
        {
            "migrations/0001_ok.sql": "CREATE TABLE a (x TEXT);",
            "migrations/0002_broken.sql": "CREATE TABLE b (x TEXT REFERENCES nowhere_at_all (x) (;",
            "tests/test_x.py": "def test_x(dualdb_url):\n    pass\n",
        },
    )
    result = _run(pytester, backend, request)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*could not migrate the {backend} test database*", "*MigrationFailed*0002_broken*"]
    )


def test_dualdb_backends_selects_the_backends_and_refuses_unknown_ones(
    pytester: pytest.Pytester, backend: str, request: pytest.FixtureRequest
) -> None:
    _project(pytester, {"tests/test_x.py": "def test_x(dualdb_backend):\n    pass\n"})
    result = _run(pytester, backend, request)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*test_x[[]{backend}[]] PASSED*"])
    refused = pytester.runpytest_inprocess("--dualdb-backends=sqlite,oracle")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*unknown [[]'oracle'[]]; choose from sqlite, postgresql*"])


def test_migration_sources_come_from_the_option_then_yoyo_ini_then_migrations(
    tmp_path: Path,
) -> None:
    assert migration_sources(tmp_path) == []
    (tmp_path / "migrations").mkdir()
    assert migration_sources(tmp_path) == [tmp_path / "migrations"]
    (tmp_path / "yoyo.ini").write_text("[DEFAULT]\nsources = %(here)s/a %(here)s/b\n")
    assert migration_sources(tmp_path) == [tmp_path / "a", tmp_path / "b"]
    assert migration_sources(tmp_path, ["c"]) == [tmp_path / "c"]
    (tmp_path / "yoyo.ini").write_text(
        "[DEFAULT]\nsources = package:dualdb:migrations %(here)s/migrations\n"
    )
    shipped = Path(dualdb.__file__).parent / "migrations"
    assert migration_sources(tmp_path) == [shipped, tmp_path / "migrations"]
    (tmp_path / "yoyo.ini").write_text("[DEFAULT]\nsources = package:no_such_app:migrations\n")
    with pytest.raises(ConfigurationError, match="no installed package 'no_such_app'"):
        migration_sources(tmp_path)


@pytest.mark.parametrize("ci", ["true", ""])
def test_a_postgresql_server_that_cannot_be_reached_fails_in_ci_and_skips_elsewhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    _project(pytester, {"tests/test_x.py": "def test_x(dualdb_url):\n    pass\n"})
    result = pytester.runpytest_inprocess(
        "--dualdb-backends=postgresql",
        "--dualdb-postgresql-url=postgresql://someone:hunter2-secret@127.0.0.1:1/db",
        "-rs",
    )
    if ci:
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*PostgreSQL test server unavailable*", "*mandatory*"])
    else:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines(["*SKIPPED*PostgreSQL test server unavailable*"])
    assert "hunter2-secret" not in result.stdout.str() + result.stderr.str()


def test_testing_on_postgresql_without_its_extra_says_what_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain `pip install dualdb`: no psycopg2 (None in sys.modules makes importing it
    # fail as a missing package does), for this run only.
    monkeypatch.setenv("CI", "")
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    _project(pytester, {"tests/test_x.py": "def test_x(dualdb_url):\n    pass\n"})

    result = pytester.runpytest_inprocess("--dualdb-backends=postgresql", "-rs")

    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*pip install 'dualdb[[]postgresql[]]'*"])
    assert "Traceback" not in result.stdout.str()


def test_missing_server_binaries_are_a_harness_error_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_cluster, "PG_LIB_ROOT", tmp_path)
    with pytest.raises(HarnessError, match=r"not found.*apt-get install postgresql"):
        _cluster.start_postgres()


def test_an_isolation_that_cannot_work_is_refused_with_the_reason(
    pytester: pytest.Pytester, backend: str, request: pytest.FixtureRequest
) -> None:
    test_file = (
        "import pytest\n\n"
        "@pytest.mark.dualdb(isolation='rollback')\n"
        "def test_url_rolled_back(dualdb_url):\n    pass\n\n"
        "@pytest.mark.dualdb(isolation='savepoint')\n"
        "def test_unknown(dualdb_url):\n    pass\n"
    )
    _project(pytester, {"tests/test_x.py": test_file})
    result = _run(pytester, backend, request)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*dualdb_url with isolation='rollback': connections opened from the URL*",
            "*isolation='savepoint'*choose one of rollback, truncate, database*",
        ],
        consecutive=False,
    )
