"""The ``dualdb`` command (also ``python -m dualdb``): migrations, seeds, drift checks,
backups and the auth tables' retention job.

``status``, ``check``, ``migrate``, ``backup``, ``restore`` and ``retention`` take
``--json`` for scripts: one JSON object on stdout (an ``{"error": …}`` object when the
command failed), the human text on stderr, and the same exit codes.

Synchronous on purpose: it drives yoyo's API over yoyo's DB-API connections (``sqlite3``,
``psycopg2``), reading the same settings as :func:`dualdb.connect` (``DB_TYPE``,
``DATABASE_URL``, ``SQLITE_FILE``, ``.env``…), so switching to PostgreSQL is one variable.
This module only parses arguments, prints, and turns errors into exit codes; the work is in
:mod:`dualdb.migrate`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from dualdb import __version__
from dualdb._backup import Backup, backup_database, restore_database
from dualdb.dialects import MigrationBackend, get_dialect
from dualdb.errors import (
    BadMigration,
    ChecksumMismatch,
    ConfigurationError,
    ConnectionFailed,
    DatabaseError,
    LockHeld,
    MigrationFailed,
    Refused,
    SeedFailed,
    TargetNotEmpty,
)
from dualdb.migrate.checksums import SUM_FILE, write_sum
from dualdb.migrate.connection import describe_error, scrub
from dualdb.migrate.preview import StepSQL
from dualdb.migrate.runner import DEFAULT_LOCK_TIMEOUT, Report, Runner
from dualdb.migrate.scaffold import SHIPPED_SOURCE, init_project, new_migration
from dualdb.migrate.seeds import run_seeds
from dualdb.migrate.source import YOYO_INI, Folders, folders_from, sources_of_yoyo_ini
from dualdb.settings import Settings, load_settings

__all__ = ["EXIT_CODES", "main"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_FAILED = 4
EXIT_LOCKED = 5
EXIT_CHECKSUM = 6
EXIT_INTERRUPTED = 130

#: Exit code → meaning; printed by ``--help`` and documented in docs/cli.md.
EXIT_CODES = {
    EXIT_OK: "success (status: nothing wrong; pending migrations alone are not a problem)",
    EXIT_PROBLEMS: "status/check found problems: schema drift, pending migrations (check), "
    "applied migrations whose file is gone",
    EXIT_USAGE: "usage or configuration error: bad option, setting or URL; missing or empty "
    "migrations folder; unknown migration id; reset/seed not confirmed; restore into a "
    "database that has tables without --force; pg_dump/pg_restore missing or too old",
    EXIT_UNREACHABLE: "database unreachable within the connect timeout, or not a database",
    EXIT_FAILED: "a migration, rollback, seed, backup, restore or retention run failed (the "
    "error is shown, and whether anything of it was kept)",
    EXIT_LOCKED: "the migration lock is held by another run, or was left by a killed one",
    EXIT_CHECKSUM: "checksum mismatch: an applied migration was edited, or dualdb.sum no "
    "longer matches the migration files",
    EXIT_INTERRUPTED: "interrupted (Ctrl+C)",
}

#: The ``kind`` of ``--json``'s ``{"error": …}`` object, by exit code.
ERROR_KINDS = {
    EXIT_USAGE: "usage",
    EXIT_UNREACHABLE: "unreachable",
    EXIT_FAILED: "failed",
    EXIT_LOCKED: "locked",
    EXIT_CHECKSUM: "checksum",
    EXIT_INTERRUPTED: "interrupted",
}

_EPILOG = "\n".join(
    [
        "exit codes:",
        *(
            textwrap.fill(meaning, 88, initial_indent=f"  {code:>3}  ", subsequent_indent=" " * 7)
            for code, meaning in EXIT_CODES.items()
        ),
        "",
        textwrap.fill(
            "settings: DB_TYPE, DATABASE_URL, SQLITE_FILE (default ./data/app.db), DB_HOST, "
            "DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, DB_CONNECT_TIMEOUT, SQLITE_BUSY_TIMEOUT, "
            "from the environment and ./.env; --database overrides them. Passwords are never "
            "printed.",
            88,
        ),
    ]
)

Echo = Callable[[str], None]


class UsageError(Exception):
    """A command line that cannot run (exit code 2), with the usage line to show."""

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """Raises :class:`UsageError` instead of exiting, so that ``--json`` can report it."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; global options are accepted before or after the command."""
    common = _Parser(add_help=False)
    group = common.add_argument_group("global options")
    group.add_argument(
        "--database",
        metavar="URL",
        default=argparse.SUPPRESS,
        help="database URL (postgresql://user:pass@host:5432/db or sqlite:///path.db); "
        "overrides DATABASE_URL and the other settings",
    )
    group.add_argument(
        "--migrations",
        metavar="SOURCE",
        action="append",
        default=argparse.SUPPRESS,
        help="a migrations folder, or package:PKG:DIR for migrations shipped in a package; "
        "repeat for several, upstream first: the last is the project's own (where new, sum "
        "and the snapshot write). Default: the sources of ./yoyo.ini, else ./migrations",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="also show yoyo's log",
    )

    locking = _Parser(add_help=False)
    lock_group = locking.add_argument_group("locking")
    lock_group.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=DEFAULT_LOCK_TIMEOUT,
        help="how long to wait for another run's migration lock "
        f"(default {DEFAULT_LOCK_TIMEOUT:g})",
    )
    lock_group.add_argument(
        "--break-lock",
        action="store_true",
        help="remove a lock left by a killed run first (only when no other run is active)",
    )
    checksums = _Parser(add_help=False)
    json_output = _Parser(add_help=False)
    json_output.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object on stdout (errors too: {"error": {kind, message}}); '
        "the human text goes to stderr",
    )
    checksums.add_argument(
        "--accept-changed",
        action="store_true",
        help="record the new checksums of edited applied migrations and continue",
    )

    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="dualdb",
        description="Migrations, seeds and schema checks for dualdb (SQLite and PostgreSQL), "
        "on yoyo's bookkeeping: `yoyo` and `dualdb` work on the same database.",
        epilog=_EPILOG,
        formatter_class=formatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"dualdb {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, *parents: _Parser) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=_EPILOG,
            formatter_class=formatter,
            parents=[common, *parents],
        )

    migrate = add(
        "migrate",
        "Apply pending migrations, each with its duration.",
        locking,
        checksums,
        json_output,
    )
    migrate.add_argument("--to", metavar="ID", help="stop after this migration (id or prefix)")
    migrate.add_argument(
        "--backup",
        action="store_true",
        help="back the database up first (as `dualdb backup`), when something is pending",
    )
    migrate.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    migrate.add_argument(
        "--sql",
        action="store_true",
        help="with --dry-run: also print the SQL each pending migration would run on the "
        "configured backend",
    )

    rollback = add(
        "rollback",
        "Roll back the last migration (or --steps N, everything after --to ID, or --all).",
        locking,
        checksums,
    )
    which = rollback.add_mutually_exclusive_group()
    which.add_argument("--to", metavar="ID", help="roll back everything applied after ID")
    which.add_argument("--steps", metavar="N", type=_positive_int, help="roll back N migrations")
    which.add_argument("--all", action="store_true", help="roll back every migration")
    rollback.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")

    backup = add(
        "backup",
        "Copy the database to a file, consistently while the application writes (SQLite: "
        "the online backup API; PostgreSQL: pg_dump -Fc), with a manifest (checksum, row "
        "counts) next to it; prints the path.",
        json_output,
    )
    backup.add_argument(
        "--output", metavar="PATH", type=Path, help="default: backups/<db>-<UTC time>.<ext>"
    )
    restore = add(
        "restore",
        "Load a backup into the configured database, all or nothing, after checking its "
        "checksum; refuses a database that has tables unless --force.",
        json_output,
    )
    restore.add_argument("path", metavar="PATH", type=Path, help="a file made by dualdb backup")
    restore.add_argument(
        "--force", action="store_true", help="replace the tables of a database that has some"
    )
    retention = add(
        "retention",
        "Delete expired login sessions and OAuth states in short batches (each its own "
        "transaction), archiving them first where --archive-* names a table; for a schedule.",
        json_output,
    )
    retention.add_argument(
        "--batch-size",
        metavar="N",
        type=_positive_int,
        default=1000,
        help="rows per batch (default 1000)",
    )
    retention.add_argument(
        "--archive-sessions", metavar="TABLE", help="move expired sessions into TABLE"
    )
    retention.add_argument(
        "--archive-states", metavar="TABLE", help="move expired OAuth states into TABLE"
    )

    add("status", "Show applied migrations (with times), pending ones, and problems.", json_output)

    check = add(
        "check",
        "Verify checksums and dualdb.sum, and compare the live schema with the snapshot.",
        json_output,
    )
    check.add_argument(
        "--snapshot", metavar="PATH", type=Path, help="default: MIGRATIONS/schema.json"
    )

    mark = add(
        "mark",
        "Record migrations as applied without running them (as `yoyo mark`): each ID with the "
        "migrations it depends on, or --all (a baseline for a schema made some other way).",
        locking,
        json_output,
    )
    mark.add_argument("ids", nargs="*", metavar="ID", help="a migration id or unique prefix")
    mark.add_argument("--all", action="store_true", help="mark every pending migration")

    reset = add("reset", "Drop everything in the database and apply all migrations.", locking)
    reset.add_argument("--yes", action="store_true", help="confirm: all data is lost")
    reset.add_argument(
        "--allow-production", action="store_true", help="also required on PostgreSQL"
    )

    new = add("new", "Create the next numbered migration and its rollback from a template.")
    new.add_argument("name", nargs="+", metavar="NAME", help="what it does, e.g. add_user_phone")
    new.add_argument("--python", action="store_true", help="a .py migration (per-backend SQL)")

    add("sum", f"Rewrite MIGRATIONS/{SUM_FILE} from the migration files.")

    init = add(
        "init",
        "Scaffold a project that uses dualdb: yoyo.ini (dualdb's shipped schema, then "
        "./migrations), a first migration, its dualdb.sum and schema.json, seeds/dev.py, "
        ".env.example, .gitignore. Existing files are kept.",
    )
    init.add_argument("directory", nargs="?", type=Path, default=Path(), metavar="DIR")

    seed = add("seed", "Load development data from seeds/ (idempotent).")
    seed.add_argument("--seeds", metavar="DIR", type=Path, default=Path("seeds"))
    seed.add_argument(
        "--allow-production",
        action="store_true",
        help="required to seed PostgreSQL: seeds are development data",
    )

    schema = add("schema", "Schema snapshot commands.")
    schema_commands = schema.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    dump = schema_commands.add_parser(
        "dump",
        help="write the snapshot (default: MIGRATIONS/schema.json)",
        description="Write the dialect-neutral schema snapshot. By default it applies every "
        "migration to a scratch SQLite database, so local drift never leaks into it.",
        parents=[common],
    )
    dump.add_argument("--output", metavar="PATH", type=Path)
    dump.add_argument(
        "--live", action="store_true", help="introspect the configured database instead"
    )
    return parser


