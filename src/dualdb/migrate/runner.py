"""Plan and run migrations through yoyo's API: migrate, rollback, status, reset, check.

Everything goes through yoyo's bookkeeping (``_yoyo_migration``, ``_yoyo_log``,
``yoyo_lock``), so a database is equally at home with ``yoyo`` and ``dualdb``. On top, the
runner verifies checksums before it changes anything, holds the lock with a useful wait, and
after a failed migration checks — by introspecting the schema again — that nothing of it was
kept, instead of assuming so.

Progress goes to the ``echo`` callback (one line per migration, with its duration); the
callers decide where it is printed.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any, Literal

from yoyo.migrations import ancestors

from dualdb.dialects import embedded_dialect, get_dialect
from dualdb.errors import (
    ChecksumMismatch,
    MigrationError,
    MigrationFailed,
    MigrationSourceError,
    Refused,
)
from dualdb.migrate.backends import drop_everything, migrations_of
from dualdb.migrate.checksums import SUM_FILE, ChecksumStore, compare, sum_problems
from dualdb.migrate.connection import Target, open_target
from dualdb.migrate.introspect import introspect
from dualdb.migrate.locking import LockInfo, lock_holder, migration_lock
from dualdb.migrate.preview import StepSQL, migration_sql
from dualdb.migrate.schema import Schema, diff
from dualdb.migrate.source import Folders, MigrationSource, load_source
from dualdb.settings import Settings

__all__ = ["CHECKLIST", "Applied", "Problem", "ProblemKind", "Report", "Runner", "read_applied"]

DEFAULT_LOCK_TIMEOUT = 60.0

#: How a schema change is made, so that `dualdb check` passes again.
CHECKLIST = (
    "`dualdb new NAME` → edit the new migration (and its rollback) → `dualdb sum` → "
    "`dualdb schema dump` → `dualdb migrate` → `dualdb check`"
)

#: What a :class:`Problem` is about (stable: ``--json`` prints it).
ProblemKind = Literal[
    "edited", "sum_mismatch", "missing_file", "pending", "no_snapshot", "bad_snapshot", "drift"
]
_CHECKSUM_KINDS: frozenset[ProblemKind] = frozenset({"edited", "sum_mismatch"})


@dataclass(frozen=True)
class Applied:
    """A migration recorded in yoyo's table, with its time of application (UTC text)."""

    id: str
    applied_at: str | None

    def when(self) -> str:
        # yoyo writes "YYYY-MM-DD HH:MM:SS" or, through its own sqlite adapter, "…T…".
        return f"{self.applied_at[:19].replace('T', ' ')} UTC" if self.applied_at else "?"


@dataclass(frozen=True)
class Problem:
    """Something ``status``/``check`` found wrong, of a ``kind``."""

    kind: ProblemKind
    message: str
    migration_id: str | None = None

    @property
    def checksum(self) -> bool:
        """An edited migration file (the checksum exit code)."""
        return self.kind in _CHECKSUM_KINDS


@dataclass
class Report:
    """What ``status`` and ``check`` found."""

    database: str
    database_exists: bool
    directory: Path
    applied: list[Applied] = field(default_factory=list)
    #: Folders read before ``directory`` (e.g. dualdb's shipped schema, ``package:`` sources).
    upstream: tuple[Path, ...] = ()
    pending: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    lock: LockInfo | None = None
    #: The lock is a row a killed dualdb run left, which the next run removes itself.
    lock_left: bool = False
    #: What to do about the problems (``check``: the migration checklist after drift).
    hint: str | None = None


def read_applied(backend: Any) -> list[Applied]:
    """Migrations recorded as applied, oldest first, read without creating any table."""
    tables = set(backend.list_tables())
    if backend.migration_table not in tables:
        return []
    if backend.version_table not in tables:
        raise MigrationError(
            "the database has yoyo bookkeeping tables from yoyo < 6; run `dualdb migrate` "
            "(or `yoyo apply`) once to upgrade them"
        )
    rows = backend.execute(
        f"SELECT migration_id, CAST(applied_at_utc AS TEXT) FROM {backend.migration_table_quoted}"
        " ORDER BY applied_at_utc, migration_id"
    ).fetchall()
    return [Applied(row[0], row[1]) for row in rows]


