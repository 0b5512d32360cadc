"""sqlite3 errors → :mod:`dualdb.errors`."""

from __future__ import annotations

import re
import sqlite3

from dualdb import errors
from dualdb.dialects.sqlite.dialect import NAME

__all__ = ["READ_ONLY", "TRANSLATED", "driver_error", "translate"]

#: PostgreSQL's words for a write in a read-only transaction (SQLite's are about the file).
READ_ONLY = "cannot write in a read-only transaction"

# ---------------------------------------------------------------------------- errors

_CONSTRAINT_MESSAGE = re.compile(r"constraint failed: (?:index '([^']+)'|([\w.\"]+(?:, [\w.]+)*))")


def driver_error(exc: BaseException) -> errors.DriverError:
    """What sqlite3 raised, as the cause of the dualdb error for it (see DriverError):
    its message (SQLite's quote no values) and result code's name."""
    message = str(exc).split("\n", 1)[0]
    code = getattr(exc, "sqlite_errorname", None)
    return errors.DriverError(
        f"{message} ({code})" if code else message,
        driver=f"{type(exc).__module__}.{type(exc).__qualname__}",
    )


def translate(exc: BaseException, path: str | None = None) -> errors.DatabaseError:
    """Map a sqlite3 (or binding) error to the dualdb tree; the caller chains it."""
    message = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, OverflowError):
        return errors.DataError(
            "integer out of range: both backends store at most 64-bit integers", dialect=NAME
        )
    if isinstance(exc, UnicodeEncodeError):  # a lone surrogate cannot be stored as UTF-8
        return errors.DataError(f"text cannot be encoded as UTF-8: {exc.reason}", dialect=NAME)
    if code == 20:  # SQLITE_MISMATCH (a text LIMIT, a non-integer rowid): a bad value
        return errors.DataError(message, dialect=NAME)
    if isinstance(exc, sqlite3.IntegrityError):
        cls: type[errors.IntegrityError] = {
            2067: errors.UniqueViolation,
            1555: errors.UniqueViolation,
            787: errors.ForeignKeyViolation,
            1299: errors.NotNullViolation,
            275: errors.CheckViolation,
        }.get(code or 0, errors.IntegrityError)
        table = column = constraint = None
        match = _CONSTRAINT_MESSAGE.search(message)
        if match:
            if match.group(1):
                constraint = match.group(1)
            else:
                first = match.group(2).split(", ")[0]
                if cls is errors.CheckViolation:
                    constraint = first
                elif "." in first:
                    table, column = first.split(".", 1)
        return cls(message, dialect=NAME, constraint=constraint, table=table, column=column)
    if isinstance(exc, sqlite3.OperationalError):
        primary = (code or 0) & 0xFF
        if primary in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
            return errors.SerializationFailure(
                f"{message} (another connection holds the write lock; retry the transaction)",
                dialect=NAME,
            )
        if primary == 14:  # SQLITE_CANTOPEN
            return errors.ConnectionFailed(
                f"cannot open SQLite database {path!r}: {message}", dialect=NAME
            )
        if primary == 9:  # SQLITE_INTERRUPT
            return errors.QueryTimeout(message, dialect=NAME)
        if message == "user-defined function raised exception":
            # One of the functions dualdb registers on its connections, which said why
            # (functions.take_failure), in PostgreSQL's words.
            reason = getattr(exc, "dualdb_reason", None) or "invalid value"
            return errors.DataError(reason, dialect=NAME)
        if message == "integer overflow":  # SQLite's own sum() beyond 64 bits
            return errors.DataError("bigint out of range", dialect=NAME)
        if getattr(exc, "dualdb_reason", None) == READ_ONLY:
            return errors.ProgrammingError(READ_ONLY, dialect=NAME)
        if primary in (8, 10, 13, 26):  # READONLY, IOERR, FULL, NOTADB
            return errors.OperationalError(
                f"{message} (database {path!r})" if path else message, dialect=NAME
            )
        return errors.ProgrammingError(message, dialect=NAME)
    if isinstance(exc, sqlite3.DataError):
        return errors.DataError(message, dialect=NAME)
    if isinstance(exc, sqlite3.ProgrammingError):
        if "type" in message and "not supported" in message:
            return errors.DataError(message, dialect=NAME)
        return errors.QueryError(message, dialect=NAME)
    if isinstance(exc, sqlite3.Error):  # e.g. "file is not a database", "disk image is malformed"
        return errors.OperationalError(
            f"{message} (database {path!r})" if path else message, dialect=NAME
        )
    if isinstance(exc, errors.DatabaseError):
        return exc
    return errors.DatabaseError(message, dialect=NAME)


TRANSLATED = (sqlite3.Error, OverflowError, UnicodeEncodeError)
