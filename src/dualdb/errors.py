"""The one exception tree of dualdb.

Every error dualdb raises is a :class:`DatabaseError`. Driver exceptions (asyncpg,
sqlite3/aiosqlite) never reach the caller raw: each is mapped to the most specific class
below, chained to a :class:`DriverError` that says what the driver raised (its class,
SQLSTATE and primary message) without the values it may quote -- PostgreSQL's DETAIL
(``Key (api_key)=(…) already exists``) is in ``DriverError.detail``, for who asks, and in
no traceback. Callers catch by meaning, on either backend::

    DatabaseError
    ├── ConfigurationError      (also ValueError) bad setting; names the variable (or
    │                           the extra to install for a feature: dualdb[postgresql])
    ├── UnsupportedFeature      a construct the target dialect cannot run (raised at compile time)
    ├── QueryError              (also ValueError) a query the caller built wrongly:
    │   │                       a missing Param value, ``col == None``
    │   └── ResultMappingError  rows do not fit the ``as_=`` model: a column it lacks, a
    │                           required field without a column, a value it refused
    ├── DataError               (also ValueError) a value the backend cannot store faithfully:
    │                           NUL in text, an integer beyond 64 bits, a naive datetime
    ├── ProgrammingError        the database rejected the SQL: syntax, unknown table/column
    ├── IntegrityError          a constraint stopped the statement
    │   ├── UniqueViolation
    │   ├── ForeignKeyViolation
    │   ├── NotNullViolation
    │   └── CheckViolation
    ├── OperationalError        the database or the connection failed, not the query
    │   ├── ConnectionFailed    cannot connect, or the connection died
    │   │   └── CommitOutcomeUnknown  the connection died during COMMIT: the transaction
    │   │                             may or may not have committed; not retried
    │   ├── PoolTimeout         no pooled connection became free in time
    │   ├── QueryTimeout        the statement ran past its timeout
    │   ├── SerializationFailure  a concurrent transaction conflicted; retry (also
    │   │   │                     SQLite's "database is locked")
    │   │   └── SchemaChanged     concurrent DDL invalidated a prepared statement; retry
    │   ├── TransactionAborted    an earlier statement failed: roll back, or use a savepoint
    │   └── DeadlockDetected      retry
    ├── HarnessError            dualdb.testing's PostgreSQL server cannot be found, started
    │                           or used (says what to install or set)
    ├── MigrationError          the migration runner refused or failed (dualdb.migrate)
    │   ├── MigrationSourceError  (also ConfigurationError) migrations folder missing/empty
    │   ├── BadMigration        a migration file cannot be loaded; nothing ran
    │   ├── MigrationFailed     the database rejected a migration; says what was kept
    │   ├── ChecksumMismatch    applied migrations were edited afterwards
    │   ├── LockHeld            another run holds (or a dead run left) the migration lock
    │   ├── Refused             a destructive command lacks its explicit confirmation
    │   └── SeedFailed          a seed module failed; nothing of it was kept
    ├── BackupError             ``dualdb backup``/``restore`` failed: the tool's own
    │   │                       (scrubbed) message, or a backup file that fails its checksum
    │   ├── BackupToolMissing   (also ConfigurationError) pg_dump/pg_restore not found, or
    │   │                       older than the server; says where it looked
    │   └── TargetNotEmpty      restore refused: the target has tables (--force replaces them)
    └── AuthError               (dualdb.auth)
        ├── EmailTaken          (also UniqueViolation) the normalised email is in use
        ├── AccountLinkedElsewhere  (also IntegrityError) identity linked to another user
        ├── InvalidEmail        (also ValueError)
        ├── InvalidCursor       (also ValueError) a pagination cursor dualdb did not make
        └── TokenDecryptionError  a stored OAuth token cannot be decrypted

Each instance carries ``dialect`` (``"sqlite"`` or ``"postgresql"`` where known) and,
where the backend reports them, ``constraint``, ``table`` and ``column``. Messages never
contain passwords or bound parameter values.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AccountLinkedElsewhere",
    "AuthError",
    "BackupError",
    "BackupToolMissing",
    "BadMigration",
    "CheckViolation",
    "ChecksumMismatch",
    "CommitOutcomeUnknown",
    "ConfigurationError",
    "ConnectionFailed",
    "DataError",
    "DatabaseError",
    "DeadlockDetected",
    "DriverError",
    "EmailTaken",
    "ForeignKeyViolation",
    "HarnessError",
    "IntegrityError",
    "InvalidCursor",
    "InvalidEmail",
    "LockHeld",
    "MigrationError",
    "MigrationFailed",
    "MigrationSourceError",
    "NotNullViolation",
    "OperationalError",
    "PoolTimeout",
    "ProgrammingError",
    "QueryError",
    "QueryTimeout",
    "Refused",
    "ResultMappingError",
    "SchemaChanged",
    "SeedFailed",
    "SerializationFailure",
    "TargetNotEmpty",
    "TokenDecryptionError",
    "TransactionAborted",
    "UniqueViolation",
    "UnsupportedFeature",
]


class DatabaseError(Exception):
    """Base of every dualdb error."""

    def __init__(
        self,
        message: str,
        *,
        dialect: str | None = None,
        constraint: str | None = None,
        table: str | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.dialect = dialect
        self.constraint = constraint
        self.table = table
        self.column = column

    def __str__(self) -> str:
        return self.message if self.dialect is None else f"[{self.dialect}] {self.message}"


class DriverError(Exception):
    """The ``__cause__`` of a dualdb error raised for a driver's exception: the driver's
    exception class (``driver``), ``sqlstate`` and primary message, for debugging.

    Not the driver's exception itself: a traceback prints the whole cause chain, and
    asyncpg's exceptions print PostgreSQL's DETAIL, which quotes row values (an API key
    in ``Key (api_key)=(…) already exists``, a row in ``Failing row contains (…)``). That
    text is kept in ``detail`` (``None`` if there is none), which no message, ``repr`` or
    traceback shows; read it deliberately, where values may be seen. Never raised itself.
    """

    def __init__(
        self, message: str, *, driver: str, sqlstate: str | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.driver = driver
        self.sqlstate = sqlstate
        self.detail = detail

    def __str__(self) -> str:
        state = f" (SQLSTATE {self.sqlstate})" if self.sqlstate else ""
        return f"{self.driver}: {self.message}{state}"


class ConfigurationError(DatabaseError, ValueError):
    """A setting is missing, malformed or contradicts another.

    ``variable`` names the setting (environment variable name where it came from one).
    """

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class UnsupportedFeature(DatabaseError):
    """The target dialect cannot run this construct; raised before anything is sent."""

    def __init__(self, construct: str, dialect: str, hint: str | None = None) -> None:
        message = f"{construct} is not supported on {dialect}"
        if hint:
            message = f"{message}: {hint}"
        super().__init__(message, dialect=dialect)
        self.construct = construct


class QueryError(DatabaseError, ValueError):
    """The query or its arguments are wrong, independent of the backend."""


class ResultMappingError(QueryError):
    """The rows of ``fetch_one/fetch_all/iterate(..., as_=Model)`` do not fit ``Model``
    (or ``fetch_val(..., as_=cls)``'s value is no ``cls``).

    Says which ``model``, ``field``, ``column`` and ``value_type`` (the value's type name),
    never the value: a row may hold a token or an email address. For a pydantic model or
    msgspec Struct that refused a value, ``problems`` lists ``(field, reason)`` pairs, the
    reason being pydantic's error type (``int_parsing``) or the type msgspec expected;
    their own exceptions, which quote the value, are neither kept nor chained.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str,
        field: str | None = None,
        column: str | None = None,
        value_type: str | None = None,
        problems: tuple[tuple[str | None, str], ...] = (),
    ) -> None:
        super().__init__(message, column=column)
        self.model = model
        self.field = field
        self.value_type = value_type
        self.problems = problems


class DataError(DatabaseError, ValueError):
    """A bound value cannot be stored faithfully by the backend."""


class ProgrammingError(DatabaseError):
    """The database rejected the statement itself (syntax, unknown table or column)."""


class IntegrityError(DatabaseError):
    """A constraint rejected the statement; the data is unchanged."""


class UniqueViolation(IntegrityError):
    """A UNIQUE or PRIMARY KEY constraint was violated."""


class ForeignKeyViolation(IntegrityError):
    """A FOREIGN KEY constraint was violated."""


class NotNullViolation(IntegrityError):
    """NULL was written to a NOT NULL column."""


class CheckViolation(IntegrityError):
    """A CHECK constraint was violated."""


class OperationalError(DatabaseError):
    """The database or connection failed for a reason outside the query."""


class ConnectionFailed(OperationalError):
    """Could not connect, or the connection was lost."""


class CommitOutcomeUnknown(ConnectionFailed):
    """The connection was lost while COMMIT was under way: the server may have committed
    the transaction before it went away (a failover, a crash), or not.

    :func:`~dualdb.run_in_transaction` retries a lost connection before COMMIT (the
    server rolled that transaction back) but not this: a retry could apply the work
    twice. Find out by reading (an idempotency key the transaction wrote), then decide.
    """


class PoolTimeout(OperationalError):
    """No pooled connection became free within the acquire timeout."""


class QueryTimeout(OperationalError):
    """The statement was cancelled by a statement timeout."""


class SerializationFailure(OperationalError):
    """The transaction conflicted with a concurrent one; retrying it is safe."""


class SchemaChanged(SerializationFailure):
    """Concurrent DDL (e.g. a migration's ``ALTER TABLE``) changed the result type of a
    statement this transaction had prepared, and the database aborted the transaction.

    Retrying it is safe, and :func:`~dualdb.run_in_transaction` does (it retries every
    :class:`SerializationFailure`). Outside a transaction dualdb prepares the statement
    again itself, so this is raised only inside one.
    """


class TransactionAborted(OperationalError):
    """A statement in this transaction failed, so the database aborted the transaction:
    every later statement in it fails, and it cannot commit.

    Catching the first error does not undo this. Leave the ``async with`` block with
    the error (the transaction rolls back), or run the statement that may fail in a
    savepoint of its own, ``async with tx.transaction():``, which rolls back alone.
    PostgreSQL aborts the transaction itself; dualdb's SQLite connections do the same,
    so that code which would keep going after an error fails in development too.
    """

    #: What to do about it, in every message of this class.
    HINT = (
        "roll the transaction back (let the error leave its `async with` block), or run "
        "the statement that may fail in a savepoint: `async with tx.transaction():`"
    )

    @classmethod
    def after_error(cls, dialect: str) -> TransactionAborted:
        """A statement sent after the one that failed."""
        return cls(
            "current transaction is aborted (an earlier statement in it failed), commands "
            f"ignored until end of transaction block: {cls.HINT}",
            dialect=dialect,
        )

    @classmethod
    def in_savepoint(cls, dialect: str) -> TransactionAborted:
        """The end of a savepoint block in which a statement failed and its error was
        caught: rolled back to the savepoint; the enclosing transaction goes on."""
        return cls(
            "the savepoint was rolled back, not released: a statement in its block failed "
            "and its error was caught; nothing the block wrote was kept, and the enclosing "
            "transaction goes on",
            dialect=dialect,
        )

    @classmethod
    def at_commit(cls, dialect: str) -> TransactionAborted:
        """COMMIT of an aborted transaction, which rolls it back instead."""
        return cls(
            "the transaction was rolled back, not committed: a statement in it failed and "
            f"its error was caught; nothing it wrote was kept ({cls.HINT})",
            dialect=dialect,
        )


class DeadlockDetected(OperationalError):
    """The database broke a deadlock by aborting this transaction; retrying it is safe."""


# ---------------------------------------------------------------- migrations (dualdb.migrate)


class HarnessError(DatabaseError):
    """The throwaway PostgreSQL server of :mod:`dualdb.testing` (or the one its URL names)
    cannot be found, started or used; the message says what to install or set."""


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


# ---------------------------------------------------------------- backups (dualdb backup)


class BackupError(DatabaseError):
    """A backup or restore failed; the message holds the tool's output, scrubbed of
    passwords."""


class BackupToolMissing(BackupError, ConfigurationError):
    """The client tool a backend's backups need is not installed, or is older than the
    server (``pg_dump`` cannot dump a newer server); the message says where it looked."""

    def __init__(self, message: str, *, dialect: str | None = None) -> None:
        ConfigurationError.__init__(self, message, variable="DUALDB_PG_BINDIR")
        self.dialect = dialect


class TargetNotEmpty(BackupError):
    """A restore was refused: the target database already has tables. Restoring over
    them needs an explicit ``force=True`` (``--force``)."""


# ---------------------------------------------------------------- auth (dualdb.auth)


class AuthError(DatabaseError):
    """Base of the errors raised by :mod:`dualdb.auth`."""


class EmailTaken(AuthError, UniqueViolation):
    """Another user (possibly soft-deleted) already has this email address.

    Raised by create and update, also when two creates of one address race: the
    database's unique index decides, and its violation is translated into this error.
    ``email`` is the normalised address.
    """

    def __init__(self, email: str, *, dialect: str | None = None) -> None:
        super().__init__(
            "a user with this email address already exists",
            dialect=dialect,
            constraint="users_email_lower_key",
            table="users",
            column="email",
        )
        self.email = email


class AccountLinkedElsewhere(AuthError, IntegrityError):
    """The external identity (provider, provider_id) is already linked to another user.

    Linking never moves an identity between users silently: that would hand one user's
    sign-in to another. Unlink it from the first user to move it.
    """

    def __init__(self, provider: str, *, dialect: str | None = None) -> None:
        super().__init__(
            f"this {provider} account is already linked to another user",
            dialect=dialect,
            table="oauth_providers",
        )
        self.provider = provider


class InvalidEmail(AuthError, ValueError):
    """The value is empty or not shaped like an email address."""


class InvalidCursor(AuthError, ValueError):
    """A keyset pagination cursor that this module did not produce (or was altered)."""


class TokenDecryptionError(AuthError):
    """A stored OAuth token could not be decrypted.

    Its key id is not configured in ``DUALDB_TOKEN_KEYS`` (a key was removed too early),
    the key under that id changed, or the stored value was altered or copied from another
    row or column (the ciphertext is bound to its provider identity and column).
    """
