"""Re-run a transaction that lost a race: :func:`run_in_transaction`.

Under concurrency a correct transaction can still be aborted by the database:
PostgreSQL raises a serialization failure (SQLSTATE 40001, mostly at SERIALIZABLE or
REPEATABLE READ) or breaks a deadlock (40P01); SQLite reports "database is locked"
(``SQLITE_BUSY``) when another connection holds the write lock past the busy timeout.
dualdb maps all three to :class:`~dualdb.SerializationFailure` or
:class:`~dualdb.DeadlockDetected`, and in each case the database has undone the whole
transaction, so running it again from the start is safe and is the documented remedy.
On PostgreSQL, concurrent DDL that invalidates a statement the transaction had prepared
aborts it too: that is :class:`~dualdb.errors.SchemaChanged`, a SerializationFailure.

The helper runs ``fn(tx)`` inside a fresh transaction each time and retries only those
two errors, and a connection lost before COMMIT (``ConnectionFailed``: the server
rolled that transaction back, e.g. in a failover), a bounded number of times, sleeping a
random "full jitter" delay between attempts (``uniform(0, min(max_delay, base_delay *
2 ** (attempt - 1)))``) so that the transactions that collided do not collide again in
lockstep. A connection lost *during* COMMIT is :class:`~dualdb.CommitOutcomeUnknown`:
the work may have been committed, so a retry could apply it twice, and it is raised at
once, as is every other exception.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from dualdb.database import Database, Transaction
from dualdb.errors import (
    CommitOutcomeUnknown,
    ConnectionFailed,
    DeadlockDetected,
    QueryError,
    SerializationFailure,
)

__all__ = ["RETRYABLE_ERRORS", "run_in_transaction"]

T = TypeVar("T")

#: The errors after which the database has rolled the transaction back and a retry is safe.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (SerializationFailure, DeadlockDetected)
#: What ``run_in_transaction`` retries: those, and a connection lost before COMMIT (not
#: in RETRYABLE_ERRORS, which a caller's own loop may catch: its CommitOutcomeUnknown
#: subclass must not be retried blindly).
_RETRIED: tuple[type[Exception], ...] = (*RETRYABLE_ERRORS, ConnectionFailed)

logger = logging.getLogger("dualdb.retry")

# Jitter only spreads retries apart; it needs no cryptographic randomness.
_random = random.Random()  # noqa: S311


def backoff_delay(attempt: int, base_delay: float, max_delay: float) -> float:
    """The sleep before retry number ``attempt`` (1 = the first retry): full jitter."""
    ceiling = min(max_delay, base_delay * 2 ** (attempt - 1))
    return _random.uniform(0.0, ceiling)


async def run_in_transaction(
    db: Database,
    fn: Callable[[Transaction], Awaitable[T]],
    /,
    *,
    attempts: int = 5,
    isolation: str | None = None,
    readonly: bool = False,
    base_delay: float = 0.01,
    max_delay: float = 0.5,
) -> T:
    """Run ``await fn(tx)`` in a transaction, retrying it on conflicts; return its result.

    ``fn`` receives the :class:`~dualdb.Transaction` and must do all its database work
    through it: it may run several times, so it must not have side effects outside the
    database (or they must be safe to repeat). Each attempt is a new top-level
    transaction with the given ``isolation`` and ``readonly`` (see
    :meth:`Database.transaction`), committed when ``fn`` returns.

    On :class:`~dualdb.SerializationFailure` or :class:`~dualdb.DeadlockDetected` (from
    ``fn``'s statements, from BEGIN, or from COMMIT), or :class:`~dualdb.ConnectionFailed`
    before COMMIT (the server is gone, e.g. failing over, and rolled it back), the
    transaction has been rolled back;
    the helper sleeps a full-jitter exponential backoff and tries again, at most
    ``attempts`` times in all. When the last attempt fails too, that attempt's exception
    is re-raised unchanged (with a note saying how many attempts were made). Any other
    exception propagates immediately, after the transaction was rolled back, and so does
    :class:`~dualdb.CommitOutcomeUnknown` (the connection lost during COMMIT: the work may
    be committed, and a retry could do it twice; make it idempotent, or check first).

    ``db`` must be a :class:`~dualdb.Database`, not a Transaction: a conflict aborts the
    whole outer transaction, so only a top-level transaction can be retried.
    """
    if not isinstance(db, Database):
        raise QueryError(
            "run_in_transaction needs the Database: a conflict aborts the whole "
            f"transaction, so it cannot be retried inside one (got {type(db).__name__})"
        )
    if attempts < 1:
        raise QueryError(f"attempts must be ≥ 1, got {attempts}")
    if base_delay < 0 or max_delay < 0:
        raise QueryError(f"delays must be ≥ 0, got base_delay={base_delay}, max_delay={max_delay}")
    attempt = 1
    while True:
        try:
            async with db.transaction(isolation=isolation, readonly=readonly) as tx:
                return await fn(tx)
        except _RETRIED as exc:
            if isinstance(exc, CommitOutcomeUnknown):
                raise
            if attempt >= attempts:
                exc.add_note(f"dualdb.run_in_transaction: gave up after {attempts} attempt(s)")
                raise
            delay = backoff_delay(attempt, base_delay, max_delay)
            logger.info(
                "transaction attempt %d/%d on %s failed with %s; retrying in %.1f ms",
                attempt,
                attempts,
                db.backend,
                type(exc).__name__,
                delay * 1000,
            )
            await asyncio.sleep(delay)
            attempt += 1