def _print_report(report: Report, echo: Echo, *, verbose_applied: bool = True) -> None:
    suffix = "" if report.database_exists else " (file does not exist yet)"
    echo(f"Database:   {report.database}{suffix}")
    after = "".join(f" (after {folder})" for folder in report.upstream)
    echo(f"Migrations: {report.directory}{after}")
    if verbose_applied:
        echo(f"Applied ({len(report.applied)}):")
        width = max((len(a.id) for a in report.applied), default=0)
        for applied in report.applied:
            echo(f"  {applied.id:<{width}}  {applied.when()}")
        echo(f"Pending ({len(report.pending)}):" + ("" if report.pending else " none"))
        for pending in report.pending:
            echo(f"  {pending}")
    if report.lock is not None and report.lock_left:
        echo(f"Lock: left by {report.lock.describe()}, a run that was killed; the next")
        echo("      `dualdb migrate` removes it by itself")
    elif report.lock is not None:
        echo(f"Lock: held by {report.lock.describe()} (a migration is running, or a killed run")
        echo("      left it: `dualdb migrate --break-lock` or `yoyo break-lock` clears it)")
    for note in report.notes:
        echo(f"Note: {note}")
    if report.problems:
        echo(f"Problems ({len(report.problems)}):")
        for problem in report.problems:
            echo(f"  {problem.message}")
    if report.hint:
        echo(textwrap.fill(report.hint, 88))


