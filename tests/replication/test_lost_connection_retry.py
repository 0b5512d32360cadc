"""``run_in_transaction`` and a lost connection: retried before COMMIT (the server rolled
the transaction back), never during COMMIT (``CommitOutcomeUnknown``: it may have been
committed, and a retry could do the work twice)."""

from __future__ import annotations

import asyncio
import time

import pytest

import dualdb
from dualdb import raw
from dualdb.errors import CommitOutcomeUnknown, ConnectionFailed
from dualdb.retry import RETRYABLE_ERRORS, run_in_transaction


async def test_a_connection_lost_before_commit_is_retried(db: dualdb.Database) -> None:
    calls = 0

    async def flaky(tx: dualdb.Transaction) -> int:
        nonlocal calls
        calls += 1
        await tx.fetch_val(raw("SELECT 1"))
        if calls < 3:
            raise ConnectionFailed("connection lost: the server went away")
        return calls

    assert await run_in_transaction(db, flaky, base_delay=0, max_delay=0) == 3


async def test_a_commit_of_unknown_outcome_is_raised_at_once(db: dualdb.Database) -> None:
    calls = 0

    async def once(tx: dualdb.Transaction) -> None:
        nonlocal calls
        calls += 1
        raise CommitOutcomeUnknown("the connection was lost during COMMIT")

    with pytest.raises(CommitOutcomeUnknown):
        await run_in_transaction(db, once, base_delay=0, max_delay=0)
    assert calls == 1
    # A caller's own retry loop over RETRYABLE_ERRORS does not catch it either.
    assert not issubclass(CommitOutcomeUnknown, RETRYABLE_ERRORS)


@pytest.mark.not_through_pgbouncer("ends the server backend that runs the COMMIT by its pid")
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_connection_killed_during_commit_is_commit_outcome_unknown_and_not_retried(
    db: dualdb.Database,
) -> None:
    """A deferred constraint trigger makes COMMIT itself slow; the server ends the
    connection while COMMIT runs."""
    await db.execute(raw("CREATE TABLE slow_commit (id INTEGER PRIMARY KEY)"))
    await db.execute(
        raw(
            "CREATE FUNCTION at_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$"
        )
    )
    await db.execute(
        raw(
            "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON slow_commit "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION at_commit()"
        )
    )
    calls = 0

    async def insert(tx: dualdb.Transaction) -> None:
        nonlocal calls
        calls += 1
        await tx.execute(raw("INSERT INTO slow_commit VALUES (1)"))

    attempt = asyncio.create_task(run_in_transaction(db, insert, base_delay=0, max_delay=0))
    deadline = time.monotonic() + 10
    committing = raw(
        "SELECT pid FROM pg_stat_activity WHERE query = 'COMMIT' AND state = 'active' "
        "AND datname = current_database()"
    )
    while (pid := await db.fetch_val(committing)) is None:
        assert time.monotonic() < deadline, "COMMIT never started"
    assert await db.fetch_val(raw("SELECT pg_terminate_backend($1)", pid)) is True
    with pytest.raises(CommitOutcomeUnknown):
        await attempt
    assert calls == 1
