"""The migrations folder, read by yoyo and fully loaded before anything runs.

yoyo silently does nothing when its ``sources`` folder is missing and skips (with a log
line) a migration file that fails to import; dualdb refuses both up front, naming the
folder or file, so a typo in a path or a syntax error never looks like "up to date".

It also refuses a ``.sql`` file with a comment after its last statement: yoyo sends that
comment as a statement of its own, which SQLite accepts and psycopg2 rejects ("can't execute
an empty query") — a migration that passes on SQLite and fails in production.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import sqlparse
from yoyo import exceptions as yoyo_exceptions
from yoyo import read_migrations
from yoyo.migrations import MigrationList, read_sql_migration, topological_sort

from dualdb.errors import BadMigration, MigrationSourceError
from dualdb.migrate.checksums import migration_sha256

__all__ = [
    "YOYO_INI",
    "Folders",
    "MigrationSource",
    "folders_from",
    "load_source",
    "sources_of_yoyo_ini",
]

#: The file plain yoyo reads its settings from; ``dualdb`` reads its ``sources``.
YOYO_INI = "yoyo.ini"

#: yoyo's own syntax for migrations shipped inside an installed package.
_PACKAGE = re.compile(r"package:([^\s/:]+):(.*)")


@dataclass(frozen=True)
class Folders:
    """Where migrations come from: ``upstream`` folders first, then the project's ``own``.

    A project built on dualdb applies dualdb's shipped schema (users, sessions, OAuth) from
    the installed package and its own migrations after it, as yoyo does with
    ``sources = package:dualdb:migrations %(here)s/migrations``. Upstream folders are read
    (and their ``dualdb.sum`` verified), never written: ``dualdb new``, ``dualdb sum`` and
    the schema snapshot belong to the own folder.
    """

    own: Path
    upstream: tuple[Path, ...] = ()

    @property
    def all(self) -> tuple[Path, ...]:
        return (*self.upstream, self.own)

    def __str__(self) -> str:
        return " ".join(str(folder) for folder in self.all)


def _resolve(spec: str, base: Path) -> Path:
    """A folder of a source as yoyo writes it: a path, or ``package:PKG:DIR``."""
    match = _PACKAGE.fullmatch(spec)
    if match is None:
        return base / spec
    package, folder = match.groups()
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:
        raise MigrationSourceError(
            f"migrations source {spec!r}: no installed package {package!r}"
        ) from exc
    path = root.joinpath(folder)
    if not isinstance(path, Path):
        raise MigrationSourceError(
            f"migrations source {spec!r}: {package} is not installed as plain files "
            "(a zipped install cannot be migrated from); reinstall it with pip"
        )
    return path


def folders_from(specs: Sequence[str], base: Path = Path()) -> Folders:
    """The folders of ``specs`` (paths or ``package:PKG:DIR``); the last is the own one."""
    if not specs:
        raise MigrationSourceError("no migrations source given")
    paths = [_resolve(spec, base) for spec in specs]
    return Folders(paths[-1], tuple(paths[:-1]))


def sources_of_yoyo_ini(path: Path) -> list[str] | None:
    """The ``sources`` of a ``yoyo.ini`` (``%(here)s`` expanded as yoyo does), or None.

    The dualdb CLI reads them so that it migrates exactly what plain ``yoyo apply`` would
    from the same folder, shipped package sources included.
    """
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(defaults={"here": str(path.resolve().parent)})
    try:
        parser.read(path, encoding="utf-8")
        sources = parser.get("DEFAULT", "sources", fallback=None)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise MigrationSourceError(f"cannot read {path}: {type(exc).__name__}") from exc
    return sources.split() if sources else None


@dataclass
class MigrationSource:
    """Every migration of the folders, in yoyo's (dependency, then file name) order."""

    folders: Folders
    migrations: Any  # yoyo MigrationList, topologically sorted, every migration loaded
    _checksums: dict[str, str] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        """The project's own folder (where ``new``, ``sum`` and the snapshot write)."""
        return self.folders.own

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.migrations]

    @property
    def by_id(self) -> dict[str, Any]:
        return {m.id: m for m in self.migrations}

    def path_of(self, migration_id: str) -> Path:
        return Path(self.by_id[migration_id].path)

    def checksum(self, migration_id: str) -> str:
        """SHA-256 of the migration's file(s), computed once per run."""
        if migration_id not in self._checksums:
            self._checksums[migration_id] = migration_sha256(Path(self.by_id[migration_id].path))
        return self._checksums[migration_id]

    def checksums(self) -> dict[str, str]:
        return {migration_id: self.checksum(migration_id) for migration_id in self.ids}

    def resolve(self, reference: str) -> str:
        """The id named by ``reference``: an exact id or a unique prefix (``0002``)."""
        if reference in self.by_id:
            return reference
        matches = [m for m in self.ids if m.startswith(reference)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise MigrationSourceError(
                f"no migration {reference!r} in {self.folders}; known: {', '.join(self.ids)}"
            )
        raise MigrationSourceError(
            f"{reference!r} matches several migrations ({', '.join(matches)}); give the full id"
        )


def _check_sql_statements(migration: Any) -> None:
    """Refuse comment-only statements (see the module docstring)."""
    path = Path(migration.path)
    for file in (path, path.with_name(path.stem + ".rollback.sql")):
        if not file.is_file():
            continue
        _, _, statements = read_sql_migration(str(file))
        for number, statement in enumerate(statements, start=1):
            if not sqlparse.format(statement, strip_comments=True).strip():
                raise BadMigration(
                    f"{file.name}: statement {number} is only a comment ({statement.strip()!r}); "
                    "PostgreSQL rejects it as an empty query. Put comments before a statement, "
                    "not after the last one.",
                    migration_id=migration.id,
                )


def load_source(directory: Path | Folders) -> MigrationSource:
    """Read and load every migration in ``directory`` (or in each of several folders).

    Raises :class:`MigrationSourceError` when a folder is missing or none holds a migration,
    and :class:`BadMigration` when a file cannot be loaded or the dependencies form a cycle.
    """
    folders = directory if isinstance(directory, Folders) else Folders(directory)
    for folder in folders.all:
        if not folder.is_dir():
            raise MigrationSourceError(
                f"migrations folder {folder} does not exist "
                "(give it with --migrations DIR; run dualdb from the project root)"
            )
    try:
        found = read_migrations(*(str(folder) for folder in folders.all))
    except yoyo_exceptions.MigrationConflict as exc:
        raise MigrationSourceError(
            f"two migration files in {folders} have the id {exc.args[0]!r} "
            "(for example NAME.sql and NAME.py, or an id of the project's own that an "
            "upstream folder already uses)"
        ) from exc
    if len(found) == 0:
        raise MigrationSourceError(
            f"no migrations in {folders}: expected files such as 0001_name.sql or "
            "0001_name.py (plain yoyo would silently do nothing here)"
        )
    for migration in found:
        try:
            migration.load()
        except yoyo_exceptions.BadMigration as exc:
            cause = exc.args[1] if len(exc.args) > 1 else exc.args[0] if exc.args else exc
            detail = f"{type(cause).__name__}: {cause}" if isinstance(cause, Exception) else cause
            raise BadMigration(
                f"cannot load migration {migration.id} ({migration.path}): {detail}",
                migration_id=migration.id,
            ) from exc
        if migration.is_raw_sql():
            _check_sql_statements(migration)
    try:
        ordered = MigrationList(topological_sort(found), found.post_apply)
    except yoyo_exceptions.BadMigration as exc:
        raise BadMigration(str(exc.args[0]), migration_id="") from exc
    for migration in ordered.post_apply:
        migration.load()
    return MigrationSource(folders, ordered)