def _report_exit(report: Report) -> int:
    if any(p.checksum for p in report.problems):
        return EXIT_CHECKSUM
    return EXIT_PROBLEMS if report.problems else EXIT_OK


def _utc(text: str | None) -> str | None:
    """A time as the bookkeeping tables hold it (UTC text) → ISO 8601 ``…T…Z``, seconds."""
    return f"{text[:19].replace(' ', 'T')}Z" if text else None


def _report_json(report: Report) -> dict[str, Any]:
    lock = report.lock
    return {
        "database": scrub(report.database),
        "database_exists": report.database_exists,
        "migrations": str(report.directory),
        "upstream": [str(folder) for folder in report.upstream],
        "applied": [{"id": a.id, "applied_at": _utc(a.applied_at)} for a in report.applied],
        "pending": list(report.pending),
        "lock": None
        if lock is None
        else {"pid": lock.pid, "since": _utc(lock.since), "left_by_killed_run": report.lock_left},
        "notes": [scrub(note) for note in report.notes],
        "problems": [
            {"kind": p.kind, "message": scrub(p.message), "migration_id": p.migration_id}
            for p in report.problems
        ],
        "hint": report.hint,
    }


def _print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False), flush=True)


def _sql_json(shown: dict[str, list[StepSQL]]) -> dict[str, list[dict[str, Any]]]:
    return {
        migration_id: [
            {"step": item.step, "python": item.is_python, "sql": item.sql} for item in items
        ]
        for migration_id, items in shown.items()
    }


