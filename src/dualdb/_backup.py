"""Backups and restores, whatever the backend: file naming, the manifest, checksums, and
the refusal to restore over a database that has tables.

How a backend copies its database is its dialect's :class:`~dualdb.dialects.base.Backups`
(SQLite's online backup API, PostgreSQL's ``pg_dump``/``pg_restore``). Next to every
backup ``NAME`` lies ``NAME.json``: the backend, the time, the file's SHA-256 and the row
count of each table as of the copy. A restore checks the checksum first and the row
counts after, so a truncated or edited file, or a restore that lost rows, is an error
rather than a surprise found later.

Synchronous, like the CLI: an application calls them through ``asyncio.to_thread``, and
the event loop (and its writers) go on while the copy is made.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dualdb.dialects import get_dialect
from dualdb.dialects.base import Backups
from dualdb.errors import BackupError, ConfigurationError, TargetNotEmpty
from dualdb.settings import Settings, load_settings

__all__ = ["DEFAULT_BACKUP_FOLDER", "Backup", "Restore", "backup_database", "restore_database"]

#: Where backups go when no output path is given (relative to the working directory).
DEFAULT_BACKUP_FOLDER = Path("backups")
_MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Backup:
    """A finished backup: the file, its manifest, and what the manifest records."""

    path: Path
    manifest: Path
    backend: str
    created_at: datetime
    sha256: str
    size: int
    row_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Restore:
    """A finished restore: the file it came from and the row counts now in the database."""

    path: Path
    backend: str
    replaced: bool
    row_counts: dict[str, int] = field(default_factory=dict)


def _backups(settings: Settings) -> Backups:
    backups = get_dialect(settings.backend).backups()
    if backups is None:
        raise ConfigurationError(
            f"the {settings.backend} backend does not support backups", variable="DB_TYPE"
        )
    return backups


def _stem(settings: Settings) -> str:
    name = settings.database or Path(settings.sqlite_file).stem or "database"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "database"


def default_path(settings: Settings, suffix: str, folder: Path, now: datetime) -> Path:
    """``FOLDER/<database>-<UTC time>.<suffix>``, made unique if taken."""
    base = f"{_stem(settings)}-{now.strftime('%Y%m%dT%H%M%SZ')}"
    path = folder / f"{base}.{suffix}"
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{base}-{number}.{suffix}"
    return path


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def backup_database(
    settings: Settings | None = None,
    output: str | os.PathLike[str] | None = None,
    *,
    folder: str | os.PathLike[str] = DEFAULT_BACKUP_FOLDER,
) -> Backup:
    """Copy the database (``settings``, else the environment's) to a file, consistently
    while other connections write; return where it is and what it holds.

    ``output`` defaults to ``FOLDER/<database>-<UTC time>.<sqlite|dump>``. An existing
    file is never overwritten. The file appears only once complete (it is written under
    a temporary name first), with its manifest ``<output>.json`` next to it.
    """
    settings = settings or load_settings()
    backups = _backups(settings)
    created_at = datetime.now(UTC)
    if output is None:
        path = default_path(settings, backups.suffix, Path(folder), created_at)
    else:
        path = Path(output)
        if path.exists():
            raise BackupError(f"{path} exists already: choose another output path")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        row_counts = backups.dump(settings, partial)
        sha256, size = _sha256(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    manifest = manifest_path(path)
    document = {
        "format": _MANIFEST_FORMAT,
        "backend": settings.backend,
        "database": settings.display_url(),
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "file": path.name,
        "sha256": sha256,
        "bytes": size,
        "row_counts": row_counts,
    }
    _write_atomically(manifest, json.dumps(document, indent=2) + "\n")
    return Backup(path, manifest, settings.backend, created_at, sha256, size, row_counts)


def _read_manifest(path: Path, backend: str) -> dict[str, int] | None:
    """The row counts the manifest promises, after checking the file against it; None
    for a file without a manifest (a dump made by hand)."""
    manifest = manifest_path(path)
    if not manifest.is_file():
        return None
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
        made_by, expected, counts = document["backend"], document["sha256"], document["row_counts"]
    except (OSError, ValueError, KeyError, TypeError):
        raise BackupError(f"{manifest} is not a dualdb backup manifest") from None
    if made_by != backend:
        raise BackupError(
            f"{path} is a {made_by} backup: it cannot be restored into a {backend} database"
        )
    if _sha256(path)[0] != expected:
        raise BackupError(
            f"{path} does not match the checksum in {manifest.name}: the file is damaged "
            "or was changed after the backup"
        )
    return {str(table): int(count) for table, count in dict(counts).items()}


def restore_database(
    path: str | os.PathLike[str], settings: Settings | None = None, *, force: bool = False
) -> Restore:
    """Load a backup made by :func:`backup_database` into the database (``settings``, else
    the environment's).

    A database that has tables is refused (:class:`~dualdb.errors.TargetNotEmpty`) unless
    ``force``: then the backup's tables replace it (on SQLite the whole file; on
    PostgreSQL the objects the backup holds, other tables are kept). All or nothing: a
    restore that fails leaves the database as it was. Afterwards the row counts are
    compared with the manifest's.
    """
    settings = settings or load_settings()
    backups = _backups(settings)
    source = Path(path)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    expected = _read_manifest(source, settings.backend)
    existing = backups.row_counts(settings)
    if existing and not force:
        raise TargetNotEmpty(
            f"{settings.display_url()} is not empty ({len(existing)} tables, "
            f"{sum(existing.values())} rows): restore into a new database, or give "
            "--force (force=True) to replace it",
            dialect=settings.backend,
        )
    backups.restore(settings, source, replace=bool(existing))
    restored = backups.row_counts(settings)
    if expected is not None:
        wrong = sorted(t for t, n in expected.items() if restored.get(t) != n)
        if wrong:
            raise BackupError(
                f"restored {source}, but the row counts of {', '.join(wrong)} differ from "
                "its manifest's",
                dialect=settings.backend,
            )
    return Restore(source, settings.backend, bool(existing), restored)
