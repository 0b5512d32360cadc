"""SHA-256 checksums of migration files: recorded per database, and committed in a sum file.

yoyo records only a migration's *id*, so editing a file after it was applied goes unnoticed.
dualdb closes that gap twice:

* **In each database**, table ``dualdb_migration_checksums`` holds the checksum of every
  applied migration, written in the same transaction as the migration. yoyo's own tables are
  left as yoyo uses them; a migration applied by plain ``yoyo`` has no row yet and gets one
  the first time dualdb sees it. The row also keeps yoyo's ``applied_at_utc``, so a migration
  rolled back and re-applied by plain yoyo is recognised as re-applied, not as edited.
* **In review and CI**, ``migrations/dualdb.sum`` lists the checksum of every migration file
  plus a total (as Atlas's ``atlas.sum`` does): an edit to a released migration shows up as a
  changed line in the diff, and ``dualdb check`` fails when a file no longer matches it.

Line endings are normalised (CRLF → LF) before hashing so a Windows checkout agrees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKSUM_TABLE",
    "SUM_FILE",
    "ChecksumStore",
    "Comparison",
    "Recorded",
    "compare",
    "file_sha256",
    "migration_files",
    "migration_sha256",
    "read_sum",
    "render_sum",
    "sum_problems",
    "write_sum",
]

CHECKSUM_TABLE = "dualdb_migration_checksums"
SUM_FILE = "dualdb.sum"
_SUM_HEADER = (
    "# SHA-256 of every migration file, and of them all (`total`). Written by `dualdb new`\n"
    "# and `dualdb sum`, verified by `dualdb check`; a changed line means a changed migration.\n"
)
_TMP_PREFIX = "_tmp_yoyonew"  # yoyo's in-progress files from `yoyo new`


def _normalized(path: Path) -> bytes:
    return path.read_bytes().replace(b"\r\n", b"\n")


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of one file, line endings normalised."""
    return hashlib.sha256(_normalized(path)).hexdigest()


def migration_files(migration_path: Path) -> list[Path]:
    """The files that make up a migration: the file itself and its ``.rollback.sql``."""
    files = [migration_path]
    if migration_path.suffix == ".sql":
        rollback = migration_path.with_name(migration_path.stem + ".rollback.sql")
        if rollback.is_file():
            files.append(rollback)
    return files