def _print_sql(shown: dict[str, list[StepSQL]], dialect: str, echo: Echo) -> None:
    for migration_id, items in shown.items():
        echo("")
        echo(f"-- {migration_id}: what it would run on {dialect}")
        for item in items:
            if item.sql is None:
                echo(f"-- step {item.step}: Python code, which cannot be shown without running it")
            else:
                echo(item.sql if item.sql.endswith(";") else f"{item.sql};")


def _backup_json(backup: Backup) -> dict[str, Any]:
    return {
        "path": str(backup.path),
        "manifest": str(backup.manifest),
        "sha256": backup.sha256,
        "bytes": backup.size,
        "row_counts": backup.row_counts,
    }


def _backup_first(runner: Runner, echo: Echo) -> Backup | None:
    """``migrate --backup``: a backup when there is something to apply."""
    report = runner.status(record=False)
    if not report.pending:
        echo("Nothing to migrate: no backup taken.")
        return None
    if not report.database_exists:
        echo("The database does not exist yet: no backup taken.")
        return None
    backup = backup_database(runner.settings)
    echo(f"Backed up to {backup.path} before migrating.")
    return backup


def _migrate(args: argparse.Namespace, runner: Runner, echo: Echo) -> int:
    if args.sql and not args.dry_run:
        raise UsageError("--sql shows what would run: use it with --dry-run")
    if args.backup and args.dry_run:
        raise UsageError("--backup is taken before applying: a --dry-run applies nothing")
    backup = _backup_first(runner, echo) if args.backup else None
    ids = runner.migrate(
        to=args.to,
        dry_run=args.dry_run,
        accept_changed=args.accept_changed,
        break_lock=args.break_lock,
    )
    shown = runner.sql_of(ids) if args.sql else {}
    if args.sql and not args.json:
        _print_sql(shown, runner.settings.backend, echo)
    if args.json:
        document: dict[str, Any] = {
            "command": "migrate",
            "dry_run": args.dry_run,
            "applied_now": [] if args.dry_run else ids,
            "would_apply": ids if args.dry_run else [],
        }
        if args.backup:
            document["backup"] = None if backup is None else _backup_json(backup)
        if args.sql:
            document["sql"] = _sql_json(shown)
        # (a dry run writes nothing, not even the checksums status records)
        document.update(_report_json(runner.status(record=not args.dry_run)))
        _print_json(document)
    return EXIT_OK


def _folders(args: argparse.Namespace) -> Folders:
    """``--migrations`` as given, else what plain yoyo would read from ./yoyo.ini."""
    specs: list[str] | None = getattr(args, "migrations", None)
    if specs is None:
        specs = sources_of_yoyo_ini(Path(YOYO_INI)) or ["migrations"]
    return folders_from(specs)


