"""Errors of the migration tooling, a branch of :class:`dualdb.errors.DatabaseError`.

::

    DatabaseError
    └── MigrationError              anything the migration runner refuses or fails to do
        ├── MigrationSourceError    (also ConfigurationError) the migrations folder is missing,
        │                           empty, or names an unknown migration
        ├── BadMigration            a migration file cannot be loaded (syntax, dependencies)
        ├── MigrationFailed         the database rejected a migration; says what was kept
        ├── ChecksumMismatch        applied migrations were edited afterwards
        ├── LockHeld                another run holds (or a dead run left) the migration lock
        ├── Refused                 a destructive command lacks its explicit confirmation
        └── SeedFailed              a seed module failed; nothing of it was kept

Connection problems are the core's :class:`~dualdb.errors.ConnectionFailed` and bad
settings its :class:`~dualdb.errors.ConfigurationError`, so callers catch one tree.
"""

from __future__ import annotations

from collections.abc import Sequence

from dualdb.errors import ConfigurationError, DatabaseError

__all__ = [
    "BadMigration",
    "ChecksumMismatch",
    "LockHeld",
    "MigrationError",
    "MigrationFailed",
    "MigrationSourceError",
    "Refused",
    "SeedFailed",
]


class MigrationError(DatabaseError):
    """Base of the migration runner's errors."""


class MigrationSourceError(MigrationError, ConfigurationError):
    """The migrations folder is missing or empty, or a migration id matches no file."""

    def __init__(self, message: str) -> None:
        ConfigurationError.__init__(self, message, variable="migrations")


class BadMigration(MigrationError):
    """A migration file could not be loaded; nothing was run."""

    def __init__(self, message: str, *, migration_id: str) -> None:
        super().__init__(message)
        self.migration_id = migration_id


class MigrationFailed(MigrationError):
    """The database rejected a migration (or its rollback).

    ``kept_nothing`` is true when the runner verified afterwards that the database schema is
    exactly as before the migration and that it is not recorded as applied.
    """

    def __init__(
        self,
        message: str,
        *,
        migration_id: str,
        direction: str,
        kept_nothing: bool,
        dialect: str | None = None,
    ) -> None:
        super().__init__(message, dialect=dialect)
        self.migration_id = migration_id
        self.direction = direction
        self.kept_nothing = kept_nothing


class ChecksumMismatch(MigrationError):
    """Migration files changed after they were applied (or after ``dualdb.sum`` was written)."""

    def __init__(self, message: str, *, migration_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.migration_ids = tuple(migration_ids)


class LockHeld(MigrationError):
    """The migration lock is held by another run, or was left behind by a dead one."""

    def __init__(self, message: str, *, pid: int | None, since: str | None, stale: bool) -> None:
        super().__init__(message)
        self.pid = pid
        self.since = since
        self.stale = stale


class Refused(MigrationError):
    """A destructive command was not confirmed explicitly (``--yes``, ``--allow-production``)."""


class SeedFailed(MigrationError):
    """A seed module raised or the database rejected its rows; its transaction was rolled back."""
