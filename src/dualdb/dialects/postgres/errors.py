"""asyncpg (and socket) errors → the dualdb tree, by SQLSTATE; never a bound value."""

from __future__ import annotations

import re
import ssl
from typing import TYPE_CHECKING, Any, NoReturn

import asyncpg.exceptions as pgerr

from dualdb import errors
from dualdb.dialects._values import MAX_JSON_DEPTH
from dualdb.dialects.postgres.codec import Refused
from dualdb.dialects.postgres.dialect import NAME
from dualdb.settings import Settings

if TYPE_CHECKING:
    from dualdb.sql.compile import Compiled

__all__ = [
    "TRANSLATED",
    "connect_error",
    "credentials_refused",
    "driver_error",
    "raise_translated",
    "translate",
]


_QUOTED = re.compile(r'"[^"]*"|(?<!\w)\'[^\']*\'(?!\w)')
_ARGUMENT = re.compile(r"^invalid input for query argument \$(\d+)")


def _data_error(exc: BaseException, compiled: Compiled | None, **details: Any) -> errors.DataError:
    """A data error without the offending value, which may be a secret.

    asyncpg writes the value after the argument number ("…argument $1: 'tok' (…)") and
    keeps the encoder's own error as ``__cause__``; the server quotes values. The
    argument is named as the query names it: its Param, and the column it meets; the
    server names none, so its error lists the statement's arguments.
    """
    # A server error's primary message only: its DETAIL may quote the value.
    message = getattr(exc, "message", None) or str(exc)
    match = _ARGUMENT.match(message)
    if match:
        cause = exc.__cause__
        reason = _QUOTED.sub("<value>", str(cause)) if cause is not None else "refused"
        return _refused(compiled, int(match.group(1)), reason)
    message = _QUOTED.sub("<value>", message)
    if compiled is not None and compiled.slots:
        message += f" (the statement's values: {', '.join(compiled.argument_names())})"
    return errors.DataError(message, **{"dialect": NAME, **details})


def _refused(compiled: Compiled | None, number: int, reason: str) -> errors.DataError:
    """The error for argument ``$number``, named as the query names it where known."""
    if compiled is None or not 0 < number <= len(compiled.slots):
        return errors.DataError(
            f"invalid input for query argument ${number} ({reason})", dialect=NAME
        )
    return compiled.refused(number - 1, reason, NAME)


def raise_translated(exc: BaseException, compiled: Compiled | None = None) -> NoReturn:
    """Raise :func:`translate`'s error for ``exc``, chained to :func:`driver_error`'s
    account of it (never to ``exc``, whose text a traceback prints, DETAIL and all),
    except a data error, chained to nothing: its primary message quotes the offending
    value (a password, a token)."""
    error = translate(exc, compiled)
    raise error from driver_error(exc, data=isinstance(error, errors.DataError))


def driver_error(exc: BaseException, *, data: bool = False) -> errors.DriverError:
    """What asyncpg raised, without the values its text may quote (see DriverError).
    The message of a ``data`` error quotes the value it refused: its quoted parts are
    left out, and asyncpg's own account of an argument is cut to the argument's number."""
    driver = f"{type(exc).__module__}.{type(exc).__qualname__}"
    message = getattr(exc, "message", None) or str(exc).split("\n", 1)[0]
    detail = getattr(exc, "detail", None)
    if data:
        argument = _ARGUMENT.match(message)
        message = argument.group(0) if argument else _QUOTED.sub("<value>", message)
        detail = None
    if isinstance(exc, errors.DatabaseError):  # dualdb's own check, inside an encoder
        message = exc.message
    elif isinstance(exc, Refused):
        message = exc.error.message
    return errors.DriverError(
        message, driver=driver, sqlstate=getattr(exc, "sqlstate", None), detail=detail
    )