def _init(root: Path, echo: Echo) -> int:
    """``dualdb init``: needs no database (the snapshot comes from a scratch SQLite one)."""
    results = init_project(root)
    for path, written in results:
        echo(f"{'Created' if written else 'Kept   '} {path}")
    folders = folders_from([SHIPPED_SOURCE, str(root / "migrations")])
    snapshot = folders.own / "schema.json"
    if snapshot.exists():
        echo(f"Kept    {snapshot}")
    else:
        scratch = load_settings({}, env_file=None)  # unused by a scratch-database dump
        Runner(scratch, folders, echo=echo).dump_schema(snapshot)
        echo(f"Created {snapshot}")
    echo("Next: dualdb migrate (SQLite at ./data/app.db; DATABASE_URL=postgresql://… for a server)")
    return EXIT_OK


#: Commands that write into the migrations folder (or from it, a snapshot).
_WRITING = frozenset({"new", "sum", "schema"})


def _operations(args: argparse.Namespace, settings: Settings, echo: Echo) -> int:
    """``backup``, ``restore`` and ``retention``: no migrations folder involved."""
    document: dict[str, Any] = {"command": args.command, "database": settings.display_url()}
    if args.command == "backup":
        backup = backup_database(settings, args.output)
        counts = backup.row_counts
        echo(
            f"Backed up {settings.display_url()}: {len(counts)} tables, {sum(counts.values())} rows"
        )
        print(backup.path, file=sys.stderr if args.json else sys.stdout, flush=True)
        document.update(_backup_json(backup))
    elif args.command == "restore":
        restored = restore_database(args.path, settings, force=args.force)
        counts = restored.row_counts
        echo(
            f"Restored {args.path} into {settings.display_url()}"
            f"{' (replacing its tables)' if restored.replaced else ''}: "
            f"{len(counts)} tables, {sum(counts.values())} rows; row counts match the manifest"
        )
        document.update(
            {"path": str(args.path), "replaced": restored.replaced, "row_counts": counts}
        )
    else:
        from dualdb.auth.retention import RetentionReport, run_retention
        from dualdb.factory import connect

        async def retain() -> RetentionReport:
            async with connect(settings=settings) as db:
                return await run_retention(
                    db,
                    batch_size=args.batch_size,
                    archive_sessions=args.archive_sessions,
                    archive_states=args.archive_states,
                )

        report = asyncio.run(retain())
        tables = []
        for entry in report.tables:
            into = f", archived into {entry.archive}" if entry.archive else ""
            echo(
                f"{entry.table}: {entry.deleted} expired rows deleted "
                f"in {entry.batches} batches{into}"
            )
            tables.append(
                {
                    "table": entry.table,
                    "deleted": entry.deleted,
                    "batches": entry.batches,
                    "archive": entry.archive,
                }
            )
        document.update({"batch_size": args.batch_size, "tables": tables})
    if args.json:
        _print_json(document)
    return EXIT_OK


def _run(args: argparse.Namespace, settings: Settings, echo: Echo) -> int:
    if args.command in ("backup", "restore", "retention"):
        return _operations(args, settings, echo)
    folders = _folders(args)
    if (
        args.command in _WRITING
        and getattr(args, "migrations", None) is None
        and not Path(YOYO_INI).is_file()
        and not folders.own.is_dir()
    ):
        # Run from the wrong folder, these would start a stray project where they stand.
        raise UsageError(
            f"no migrations folder ({folders.own}) and no {YOYO_INI} here: run dualdb from your "
            "project's root, give --migrations DIR, or start a project with `dualdb init`"
        )
    directory = folders.own
    lock_timeout: float = getattr(args, "lock_timeout", DEFAULT_LOCK_TIMEOUT)
    runner = Runner(settings, folders, echo=echo, lock_timeout=lock_timeout)
    command: str = args.command
    if command == "migrate":
        return _migrate(args, runner, echo)
    elif command == "mark":
        marked = runner.mark(args.ids, everything=args.all, break_lock=args.break_lock)
        if args.json:
            _print_json({"command": "mark", "marked_now": marked, **_report_json(runner.status())})
    elif command == "rollback":
        runner.rollback(
            to=args.to,
            steps=args.steps,
            everything=args.all,
            dry_run=args.dry_run,
            accept_changed=args.accept_changed,
            break_lock=args.break_lock,
        )
    elif command == "status":
        report = runner.status()
        _print_report(report, echo)
        if args.json:
            _print_json({"command": "status", **_report_json(report)})
        return _report_exit(report)
    elif command == "check":
        snapshot: Path = args.snapshot or directory / "schema.json"
        echo(f"Checking {settings.display_url()} against {folders} and {snapshot}")
        report = runner.check(snapshot)
        _print_report(report, echo, verbose_applied=False)
        if not report.problems:
            echo("OK: checksums match, nothing is pending, and the schema matches the snapshot.")
        if args.json:
            _print_json({"command": "check", "snapshot": str(snapshot), **_report_json(report)})
        return _report_exit(report)
    elif command == "reset":
        runner.reset(
            yes=args.yes, allow_production=args.allow_production, break_lock=args.break_lock
        )
    elif command == "new":
        for path in new_migration(folders, " ".join(args.name), python=args.python):
            echo(f"Created {path}")
        echo(f"Updated {directory / SUM_FILE}")
    elif command == "sum":
        echo(f"Wrote {write_sum(directory)}")
    elif command == "seed":
        result = run_seeds(settings, args.seeds, folders, allow_production=args.allow_production)
        echo(f"Seeded {settings.display_url()} from {args.seeds}:")
        for line in result.lines:
            echo(f"  {line}")
        counts = result.row_counts.items()
        echo("Rows now: " + ", ".join(f"{table} {count}" for table, count in counts))
    elif command == "schema":
        output: Path = args.output or directory / "schema.json"
        schema = runner.dump_schema(output, live=args.live)
        origin = (
            settings.display_url()
            if args.live
            else "a scratch SQLite database with every migration applied"
        )
        echo(f"Wrote {output}: {len(schema.tables)} tables, from {origin}.")
    return EXIT_OK


