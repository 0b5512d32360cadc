"""Load development data from ``seeds/*.py`` into the configured database.

A seed module defines ``seed(conn, backend) -> list[str]``: it receives the DB-API
connection (``sqlite3`` or ``psycopg2``) and ``"sqlite"``/``"postgresql"``, writes its rows
with upserts keyed by fixed ids (so a second run leaves the same rows), and returns lines
describing what it ensured. All modules run in one transaction: a failure keeps nothing.

Seeding a database with a server (PostgreSQL) needs ``allow_production``: development data
must never reach a real database by accident. The connection is prepared as the
application's are (on SQLite: ``PRAGMA foreign_keys = ON``), so the seeds obey the same
foreign keys on both backends.
"""

from __future__ import annotations

import importlib.util
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from dualdb.dialects import get_dialect
from dualdb.errors import ConfigurationError, Refused, SeedFailed
from dualdb.migrate.backends import enforce_foreign_keys
from dualdb.migrate.connection import open_target
from dualdb.migrate.introspect import introspect
from dualdb.migrate.locking import migration_lock
from dualdb.migrate.runner import read_applied
from dualdb.migrate.source import Folders, load_source
from dualdb.settings import Settings

__all__ = ["SeedResult", "run_seeds", "seed_modules"]


@dataclass(frozen=True)
class SeedResult:
    """What the seed modules said they ensured, and the row count of every table after."""

    lines: list[str]
    row_counts: dict[str, int]


def seed_modules(directory: Path) -> list[Path]:
    """The seed files of ``directory`` in the order they run (file name; ``_*`` skipped)."""
    if not directory.is_dir():
        raise ConfigurationError(f"seeds folder {directory} does not exist", variable="seeds")
    modules = sorted(p for p in directory.glob("*.py") if not p.name.startswith("_"))
    if not modules:
        raise ConfigurationError(f"no seed modules (*.py) in {directory}", variable="seeds")
    return modules


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"dualdb_seed_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SeedFailed(f"cannot load seed module {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_seeds(
    settings: Settings,
    seeds_dir: Path,
    migrations_dir: Path | Folders,
    *,
    allow_production: bool = False,
) -> SeedResult:
    """Run every seed module in one transaction (see the module docstring)."""
    if not get_dialect(settings.backend).is_embedded and not allow_production:
        raise Refused(
            f"refusing to seed {settings.display_url()}: seeds are development data. "
            "If this server's database really is a development one, add --allow-production."
        )
    modules = seed_modules(seeds_dir)
    source = load_source(migrations_dir)
    with open_target(settings, read_only=True) as target:
        backend = target.backend
        # Under the migration lock: a seed waits for a running migration, and never runs
        # beside one. (Never migrated, a database has no lock table to take it in.)
        migrated = backend.lock_table in backend.list_tables()
        with (
            migration_lock(backend, timeout=60, echo=lambda _: None) if migrated else nullcontext()
        ):
            applied = {a.id for a in read_applied(backend)}
            pending = [m for m in source.ids if m not in applied]
            if pending:
                raise SeedFailed(
                    f"{target.display_url} is not migrated ({len(pending)} migration(s) "
                    f"pending: {', '.join(pending)}); run `dualdb migrate` first"
                )
            enforce_foreign_keys(backend)
            lines: list[str] = []
            current = seeds_dir
            try:
                with backend.transaction():
                    for current in modules:
                        result = _load(current).seed(backend.connection, target.dialect)
                        lines.extend(str(line) for line in result or ())
            except Exception as exc:
                raise SeedFailed(
                    f"seed {current.name} failed: {target.describe_error(exc)}\n"
                    "Nothing of the seeds was kept (one transaction)."
                ) from exc
        counts: dict[str, int] = {}
        for table in introspect(backend).tables:
            quoted = backend.quote_identifier(table)
            counts[table] = int(backend.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])
        return SeedResult(lines, counts)
