"""The one exception tree of dualdb.

Every error dualdb raises is a :class:`DatabaseError`. Driver exceptions (asyncpg,
sqlite3/aiosqlite) never reach the caller raw: each is mapped to the most specific class
below and chained with ``raise ... from exc``, so ``exc.__cause__`` still holds the
driver's own exception for debugging. Callers catch by meaning, on either backend::

    DatabaseError
    ├── ConfigurationError      (also ValueError) bad setting; names the variable
    ├── UnsupportedFeature      a construct the target dialect cannot run (raised at compile time)
    ├── QueryError              (also ValueError) a query the caller built wrongly:
    │                           a missing Param value, ``col == None``
    ├── DataError               (also ValueError) a value the backend cannot store faithfully:
    │                           NUL in text, an integer beyond 64 bits, a naive datetime
    ├── ProgrammingError        the database rejected the SQL: syntax, unknown table/column
    ├── IntegrityError          a constraint stopped the statement
    │   ├── UniqueViolation
    │   ├── ForeignKeyViolation
    │   ├── NotNullViolation
    │   └── CheckViolation
    └── OperationalError        the database or the connection failed, not the query
        ├── ConnectionFailed    cannot connect, or the connection died
        ├── PoolTimeout         no pooled connection became free in time
        ├── QueryTimeout        the statement ran past its timeout
        ├── SerializationFailure  a concurrent transaction conflicted; retry
        └── DeadlockDetected      retry
        (SQLite's "database is locked" is a SerializationFailure: it is retried the same way.)

Each instance carries ``dialect`` (``"sqlite"`` or ``"postgresql"`` where known) and,
where the backend reports them, ``constraint``, ``table`` and ``column``. Messages never
contain passwords or bound parameter values.
"""

from __future__ import annotations

__all__ = [
    "CheckViolation",
    "ConfigurationError",
    "ConnectionFailed",
    "DataError",
    "DatabaseError",
    "DeadlockDetected",
    "ForeignKeyViolation",
    "IntegrityError",
    "NotNullViolation",
    "OperationalError",
    "PoolTimeout",
    "ProgrammingError",
    "QueryError",
    "QueryTimeout",
    "SerializationFailure",
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


class PoolTimeout(OperationalError):
    """No pooled connection became free within the acquire timeout."""


class QueryTimeout(OperationalError):
    """The statement was cancelled by a statement timeout."""


class SerializationFailure(OperationalError):
    """The transaction conflicted with a concurrent one; retrying it is safe."""


class DeadlockDetected(OperationalError):
    """The database broke a deadlock by aborting this transaction; retrying it is safe."""
