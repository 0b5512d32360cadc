"""``dualdb backup``, ``restore``, ``migrate --backup`` and ``retention`` as a subprocess,
on both backends: output, ``--json`` and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from ops_helpers import Cli


def test_backup_prints_the_path_and_restore_loads_it_into_a_new_database(
    cli: Cli, database_url: str, restore_url: str, project: Path
) -> None:
    assert cli(database_url, "migrate").returncode == 0
    result = cli(database_url, "backup")
    assert result.returncode == 0, result.output
    path = project / result.stdout.strip().splitlines()[-1]
    assert path.is_file() and path.parent == project / "backups"
    assert Path(f"{path}.json").is_file()

    restored = cli(restore_url, "restore", str(path), "--json")
    assert restored.returncode == 0, restored.output
    document = json.loads(restored.stdout)
    assert document["command"] == "restore" and not document["replaced"]
    assert document["row_counts"]["users"] == 0
    assert cli(restore_url, "status").returncode == 0  # migrated, as the source was

    refused = cli(restore_url, "restore", str(path), "--json")
    assert refused.returncode == 2, refused.output
    assert "--force" in json.loads(refused.stdout)["error"]["message"]
    forced = cli(restore_url, "restore", str(path), "--force")
    assert forced.returncode == 0, forced.output
    assert "replacing" in forced.stdout


def test_backup_json_reports_the_file_checksum_and_row_counts(
    cli: Cli, database_url: str, project: Path
) -> None:
    assert cli(database_url, "migrate").returncode == 0
    result = cli(database_url, "backup", "--output", "here/db.bak", "--json")
    assert result.returncode == 0, result.output
    document = json.loads(result.stdout)
    assert document["path"] == "here/db.bak"
    assert (project / "here" / "db.bak").stat().st_size == document["bytes"]
    assert len(document["sha256"]) == 64
    assert set(document["row_counts"]) >= {"users", "user_sessions", "oauth_sessions"}


def test_migrate_backup_takes_one_before_applying_and_none_when_nothing_is_pending(
    cli: Cli, database_url: str, project: Path
) -> None:
    assert cli(database_url, "migrate", "--to", "0001").returncode == 0
    result = cli(database_url, "migrate", "--backup")
    assert result.returncode == 0, result.output
    assert "before migrating" in result.stdout
    [backup] = [p for p in (project / "backups").iterdir() if not p.name.endswith(".json")]
    manifest = json.loads(Path(f"{backup}.json").read_text())
    assert "user_sessions" not in manifest["row_counts"]  # taken before 0002 was applied
    again = cli(database_url, "migrate", "--backup", "--json")
    assert again.returncode == 0, again.output
    assert json.loads(again.stdout)["backup"] is None
    assert "no backup taken" in again.stderr
    assert len(list((project / "backups").iterdir())) == 2  # still the one (and manifest)


def test_retention_json_reports_each_table(cli: Cli, database_url: str) -> None:
    assert cli(database_url, "migrate").returncode == 0
    result = cli(database_url, "retention", "--batch-size", "5", "--json")
    assert result.returncode == 0, result.output
    document = json.loads(result.stdout)
    assert document["batch_size"] == 5
    assert [(t["table"], t["deleted"], t["archive"]) for t in document["tables"]] == [
        ("user_sessions", 0, None),
        ("oauth_sessions", 0, None),
    ]
    bad = cli(database_url, "retention", "--archive-sessions", "x; DROP TABLE users", "--json")
    assert bad.returncode == 2, bad.output
    assert json.loads(bad.stdout)["error"]["kind"] == "usage"