def _sum_problems(source: MigrationSource) -> list[str]:
    """``dualdb.sum`` problems of every folder; an upstream folder's are named by its path."""
    problems = [
        f"{folder}: {problem}"
        for folder in source.folders.upstream
        for problem in sum_problems(folder)
    ]
    return problems + sum_problems(source.folders.own)


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


class Runner:
    """Migration commands for one database (``settings``) and one migrations folder."""

    def __init__(
        self,
        settings: Settings,
        directory: Path | Folders,
        *,
        echo: Callable[[str], None] = print,
        warn: Callable[[str], None] | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.folders = directory if isinstance(directory, Folders) else Folders(directory)
        self.directory = self.folders.own
        self.echo = echo
        self.warn = warn or (lambda message: print(message, file=sys.stderr))
        self.lock_timeout = lock_timeout

    # -- shared steps ------------------------------------------------------------------------

    def _review_checksums(
        self,
        target: Target,
        source: MigrationSource,
        applied: list[Applied],
        *,
        record: bool,
        accept_changed: bool = False,
    ) -> tuple[list[str], list[Problem]]:
        """Compare applied migrations with their files; record what dualdb has not seen yet."""
        backend = target.backend
        store = ChecksumStore(backend)
        result = compare({a.id: a.applied_at for a in applied}, store.load(), source.checksums())
        notes: list[str] = []
        problems: list[Problem] = []
        to_record = [(mid, sha, at) for mid, sha, at, _ in result.unrecorded]
        verb = "Recorded" if record else "Will record"
        for migration_id, _, _, reason in result.unrecorded:
            notes.append(f"{verb} the checksum of {migration_id}: {reason}.")
        for migration_id in result.missing_files:
            problems.append(
                Problem(
                    "missing_file",
                    f"{migration_id} is applied but its file is missing from {self.folders}",
                    migration_id=migration_id,
                )
            )
        applied_at = {a.id: a.applied_at for a in applied}
        for migration_id, recorded, current in result.changed:
            if accept_changed:
                to_record.append((migration_id, current, applied_at[migration_id]))
                notes.append(
                    f"Accepted the edited {migration_id}: {verb.lower()} its new checksum."
                )
            else:
                path = source.path_of(migration_id)
                rollback = path.with_name(f"{path.stem}.rollback.sql")
                also = f" (or its {rollback.name})" if rollback.is_file() else ""
                problems.append(
                    Problem(
                        "edited",
                        f"{path}{also} was edited after it was applied "
                        f"(sha256 {recorded[:12]}… when applied, {current[:12]}… now)",
                        migration_id=migration_id,
                    )
                )
        if record and (to_record or result.stale):
            with backend.transaction():
                for migration_id, sha, at in to_record:
                    store.record(migration_id, sha, at)
                store.forget(result.stale)
        return notes, problems

    def _reviewed(
        self, target: Target, source: MigrationSource, *, record: bool, accept_changed: bool
    ) -> list[Applied]:
        """The applied migrations, after reporting checksum notes and refusing edited files."""
        applied = read_applied(target.backend)
        notes, problems = self._review_checksums(
            target, source, applied, record=record, accept_changed=accept_changed
        )
        self._report(notes, problems)
        self._refuse_changed(problems)
        return applied

    def _refuse_changed(self, problems: list[Problem]) -> None:
        changed = [p for p in problems if p.checksum]
        if changed:
            raise ChecksumMismatch(
                "applied migrations were edited afterwards:\n  "
                + "\n  ".join(p.message for p in changed)
                + "\nRestore them (add a new migration for the change), or re-run with "
                "--accept-changed to record their new checksums and continue.",
                migration_ids=[p.migration_id or "" for p in changed],
            )

    def _recorder(self, source: MigrationSource) -> Callable[[Any, Any, str], None]:
        """The hook that writes the checksum row inside each migration's transaction."""

        def record(backend: Any, migration: Any, direction: str) -> None:
            store = ChecksumStore(backend)
            if direction == "rollback":
                if store.exists():
                    store.forget([migration.id])
                return
            row = backend.execute(
                f"SELECT CAST(applied_at_utc AS TEXT) FROM {backend.migration_table_quoted}"
                " WHERE migration_hash = :hash",
                {"hash": migration.hash},
            ).fetchone()
            store.record(migration.id, source.checksum(migration.id), row[0] if row else None)

        return record

    def _run_one(
        self, target: Target, migration: Any, direction: str, *, quiet: bool = False
    ) -> None:
        """Apply or roll back one migration; on failure, verify and say what was kept."""
        backend = target.backend
        before = introspect(backend)
        started = perf_counter()
        try:
            if direction == "apply":
                backend.apply_one(migration)
            else:
                backend.rollback_one(migration)
        except Exception as exc:
            raise self._failure(target, migration, direction, exc, before) from exc
        if quiet:
            return
        verb = "applied" if direction == "apply" else "rolled back"
        self.echo(f"  {verb} {migration.id} ({_duration(perf_counter() - started)})")

    def _failure(
        self, target: Target, migration: Any, direction: str, exc: Exception, before: Schema
    ) -> MigrationFailed:
        backend = target.backend
        action = "apply" if direction == "apply" else "roll back"
        message = f"migration {migration.id} failed to {action}: {target.describe_error(exc)}"
        try:
            still_applied = migration.hash in backend.get_applied_migration_hashes()
            changes = diff(before, introspect(backend))
        except Exception as verify_exc:
            return MigrationFailed(
                f"{message}\nCould not verify what was kept: " + target.describe_error(verify_exc),
                migration_id=migration.id,
                direction=direction,
                kept_nothing=False,
                dialect=target.dialect,
            )
        recorded_ok = still_applied == (direction == "rollback")
        if not changes and recorded_ok:
            state = (
                "not recorded as applied" if direction == "apply" else "still recorded as applied"
            )
            message += (
                f"\nNothing of {migration.id} was kept: the schema is exactly as before "
                f"and the migration is {state}."
            )
        else:
            message += f"\nWARNING: {migration.id} was not undone completely:"
            message += "".join(f"\n  {line}" for line in changes)
            if not recorded_ok:
                message += "\n  its bookkeeping row in yoyo's table was changed"
        return MigrationFailed(
            message,
            migration_id=migration.id,
            direction=direction,
            kept_nothing=not changes and recorded_ok,
            dialect=target.dialect,
        )

    def _pending(
        self, source: MigrationSource, applied: list[Applied], to: str | None
    ) -> list[Any]:
        applied_ids = {a.id for a in applied}
        pending = [m for m in source.migrations if m.id not in applied_ids]
        if to is None:
            return pending
        target_id = source.resolve(to)
        if target_id in applied_ids:
            return []
        cut = source.ids.index(target_id)
        return [m for m in pending if source.ids.index(m.id) <= cut]

    def _echo_list(self, header: str, migrations: list[Any]) -> None:
        self.echo(header)
        for migration in migrations:
            self.echo(f"  {migration.id}")

    def _note_sum(self, source: MigrationSource) -> None:
        for folder in source.folders.all:
            if sum_problems(folder):
                self.warn(
                    f"note: {folder / SUM_FILE} is out of date; run `dualdb sum` before "
                    "committing (`dualdb check` fails until then)"
                )

    def _apply_all(self, target: Target, source: MigrationSource, pending: list[Any]) -> None:
        backend = target.backend
        backend.after_change = self._recorder(source)
        self.echo(f"Applying {len(pending)} migration(s) to {target.display_url}:")
        started = perf_counter()
        for migration in pending:
            self._run_one(target, migration, "apply")
        if source.migrations.post_apply:
            backend.run_post_apply(source.migrations)
        self.echo(f"Done: {len(pending)} applied in {_duration(perf_counter() - started)}.")

    # -- commands ----------------------------------------------------------------------------

    def migrate(
        self,
        *,
        to: str | None = None,
        dry_run: bool = False,
        accept_changed: bool = False,
        break_lock: bool = False,
    ) -> list[str]:
        """Apply pending migrations (up to and including ``to``); return the ids applied.

        Refuses with :class:`ChecksumMismatch` when an applied migration was edited, unless
        ``accept_changed``. A ``dry_run`` prints the plan and changes nothing at all.
        """
        source = load_source(self.folders)
        self._note_sum(source)
        with open_target(self.settings, read_only=dry_run) as target:
            if dry_run:
                applied = self._reviewed(
                    target, source, record=False, accept_changed=accept_changed
                )
                pending = self._pending(source, applied, to)
                if not pending:
                    self.echo(f"Nothing to apply: {target.display_url} is up to date.")
                else:
                    self._echo_list(
                        f"Would apply {len(pending)} migration(s) to {target.display_url} "
                        "(dry run: nothing was changed):",
                        pending,
                    )
                return [m.id for m in pending]
            with migration_lock(
                target.backend, timeout=self.lock_timeout, break_lock=break_lock, echo=self.echo
            ):
                target.backend.ensure_internal_schema_updated()
                applied = self._reviewed(target, source, record=True, accept_changed=accept_changed)
                pending = self._pending(source, applied, to)
                if not pending:
                    self.echo(
                        f"Nothing to apply: {target.display_url} is up to date "
                        f"({len(applied)} migration(s) applied)."
                    )
                    return []
                self._apply_all(target, source, pending)
                return [m.id for m in pending]

    def sql_of(self, ids: list[str]) -> dict[str, list[StepSQL]]:
        """The SQL each migration of ``ids`` would run on the configured backend, step by
        step, without connecting (see :mod:`dualdb.migrate.preview`)."""
        source = load_source(self.folders)
        by_id = source.by_id
        return {mid: migration_sql(by_id[mid], self.settings.backend) for mid in ids}

    def mark(
        self, references: list[str], *, everything: bool = False, break_lock: bool = False
    ) -> list[str]:
        """Record migrations as applied without running them, through yoyo's bookkeeping
        (as ``yoyo mark`` does), under the migration lock; return the ids marked.

        Each reference (an id or unique prefix) is marked with every migration it depends
        on, as ``yoyo mark -r`` does; ``everything`` marks every pending migration (a
        baseline for a database whose schema was made some other way). Unknown references
        raise :class:`MigrationSourceError` before anything is opened. The checksum of each
        file is recorded in the same transaction.
        """
        source = load_source(self.folders)
        if everything:
            wanted = set(source.ids)
        else:
            if not references:
                raise MigrationSourceError("name the migrations to mark, or give --all")
            wanted = set()
            for reference in references:
                migration = source.by_id[source.resolve(reference)]
                wanted |= {migration.id} | {m.id for m in ancestors(migration, source.migrations)}
        with open_target(self.settings) as target:
            backend = target.backend
            with migration_lock(
                backend, timeout=self.lock_timeout, break_lock=break_lock, echo=self.echo
            ):
                backend.ensure_internal_schema_updated()
                applied = {a.id for a in read_applied(backend)}
                chosen = [m for m in source.migrations if m.id in wanted - applied]
                if not chosen:
                    self.echo(f"Nothing to mark: already applied on {target.display_url}.")
                    return []
                record = self._recorder(source)
                with backend.transaction():
                    for migration in chosen:
                        backend.mark_one(migration)
                        record(backend, migration, "apply")
                self._echo_list(
                    f"Marked {len(chosen)} migration(s) as applied on {target.display_url} "
                    "without running them:",
                    chosen,
                )
                return [m.id for m in chosen]

    def rollback(
        self,
        *,
        to: str | None = None,
        steps: int | None = None,
        everything: bool = False,
        dry_run: bool = False,
        accept_changed: bool = False,
        break_lock: bool = False,
    ) -> list[str]:
        """Roll back the last ``steps`` (default 1) migrations, those applied after ``to``, or
        ``everything``; return the ids rolled back, newest first."""
        if steps is not None and steps < 1:
            raise MigrationSourceError("--steps must be at least 1")
        source = load_source(self.folders)
        with open_target(self.settings, read_only=dry_run) as target:
            backend = target.backend
            if dry_run:
                return self._rollback_plan(
                    target, source, to, steps, everything, accept_changed, dry_run=True
                )
            with migration_lock(
                backend, timeout=self.lock_timeout, break_lock=break_lock, echo=self.echo
            ):
                backend.ensure_internal_schema_updated()
                chosen = self._rollback_plan(
                    target, source, to, steps, everything, accept_changed, dry_run=False
                )
                if not chosen:
                    return []
                backend.after_change = self._recorder(source)
                ids = {m.id for m in chosen}
                self.echo(f"Rolling back {len(chosen)} migration(s) on {target.display_url}:")
                started = perf_counter()
                for migration in chosen:
                    self._run_one(target, migration, "rollback")
                self.echo(f"Done: {len(ids)} rolled back in {_duration(perf_counter() - started)}.")
                if not read_applied(backend) and ChecksumStore(backend).drop_if_empty():
                    self.echo("Nothing is applied any more: dropped dualdb's checksum table.")
                return [m.id for m in chosen]

    def _rollback_plan(
        self,
        target: Target,
        source: MigrationSource,
        to: str | None,
        steps: int | None,
        everything: bool,
        accept_changed: bool,
        *,
        dry_run: bool,
    ) -> list[Any]:
        applied = self._reviewed(target, source, record=not dry_run, accept_changed=accept_changed)
        applied_ids = {a.id for a in applied}
        newest_first = [m for m in reversed(list(source.migrations)) if m.id in applied_ids]
        if everything:
            chosen = newest_first
        elif to is not None:
            keep = source.resolve(to)
            if keep not in applied_ids:
                raise MigrationSourceError(f"{keep} is not applied; nothing to roll back to")
            chosen = newest_first[: [m.id for m in newest_first].index(keep)]
        else:
            chosen = newest_first[: steps or 1]
        if not chosen:
            self.echo(f"Nothing to roll back on {target.display_url}.")
        elif dry_run:
            self._echo_list(
                f"Would roll back {len(chosen)} migration(s) on {target.display_url} "
                "(dry run: nothing was changed):",
                chosen,
            )
        return chosen

    def reset(
        self, *, yes: bool, allow_production: bool = False, break_lock: bool = False
    ) -> list[str]:
        """Drop everything in the database and apply every migration again.

        Refuses without ``yes``, and on PostgreSQL without ``allow_production`` as well.
        """
        missing = [] if yes else ["--yes"]
        if not get_dialect(self.settings.backend).is_embedded and not allow_production:
            missing.append("--allow-production")
        if missing:
            raise Refused(
                f"reset drops every table of {self.settings.display_url()} and re-applies all "
                f"migrations; confirm with {' and '.join(missing)}"
            )
        source = load_source(self.folders)
        with open_target(self.settings) as target:
            backend = target.backend
            with migration_lock(
                backend, timeout=self.lock_timeout, break_lock=break_lock, echo=self.echo
            ):
                dropped = drop_everything(backend, keep=frozenset({backend.lock_table}))
                self.echo(f"Dropped {len(dropped)} object(s) from {target.display_url}.")
                self._apply_all(target, source, list(source.migrations))
        return list(source.ids)

    def status(self, *, record: bool = True) -> Report:
        """Applied (with times), pending, notes and problems; records unseen checksums
        unless ``record`` is false (then nothing is written)."""
        source = load_source(self.folders)
        with open_target(self.settings, read_only=True) as target:
            report = self._inspect(target, source, record=record)
        stale_sum = _sum_problems(source)
        if stale_sum:
            report.notes.append(
                f"{SUM_FILE} is out of date ({'; '.join(stale_sum)}): "
                "run `dualdb sum` before committing."
            )
        return report

    def _inspect(self, target: Target, source: MigrationSource, *, record: bool = True) -> Report:
        applied = read_applied(target.backend)
        notes, problems = self._review_checksums(
            target, source, applied, record=record and bool(applied)
        )
        applied_ids = {a.id for a in applied}
        migrations = migrations_of(target.backend)
        row = lock_holder(target.backend)
        return Report(
            database=target.display_url,
            database_exists=target.existed,
            directory=source.directory,
            upstream=source.folders.upstream,
            applied=applied,
            pending=[m for m in source.ids if m not in applied_ids],
            notes=notes,
            problems=problems,
            lock=row or migrations.running_migration(target.backend),
            lock_left=row is not None and migrations.left_by_killed_run(target.backend, row),
        )

    def check(self, snapshot: Path) -> Report:
        """Everything ``status`` checks, plus ``dualdb.sum``, pending migrations and drift of
        the live schema from ``snapshot``; every finding is a problem."""
        source = load_source(self.folders)
        with open_target(self.settings, read_only=True) as target:
            report = self._inspect(target, source)
            live = introspect(target.backend)
        for problem in _sum_problems(source):
            report.problems.append(
                Problem(
                    "sum_mismatch",
                    f"{problem} (a released migration must not change: add a new one; "
                    "for a migration not released yet, run `dualdb sum`)",
                )
            )
        if report.pending:
            report.problems.append(
                Problem(
                    "pending",
                    f"{len(report.pending)} migration(s) pending: {', '.join(report.pending)}",
                )
            )
        if not snapshot.is_file():
            report.problems.append(
                Problem(
                    "no_snapshot",
                    f"no schema snapshot at {snapshot}: run `dualdb schema dump` and commit it",
                )
            )
            return report
        try:
            expected = Schema.from_json(snapshot.read_text(encoding="utf-8"))
        except ValueError as exc:
            report.problems.append(Problem("bad_snapshot", f"{snapshot}: {exc}"))
            return report
        drift = diff(expected, live)
        report.problems.extend(Problem("drift", f"schema drift: {line}") for line in drift)
        if drift and report.pending:
            # The differences may be just what the pending migrations change.
            report.hint = (
                f"{len(report.pending)} migration(s) are not applied yet: run `dualdb migrate`, "
                "then `dualdb check` again."
            )
        elif drift:
            report.hint = (
                f"The live schema differs from {snapshot}. A schema change is made as a "
                f"migration: {CHECKLIST}. A change made by hand belongs in a migration too, "
                "or must be undone."
            )
        return report

    def dump_schema(self, output: Path, *, live: bool = False) -> Schema:
        """Write the snapshot to ``output``: of the live database with ``live``, otherwise of a
        scratch SQLite database with every migration applied (independent of local drift)."""
        if live:
            with open_target(self.settings, read_only=True) as target:
                schema = introspect(target.backend)
        else:
            source = load_source(self.folders)
            with tempfile.TemporaryDirectory(prefix="dualdb-schema-") as scratch:
                settings = embedded_dialect().migrations().scratch_settings(scratch)
                assert settings is not None  # an embedded database needs no server
                with open_target(settings) as target:
                    target.backend.ensure_internal_schema_updated()
                    for migration in source.migrations:
                        self._run_one(target, migration, "apply", quiet=True)
                    schema = introspect(target.backend)
        output.write_text(schema.to_json(), encoding="utf-8", newline="\n")
        return schema

    def _report(self, notes: list[str], problems: list[Problem]) -> None:
        for note in notes:
            self.echo(note)
        for problem in problems:
            if not problem.checksum:
                self.warn(f"warning: {problem.message}")
