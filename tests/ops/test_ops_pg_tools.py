"""PostgreSQL's client tools: found or clearly missing, never older than the server, and
the password never on their command line nor in any message."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from ops_helpers import TEST_PASSWORD

import dualdb
from dualdb.dialects import get_dialect
from dualdb.dialects.postgres.backup import BINDIR_VARIABLE, find_tool

pytestmark = [
    pytest.mark.parametrize("backend", ["postgresql"], scope="session"),
    pytest.mark.not_through_pgbouncer("pg_dump needs the server itself"),
]


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _counts(settings: dualdb.Settings) -> dict[str, int]:
    backups = get_dialect(settings.backend).backups()
    assert backups is not None
    return backups.row_counts(settings)


def test_a_missing_pg_dump_is_a_clear_error_naming_where_it_looked(
    migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BINDIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = dualdb.load_settings(url=migrated_database_url, env_file=None)
    with pytest.raises(dualdb.errors.BackupToolMissing, match="pg_dump not found") as caught:
        dualdb.backup_database(settings, folder=tmp_path / "out")
    assert BINDIR_VARIABLE in str(caught.value) and "postgresql-client-" in str(caught.value)
    assert isinstance(caught.value, dualdb.ConfigurationError)
    assert TEST_PASSWORD not in str(caught.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_pg_dump_older_than_the_server_is_refused(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(tmp_path, "pg_dump", "print('pg_dump (PostgreSQL) 9.6.24')\n")
    monkeypatch.setenv(BINDIR_VARIABLE, str(tmp_path))
    with pytest.raises(dualdb.errors.BackupToolMissing, match="older than the server"):
        find_tool("pg_dump", 15)


def test_the_password_reaches_the_tools_in_a_passfile_never_in_argv_or_the_environment(
    migrated_database_url: str, restore_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = find_tool("pg_dump", 15).parent
    spy = tmp_path / "bin"
    spy.mkdir()
    log = tmp_path / "calls.jsonl"
    for name in ("pg_dump", "pg_restore"):
        # Records what it was given, then runs the real tool with it.
        _script(
            spy,
            name,
            "import json, os, sys\n"
            f"passfile = os.environ.get('PGPASSFILE')\n"
            f"with open({str(log)!r}, 'a') as f:\n"
            "    f.write(json.dumps({'argv': sys.argv, 'env': dict(os.environ),"
            " 'passfile': open(passfile).read() if passfile else None}) + '\\n')\n"
            f"os.execv({str(real / name)!r}, [{str(real / name)!r}, *sys.argv[1:]])\n",
        )
    monkeypatch.setenv(BINDIR_VARIABLE, str(spy))
    monkeypatch.setenv("PGPASSWORD", "inherited-and-ignored")
    settings = dualdb.load_settings(url=migrated_database_url, env_file=None)
    backup = dualdb.backup_database(settings, folder=tmp_path / "out")
    dualdb.restore_database(backup.path, dualdb.load_settings(url=restore_url, env_file=None))
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    used = [call for call in calls if "--version" not in call["argv"]]
    assert [Path(call["argv"][0]).name for call in used] == ["pg_dump", "pg_restore"]
    for call in used:
        assert not any(TEST_PASSWORD in arg for arg in call["argv"])
        assert TEST_PASSWORD not in json.dumps(call["env"])
        assert "PGPASSWORD" not in call["env"]
        assert call["passfile"].strip().endswith(TEST_PASSWORD)
        assert call["env"]["PGDATABASE"] and call["env"]["PGHOST"]
    assert not Path(used[0]["env"]["PGPASSFILE"]).exists()  # removed afterwards
    assert os.environ["PGPASSWORD"] == "inherited-and-ignored"


def test_a_failing_pg_restore_shows_its_error_without_the_password(
    migrated_database_url: str, tmp_path: Path
) -> None:
    garbage = tmp_path / "not-a-dump.dump"  # no manifest: pg_restore itself refuses it
    garbage.write_bytes(b"PGDMP but not really " + TEST_PASSWORD.encode())
    settings = dualdb.load_settings(url=migrated_database_url, env_file=None)
    with pytest.raises(dualdb.errors.BackupError, match="pg_restore failed") as caught:
        dualdb.restore_database(garbage, settings, force=True)
    assert TEST_PASSWORD not in str(caught.value)
    # One transaction: the database keeps its tables.
    assert _counts(settings)["users"] == 0


def test_a_wrong_password_fails_without_showing_it(
    migrated_database_url: str, tmp_path: Path
) -> None:
    wrong = migrated_database_url.replace(TEST_PASSWORD, "Wrong-Secret-42")
    settings = dualdb.load_settings(url=wrong, env_file=None)
    with pytest.raises(dualdb.ConnectionFailed) as caught:
        dualdb.backup_database(settings, folder=tmp_path)
    assert "Wrong-Secret-42" not in str(caught.value)