def migration_sha256(migration_path: Path) -> str:
    """The checksum of a migration: of its file, or of both hashes when a rollback file exists."""
    files = migration_files(migration_path)
    if len(files) == 1:
        return file_sha256(files[0])
    combined = "\n".join(f"{path.name} {file_sha256(path)}" for path in files)
    return hashlib.sha256(combined.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Recorded checksums (per database)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """A checksum row: the file's hash when applied, and yoyo's time of that apply."""

    sha256: str
    applied_at: str | None


@dataclass
class Comparison:
    """Applied migrations compared with their files and recorded checksums."""

    #: ``(id, recorded sha256, current sha256)`` of files edited after they were applied.
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    #: ``(id, sha256, applied_at, reason)`` to record: applied outside dualdb.
    unrecorded: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    #: Applied migrations whose file is gone from the migrations folder.
    missing_files: list[str] = field(default_factory=list)
    #: Rows of migrations no longer applied (rolled back by plain yoyo).
    stale: list[str] = field(default_factory=list)


def compare(
    applied: Mapping[str, str | None],
    recorded: Mapping[str, Recorded],
    current: Mapping[str, str],
) -> Comparison:
    """Compare ``applied`` (id → yoyo's applied_at) with ``recorded`` rows and the ``current``
    file checksums (id → sha256)."""
    result = Comparison()
    for migration_id, applied_at in applied.items():
        sha = current.get(migration_id)
        if sha is None:
            result.missing_files.append(migration_id)
            continue
        row = recorded.get(migration_id)
        if row is None:
            result.unrecorded.append(
                (migration_id, sha, applied_at, "applied outside dualdb (plain yoyo)")
            )
        elif row.applied_at != applied_at:
            result.unrecorded.append(
                (migration_id, sha, applied_at, "re-applied outside dualdb (plain yoyo)")
            )
        elif row.sha256 != sha:
            result.changed.append((migration_id, row.sha256, sha))
    result.stale = sorted(set(recorded) - set(applied))
    return result


class ChecksumStore:
    """dualdb's checksum table in one database, through a yoyo backend (portable SQL)."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._table = backend.quote_identifier(CHECKSUM_TABLE)

    def exists(self) -> bool:
        return CHECKSUM_TABLE in self._backend.list_tables()

    def create(self) -> None:
        self._backend.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} ("
            " migration_id TEXT PRIMARY KEY NOT NULL,"
            " sha256 TEXT NOT NULL,"
            " applied_at_utc TEXT,"  # yoyo's applied_at_utc, as text, of the apply we hashed
            " recorded_at_utc TEXT NOT NULL)"
        )

    def load(self) -> dict[str, Recorded]:
        if not self.exists():
            return {}
        rows = self._backend.execute(
            f"SELECT migration_id, sha256, applied_at_utc FROM {self._table}"
        ).fetchall()
        return {row[0]: Recorded(row[1], row[2]) for row in rows}

    def record(self, migration_id: str, sha256: str, applied_at: str | None) -> None:
        """Insert or replace the row of ``migration_id`` (call inside a transaction)."""
        self.create()
        self._backend.execute(
            f"INSERT INTO {self._table} (migration_id, sha256, applied_at_utc, recorded_at_utc)"
            " VALUES (:migration_id, :sha256, :applied_at, :now)"
            " ON CONFLICT (migration_id) DO UPDATE SET sha256 = excluded.sha256,"
            " applied_at_utc = excluded.applied_at_utc,"
            " recorded_at_utc = excluded.recorded_at_utc",
            {
                "migration_id": migration_id,
                "sha256": sha256,
                "applied_at": applied_at,
                "now": datetime.now(UTC).isoformat(" ", "microseconds"),
            },
        )

    def forget(self, migration_ids: Iterable[str]) -> None:
        for migration_id in migration_ids:
            self._backend.execute(
                f"DELETE FROM {self._table} WHERE migration_id = :migration_id",
                {"migration_id": migration_id},
            )

    def drop_if_empty(self) -> bool:
        """Drop the table when no row is left (everything rolled back); True if dropped."""
        if not self.exists():
            return False
        count = self._backend.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0]
        if count:
            return False
        with self._backend.transaction():
            self._backend.execute(f"DROP TABLE {self._table}")
        return True


# --------------------------------------------------------------------------------------------
# The committed sum file
# --------------------------------------------------------------------------------------------


def _sum_files(directory: Path) -> list[Path]:
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file()
        and path.suffix in (".sql", ".py")
        and not path.name.startswith(_TMP_PREFIX)
    )


def _total(entries: Mapping[str, str]) -> str:
    lines = "".join(f"{name} {sha}\n" for name, sha in sorted(entries.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def render_sum(directory: Path) -> str:
    """The text of ``dualdb.sum`` for the files now in ``directory``."""
    entries = {path.name: file_sha256(path) for path in _sum_files(directory)}
    body = "".join(f"{name} {sha}\n" for name, sha in sorted(entries.items()))
    return f"{_SUM_HEADER}total {_total(entries)}\n{body}"


def write_sum(directory: Path) -> Path:
    """(Re)write ``directory/dualdb.sum``; return its path."""
    path = directory / SUM_FILE
    path.write_text(render_sum(directory), encoding="utf-8", newline="\n")
    return path


def read_sum(path: Path) -> tuple[str | None, dict[str, str]]:
    """Parse a sum file into ``(total, {file name: sha256})``."""
    total: str | None = None
    entries: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, sha = line.rpartition(" ")
        if name == "total":
            total = sha
        elif name:
            entries[name] = sha
    return total, entries


def sum_problems(directory: Path) -> list[str]:
    """Every way the migration files disagree with ``dualdb.sum`` (empty when they agree).

    The messages state facts only; callers add the advice that fits their command.
    """
    path = directory / SUM_FILE
    if not path.is_file():
        return [f"{path} is missing"]
    total, listed = read_sum(path)
    problems: list[str] = []
    if total != _total(listed):
        problems.append(f"{path} was edited by hand (its total does not match its lines)")
    actual = {p.name: file_sha256(p) for p in _sum_files(directory)}
    for name in sorted(set(listed) | set(actual)):
        if name not in actual:
            problems.append(f"{name} is listed in {SUM_FILE} but missing from {directory}")
        elif name not in listed:
            problems.append(f"{name} is not in {SUM_FILE}")
        elif listed[name] != actual[name]:
            problems.append(f"{name} changed since {SUM_FILE} was written")
    return problems
