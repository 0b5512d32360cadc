"""Schema migrations for dualdb: yoyo underneath, plus what yoyo lacks.

The same ``migrations/`` folder runs with plain ``yoyo apply`` and with ``dualdb migrate``;
both use yoyo's bookkeeping tables, so either can follow the other. dualdb adds checksums of
applied files and a committed ``dualdb.sum``, a lock with a useful wait and stale-lock
message, verification that a failed migration kept nothing, a dialect-neutral schema snapshot
with live introspection and drift reports, and development seeds.

One role per module::

    logical_types  the column-type vocabulary and its declared names per backend
    steps          helpers that migration files import (typed_sql, by_backend)
    backends       yoyo's backends, adjusted (atomic bookkeeping, SQLite connection)
    connection     settings → open backend, timeouts, password-free messages
    source         the migrations folder, validated and loaded up front
    checksums      per-database checksum table and the dualdb.sum file
    locking        yoyo's lock with a configurable wait and stale-lock reporting
    schema         the neutral schema model, its JSON snapshot and the diff
    introspect     live catalogs (SQLite pragmas, PostgreSQL pg_catalog) → schema model
    runner         migrate, rollback, status, reset, check, schema dump
    seeds          development data from seeds/*.py
    scaffold       ``dualdb new``
"""

from __future__ import annotations

from dualdb.errors import (
    BadMigration,
    ChecksumMismatch,
    LockHeld,
    MigrationError,
    MigrationFailed,
    MigrationSourceError,
    Refused,
    SeedFailed,
)
from dualdb.migrate.introspect import introspect
from dualdb.migrate.runner import Report, Runner
from dualdb.migrate.scaffold import new_migration
from dualdb.migrate.schema import Schema, diff
from dualdb.migrate.seeds import run_seeds

__all__ = [
    "BadMigration",
    "ChecksumMismatch",
    "LockHeld",
    "MigrationError",
    "MigrationFailed",
    "MigrationSourceError",
    "Refused",
    "Report",
    "Runner",
    "Schema",
    "SeedFailed",
    "diff",
    "introspect",
    "new_migration",
    "run_seeds",
]