def exit_code(exc: BaseException, migrations: MigrationBackend | None = None) -> int:
    """The documented exit code for an error that ended a command (``migrations``: the
    configured backend's, which tells its driver's errors apart)."""
    if isinstance(exc, ChecksumMismatch):
        return EXIT_CHECKSUM
    if isinstance(exc, LockHeld):
        return EXIT_LOCKED
    if isinstance(exc, MigrationFailed | BadMigration | SeedFailed):
        return EXIT_FAILED
    if isinstance(exc, ConnectionFailed):
        return EXIT_UNREACHABLE
    if isinstance(exc, ConfigurationError | Refused | TargetNotEmpty):
        return EXIT_USAGE
    if migrations is not None and migrations.is_connection_error(exc):
        return EXIT_UNREACHABLE  # the connection broke during the command
    return EXIT_FAILED


def _configure_logging(verbose: bool) -> None:
    yoyo_logger = logging.getLogger("yoyo")
    if verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    else:
        # yoyo logs a traceback when a migration file fails to import; dualdb reports it itself.
        yoyo_logger.addHandler(logging.NullHandler())
        yoyo_logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see ``dualdb --help``)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in arguments  # known before parsing, for a refused command line

    def error(message: str, code: int) -> int:
        text = scrub(message)
        print(f"dualdb: error: {text}", file=sys.stderr, flush=True)
        if as_json:
            _print_json({"error": {"kind": ERROR_KINDS.get(code, "failed"), "message": text}})
        return code

    try:
        args = build_parser().parse_args(arguments)
    except UsageError as exc:
        print(exc.usage, end="", file=sys.stderr)
        return error(str(exc), EXIT_USAGE)
    as_json = getattr(args, "json", False)
    _configure_logging(getattr(args, "verbose", False))
    # With --json, stdout holds only the JSON object: the human text goes to stderr.
    echo: Echo = functools.partial(print, file=sys.stderr if as_json else sys.stdout, flush=True)
    settings: Settings | None = None

    try:
        if args.command == "init":
            return _init(args.directory, echo)
        database = getattr(args, "database", None)
        settings = load_settings(url=database) if database else load_settings()
        return _run(args, settings, echo)
    except KeyboardInterrupt:
        return error("interrupted", EXIT_INTERRUPTED)
    except UsageError as exc:
        return error(str(exc), EXIT_USAGE)
    except DatabaseError as exc:
        return error(str(exc), exit_code(exc))
    except Exception as exc:
        # A driver error the runner did not expect (permissions, a dropped connection…).
        migrations = get_dialect(settings.backend).migrations() if settings else None
        if migrations is None or not (
            migrations.is_driver_error(exc) or type(exc).__module__.startswith("yoyo")
        ):
            raise
        return error(
            f"database error: {describe_error(exc, migrations)}", exit_code(exc, migrations)
        )