def translate(exc: BaseException, compiled: Compiled | None = None) -> errors.DatabaseError:
    """Map an asyncpg (or socket) error to the dualdb tree; the caller chains it.
    ``compiled`` is the statement that failed, to name an argument by its Param."""
    if isinstance(exc, Refused):
        return _refused(compiled, exc.index + 1, exc.error.message)
    if isinstance(exc, RecursionError):  # asyncpg's repr of a deep value, for its message
        return errors.DataError(
            f"a value nested too deep to encode (JSON deeper than {MAX_JSON_DEPTH} levels)",
            dialect=NAME,
        )
    if isinstance(exc, errors.DatabaseError):
        if isinstance(exc, errors.DataError) and compiled is not None and compiled.slots:
            # dualdb's own check in a type codec, which asyncpg calls without saying for
            # which argument: list the candidates.
            return errors.DataError(
                f"{exc.message} (the statement's values: {', '.join(compiled.argument_names())})",
                dialect=NAME,
            )
        return exc
    if isinstance(exc, OverflowError):
        return errors.DataError(
            "integer out of range: both backends store at most 64-bit integers", dialect=NAME
        )
    if isinstance(exc, pgerr.InvalidCachedStatementError):
        # Concurrent DDL changed a prepared statement's result type inside a transaction.
        return errors.SchemaChanged(
            "a concurrent schema change invalidated a prepared statement; the transaction "
            "was aborted (retry it, e.g. with run_in_transaction)",
            dialect=NAME,
        )
    if isinstance(exc, pgerr.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        # The primary message only: str(exc) appends DETAIL, which quotes row values
        # ("Key (email)=(…) already exists") that may be secrets.
        message = getattr(exc, "message", None) or str(exc).split("\n", 1)[0]
        details: dict[str, Any] = {
            "dialect": NAME,
            "constraint": getattr(exc, "constraint_name", None),
            "table": getattr(exc, "table_name", None),
            "column": getattr(exc, "column_name", None),
        }
        if state.startswith("22"):
            # Data errors quote the offending value; it may be a secret.
            cause = exc.__cause__
            if isinstance(cause, errors.DatabaseError):
                # dualdb's own check, run inside asyncpg's encoder of argument $n.
                match = _ARGUMENT.match(str(exc))
                if match is None or not isinstance(cause, errors.DataError):
                    return cause
                return _refused(compiled, int(match.group(1)), cause.message)
            if state == "22021" and message.endswith("0x00"):
                # The same words as SQLite's check (PostgreSQL's name the encoding).
                return errors.DataError(_NUL_MESSAGE, **details)
            return _data_error(exc, compiled, **details)
        if state == "25P02":
            return errors.TransactionAborted.after_error(NAME)
        if state in ("26000", "42P05") and "__asyncpg_" in message:
            return errors.ProgrammingError(f"{message}: {_BOUNCER_HINT}", dialect=NAME)
        cls: type[errors.DatabaseError] = _BY_STATE.get(state) or _BY_CLASS.get(
            state[:2], errors.DatabaseError
        )
        return cls(message, **details)
    if isinstance(exc, pgerr.DataError):  # client-side: an argument of the wrong type
        return _data_error(exc, compiled)
    if isinstance(exc, TimeoutError):  # asyncpg's command timeout: the client gave up
        return errors.QueryTimeout(
            "the server did not answer within the command timeout (DB_COMMAND_TIMEOUT, by "
            "default DB_STATEMENT_TIMEOUT + 2 s); the connection is discarded",
            dialect=NAME,
        )
    if isinstance(exc, pgerr.ConnectionDoesNotExistError | ConnectionError | OSError):
        return errors.ConnectionFailed(f"connection lost: {exc}", dialect=NAME)
    if isinstance(exc, pgerr.InterfaceError | pgerr.InternalClientError) and _CLOSED.search(
        str(exc)
    ):
        # The server closed the connection while asyncpg still held it as idle or busy
        # (e.g. killed or restarted while the event loop was busy elsewhere).
        return errors.ConnectionFailed(f"connection lost: {exc}", dialect=NAME)
    if isinstance(exc, pgerr.InterfaceError) and _ARGUMENT_COUNT.search(str(exc)):
        # raw SQL given the wrong number of values: the caller's mistake (SQLite's too)
        return errors.QueryError(str(exc).split("\n", 1)[0], dialect=NAME)
    if isinstance(exc, pgerr.InterfaceError | pgerr.InternalClientError):
        return errors.OperationalError(str(exc), dialect=NAME)
    return errors.DatabaseError(str(exc), dialect=NAME)


#: asyncpg's own hint for its prepared statements gone missing, in dualdb's terms.
_BOUNCER_HINT = (
    "the connection goes through PgBouncer (or another pooler) in transaction mode, which "
    "runs each transaction on any server connection; set DB_PGBOUNCER=true (or "
    "?pgbouncer=true in DATABASE_URL) to use no named prepared statements"
)

_NUL_MESSAGE = "text cannot contain the NUL character (PostgreSQL cannot store it)"

_ARGUMENT_COUNT = re.compile(r"the server expects \d+ arguments? for this query")

_STARTUP_PARAMETER = re.compile(r"unsupported startup parameter: (\w+)")

_CLOSED = re.compile(r"connection is closed|released back to the pool|cannot switch to state")


_BY_STATE: dict[str, type[errors.DatabaseError]] = {
    "23505": errors.UniqueViolation,
    "23503": errors.ForeignKeyViolation,
    "23502": errors.NotNullViolation,
    "23514": errors.CheckViolation,
    "40001": errors.SerializationFailure,
    "40P01": errors.DeadlockDetected,
    "57014": errors.QueryTimeout,
    "57P01": errors.ConnectionFailed,
    "57P02": errors.ConnectionFailed,
    "57P03": errors.ConnectionFailed,
    "53300": errors.ConnectionFailed,
    "25006": errors.ProgrammingError,  # write in a read-only transaction
}
_BY_CLASS: dict[str, type[errors.DatabaseError]] = {
    "21": errors.ProgrammingError,  # e.g. an upsert that would change one row twice
    "23": errors.IntegrityError,
    "26": errors.ProgrammingError,  # no such prepared statement
    "34": errors.ProgrammingError,  # no such cursor
    "08": errors.ConnectionFailed,
    "28": errors.ConnectionFailed,
    "3D": errors.ConnectionFailed,
    "40": errors.OperationalError,
    "42": errors.ProgrammingError,
    "53": errors.OperationalError,
    "54": errors.ProgrammingError,
    "55": errors.OperationalError,
    "57": errors.OperationalError,
    "58": errors.OperationalError,
    "0A": errors.ProgrammingError,
}

TRANSLATED = (
    Refused,
    RecursionError,
    pgerr.PostgresError,
    pgerr.InterfaceError,
    pgerr.InternalClientError,
    OverflowError,
    OSError,
)


def credentials_refused(exc: BaseException) -> bool:
    """The server (or PgBouncer, whose SQLSTATE is a protocol violation's) refused the
    login: trying again will not help."""
    state = getattr(exc, "sqlstate", None) or ""
    message = getattr(exc, "message", None) or str(exc)
    return state.startswith("28") or (state == "08P01" and "authentication failed" in message)


def connect_error(exc: BaseException, settings: Settings) -> errors.DatabaseError:
    target = settings.display_url()
    if credentials_refused(exc):
        return errors.ConnectionFailed(
            f"PostgreSQL rejected the credentials for {target}: authentication failed "
            "(check the user and password in DATABASE_URL / DB_USER / DB_PASSWORD)",
            dialect=NAME,
        )
    if isinstance(exc, pgerr.InvalidCatalogNameError):
        return errors.ConnectionFailed(
            f"database {settings.database!r} does not exist on {target}", dialect=NAME
        )
    if isinstance(exc, TimeoutError):
        return errors.ConnectionFailed(
            f"could not connect to {target} within {settings.connect_timeout}s "
            "(DB_CONNECT_TIMEOUT)",
            dialect=NAME,
        )
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "verify_message", None) or exc.reason or type(exc).__name__
        what = "certificate verification" if isinstance(exc, ssl.SSLCertVerificationError) else ""
        return errors.ConnectionFailed(
            f"TLS {what or 'handshake'} with {target} failed: {reason} (check sslmode, "
            "sslrootcert, and the host name the certificate names)",
            dialect=NAME,
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename:  # a TLS file of the URL (sslrootcert, sslkey …) that cannot be read
            reason = f"{reason}: {exc.filename}"
        return errors.ConnectionFailed(f"could not connect to {target}: {reason}", dialect=NAME)
    mapped = translate(exc)
    refused = _STARTUP_PARAMETER.search(mapped.message)
    if refused is not None:
        return errors.ConnectionFailed(
            f"{target} refused the server setting {refused.group(1)} at connect: it is "
            "PgBouncer, which passes few settings on. Set DB_PGBOUNCER=true (or "
            "?pgbouncer=true in DATABASE_URL): DB_STATEMENT_TIMEOUT is then kept by the "
            "client; set other settings for the role (ALTER ROLE … SET)",
            dialect=NAME,
        )
    if isinstance(mapped, errors.ConnectionFailed):
        return mapped
    return errors.ConnectionFailed(f"could not connect to {target}: {mapped.message}", dialect=NAME)
