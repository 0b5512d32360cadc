"""dualdb: one async API over SQLite (development) and PostgreSQL (production).

Write queries once with PyPika (start from :class:`Query`, fill values with
:class:`Param`), run them with :func:`connect`'s :class:`Database`, and get the same
Python values back from both backends.
"""

from __future__ import annotations

from pypika import Order, Table
from pypika import functions as fn

from dualdb import errors
from dualdb._backup import Backup, Restore, backup_database, restore_database
from dualdb._hooks import QueryEvent, QueryOutcome
from dualdb._logging import register_secret_names
from dualdb._otel import instrument_opentelemetry
from dualdb._replicas import ReplicaState, ReplicaStats
from dualdb.database import Database, Health, PoolStats, Queryable, Replica, Transaction
from dualdb.errors import (
    CheckViolation,
    CommitOutcomeUnknown,
    ConfigurationError,
    ConnectionFailed,
    DatabaseError,
    DataError,
    DeadlockDetected,
    DriverError,
    ForeignKeyViolation,
    IntegrityError,
    NotNullViolation,
    OperationalError,
    PoolTimeout,
    ProgrammingError,
    QueryError,
    QueryTimeout,
    ResultMappingError,
    SchemaChanged,
    SerializationFailure,
    TransactionAborted,
    UniqueViolation,
    UnsupportedFeature,
)
from dualdb.factory import close_database, connect, get_database
from dualdb.query import Query
from dualdb.records import Record
from dualdb.retry import RETRYABLE_ERRORS, run_in_transaction
from dualdb.settings import Settings, load_settings
from dualdb.sql.terms import Json, Param, Raw, escape_like, raw

__version__ = "0.1.0"

__all__ = [
    "RETRYABLE_ERRORS",
    "Backup",
    "CheckViolation",
    "CommitOutcomeUnknown",
    "ConfigurationError",
    "ConnectionFailed",
    "DataError",
    "Database",
    "DatabaseError",
    "DeadlockDetected",
    "DriverError",
    "ForeignKeyViolation",
    "Health",
    "IntegrityError",
    "Json",
    "NotNullViolation",
    "OperationalError",
    "Order",
    "Param",
    "PoolStats",
    "PoolTimeout",
    "ProgrammingError",
    "Query",
    "QueryError",
    "QueryEvent",
    "QueryOutcome",
    "QueryTimeout",
    "Queryable",
    "Raw",
    "Record",
    "Replica",
    "ReplicaState",
    "ReplicaStats",
    "Restore",
    "ResultMappingError",
    "SchemaChanged",
    "SerializationFailure",
    "Settings",
    "Table",
    "Transaction",
    "TransactionAborted",
    "UniqueViolation",
    "UnsupportedFeature",
    "backup_database",
    "close_database",
    "connect",
    "errors",
    "escape_like",
    "fn",
    "get_database",
    "instrument_opentelemetry",
    "load_settings",
    "raw",
    "register_secret_names",
    "restore_database",
    "run_in_transaction",
]
