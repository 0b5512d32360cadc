"""Reads on a real streaming replica (tests/_pgreplica.py): read-your-writes, a replica
that is stopped or lagging, writes the replica itself refuses, and the lag measured
under a write load. PostgreSQL only: SQLite has no replicas (its ``db.replica`` is
tested in test_replica_api.py)."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
from collections.abc import AsyncIterator, Callable

import pytest

import dualdb
from _pgreplica import ReplicaPair
from dualdb import Param, Query, Table, raw
from dualdb.errors import ProgrammingError

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

EVENTS = Table("events")
ADD = Query.into(EVENTS).columns(EVENTS.id, EVENTS.writer).insert(Param("id"), Param("writer"))
GET = Query.from_(EVENTS).select(EVENTS.writer).where(EVENTS.id == Param("id"))


@pytest.fixture
async def db(replica_pair: ReplicaPair, backend: str) -> AsyncIterator[dualdb.Database]:
    """The primary, with the replica as ``db.replica``, and an empty ``events`` table."""
    async with dualdb.connect(
        replica_pair.primary_url,
        replica_urls=[replica_pair.replica_url],
        replica_wait_timeout=5.0,
        pool_max_size=8,
    ) as db:
        await db.execute(raw("DROP TABLE IF EXISTS events"))
        await db.execute(raw("CREATE TABLE events (id BIGINT PRIMARY KEY, writer TEXT)"))
        yield db


async def _replica_has(pair: ReplicaPair, lsn: int) -> None:
    """Wait until the replica has replayed ``lsn`` (bounded: a failure, not a hang)."""
    deadline = time.monotonic() + 10
    while await asyncio.to_thread(pair.replay_lsn) < lsn:
        assert time.monotonic() < deadline, "the replica did not catch up within 10 s"


async def test_a_write_then_a_replica_read_in_the_same_task_sees_it(
    db: dualdb.Database,
) -> None:
    for n in range(20):
        await db.execute(ADD, id=n, writer="autocommit")
        assert await db.replica.fetch_val(GET, id=n) == "autocommit"
    async with db.transaction() as tx:
        await tx.execute(ADD, id=100, writer="transaction")
    assert await db.replica.fetch_val(GET, id=100) == "transaction"
    stats = db.replica.stats()
    assert stats.replica_reads == 21, stats  # every read served by the replica …
    assert stats.primary_reads == {}  # … none fell back to the primary


async def test_reads_of_a_task_that_did_not_write_pay_no_wait(
    db: dualdb.Database, replica_pair: ReplicaPair
) -> None:
    await db.execute(ADD, id=1, writer="someone")
    await _replica_has(replica_pair, await asyncio.to_thread(replica_pair.primary_lsn))

    async def other_task() -> object:
        return await db.replica.fetch_val(GET, id=1)

    # A new task starts with a copy of the writer's context: this one starts clean.
    assert await asyncio.create_task(other_task(), context=contextvars.Context()) == "someone"
    assert db.replica.stats().replica_reads == 1


async def test_after_a_write_a_replica_that_cannot_catch_up_in_time_leaves_the_read_to_the_primary(
    replica_pair: ReplicaPair, db: dualdb.Database
) -> None:
    replica_pair.replica.execute("SELECT pg_wal_replay_pause()")
    try:
        async with dualdb.connect(
            replica_pair.primary_url,
            replica_urls=[replica_pair.replica_url],
            replica_wait_timeout=0.05,
        ) as impatient:
            await impatient.execute(ADD, id=7, writer="paused")
            assert await impatient.replica.fetch_val(GET, id=7) == "paused"
            assert impatient.replica.stats().primary_reads == {"behind": 1}
    finally:
        replica_pair.replica.execute("SELECT pg_wal_replay_resume()")


async def test_a_replica_lagging_beyond_the_bound_is_skipped(
    replica_pair: ReplicaPair, db: dualdb.Database
) -> None:
    async with dualdb.connect(
        replica_pair.primary_url, replica_urls=[replica_pair.replica_url], replica_max_lag=0.2
    ) as bounded:
        assert await bounded.replica.fetch_val(raw("SELECT 1")) == 1  # (checked: fit)
        # Lag is measured from the last commit the replica replayed: one it has replayed
        # since it started (another test may have restarted it), before the pause.
        await db.execute(ADD, id=0, writer="seen")
        written = replica_pair.primary_lsn()
        deadline = time.monotonic() + 10
        while replica_pair.replay_lsn() < written:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        replica_pair.replica.execute("SELECT pg_wal_replay_pause()")
        try:
            # Committed on the primary, not replayed: the replica's lag grows from here.
            await db.execute(ADD, id=1, writer="unseen")
            deadline = time.monotonic() + 10
            while "lagging" not in bounded.replica.stats().primary_reads:
                assert time.monotonic() < deadline, bounded.replica.stats()
                await bounded.replica.fetch_val(raw("SELECT 1"))
            (state,) = bounded.replica.stats().replicas
            assert not state.available and state.lag is not None and state.lag > 0.2
        finally:
            replica_pair.replica.execute("SELECT pg_wal_replay_resume()")


async def test_what_the_client_cannot_tell_is_a_write_the_replica_refuses(
    replica_pair: ReplicaPair, db: dualdb.Database
) -> None:
    await db.execute(raw("CREATE SEQUENCE IF NOT EXISTS ticket"))
    with pytest.raises(ProgrammingError, match="read-only transaction"):
        await db.replica.fetch_val(raw("SELECT nextval('ticket')"))
    assert db.replica.stats().replica_reads == 1


async def test_a_stopped_replica_does_not_fail_reads(
    replica_pair: ReplicaPair, db: dualdb.Database
) -> None:
    await db.execute(ADD, id=1, writer="w")
    assert await db.replica.fetch_val(GET, id=1) == "w"  # (its pool has a connection now)
    replica_pair.stop_replica()
    try:
        for _ in range(5):
            assert await db.replica.fetch_val(GET, id=1) == "w"
        assert [r["writer"] async for r in db.replica.iterate(GET, id=1)] == ["w"]
        async with db.replica.transaction() as tx:
            assert await tx.fetch_val(GET, id=1) == "w"
        stats = db.replica.stats()
        assert stats.replica_reads == 1
        assert sum(stats.primary_reads.values()) == 7
        assert set(stats.primary_reads) <= {"failed", "down"}
        assert not stats.replicas[0].available
    finally:
        replica_pair.start_replica()
    async with dualdb.connect(
        replica_pair.primary_url, replica_urls=[replica_pair.replica_url]
    ) as fresh:
        assert await fresh.replica.fetch_val(raw("SELECT pg_is_in_recovery()")) is True


async def test_replica_lag_under_a_write_load_and_read_your_writes_every_time(
    replica_pair: ReplicaPair, db: dualdb.Database
) -> None:
    """Four writers each insert 60 rows, reading each back on the replica at once; a
    sampler records how far the replica is behind meanwhile (bytes of WAL, and seconds
    since the last commit it replayed)."""
    stop = asyncio.Event()
    reads = 0
    bytes_behind: list[int] = []
    seconds_behind: list[float] = []

    async def writer(w: int) -> None:
        nonlocal reads
        for n in range(60):
            key = w * 1_000_000 + n
            await db.execute(ADD, id=key, writer=f"w{w}")
            assert await db.replica.fetch_val(GET, id=key) == f"w{w}", key
            reads += 1

    async def sampler() -> None:
        async with db.connection() as conn:
            while not stop.is_set():
                lsn = await conn.fetchval("SELECT pg_current_wal_insert_lsn() - '0/0'")
                row = await asyncio.to_thread(
                    replica_pair.replica.execute,
                    "SELECT pg_last_wal_replay_lsn() - '0/0', "
                    "coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)",
                )
                bytes_behind.append(max(0, int(lsn) - int(row[0][0])))
                seconds_behind.append(float(row[0][1]))

    sampling = asyncio.create_task(sampler())
    await asyncio.gather(*(writer(w) for w in range(4)))
    stop.set()
    await sampling
    stats = db.replica.stats()
    print(
        f"\nreplica under load: {reads} write+read pairs; WAL behind max "
        f"{max(bytes_behind)} B, median {sorted(bytes_behind)[len(bytes_behind) // 2]} B; "
        f"since last replayed commit max {max(seconds_behind) * 1000:.0f} ms; "
        f"reads on the replica {stats.replica_reads}, on the primary {stats.primary_reads}",
        file=sys.stderr,
    )
    assert reads == 240 and stats.replica_reads + sum(stats.primary_reads.values()) == reads
    assert stats.replica_reads >= reads // 2  # mostly served by the replica, not the fallback


class _Seen:
    """A query hook that keeps, per statement, the server its event names and whether
    it failed."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int | None, bool]] = []

    def __call__(self, event: dualdb.QueryEvent) -> Callable[[dualdb.QueryOutcome], None]:
        port = event.server[1] if event.server is not None else None

        def finish(outcome: dualdb.QueryOutcome) -> None:
            self.events.append((event.operation, port, outcome.error is not None))

        return finish


@pytest.fixture
async def seen(replica_pair: ReplicaPair, db: dualdb.Database) -> _Seen:
    """A hook on ``db``, added once row 1 is on the replica."""
    await db.execute(ADD, id=1, writer="w")
    await _replica_has(replica_pair, replica_pair.primary_lsn())
    hook = _Seen()
    db.add_query_hook(hook)
    return hook


async def test_a_hook_sees_each_replica_read_on_the_replicas_server(
    replica_pair: ReplicaPair, db: dualdb.Database, seen: _Seen
) -> None:
    await db.fetch_val(GET, id=1)
    replica = replica_pair.replica_port
    assert seen.events == [("fetch_val", replica_pair.primary_port, False)]
    seen.events.clear()
    assert await db.replica.fetch_val(GET, id=1) == "w"
    assert [r["writer"] async for r in db.replica.iterate(GET, id=1)] == ["w"]
    assert await db.replica.fetch_all(GET, id=1)
    assert seen.events == [
        ("fetch_val", replica, False),
        ("iterate", replica, False),
        ("fetch_all", replica, False),
    ]


async def test_a_hook_sees_a_replica_transaction_on_the_replicas_server(
    replica_pair: ReplicaPair, db: dualdb.Database, seen: _Seen
) -> None:
    async with db.replica.transaction() as tx:
        assert await tx.fetch_val(GET, id=1) == "w"
        async with tx.transaction() as inner:
            assert await inner.fetch_val(GET, id=1) == "w"
    replica = replica_pair.replica_port
    assert [port for _, port, _ in seen.events] == [replica] * len(seen.events)
    assert [op for op, _, _ in seen.events] == ["begin", "fetch_val", "fetch_val", "commit"]


async def test_a_hook_sees_a_read_the_primary_served_for_the_replica_on_the_primary(
    replica_pair: ReplicaPair, db: dualdb.Database
) -> None:
    """A read the router sends to the primary (here: the replica stopped) is reported
    where it ran; a try on the replica that failed first is reported there, failed."""
    await db.execute(ADD, id=1, writer="w")
    assert await db.replica.fetch_val(GET, id=1) == "w"
    seen = _Seen()
    db.add_query_hook(seen)
    replica_pair.stop_replica()
    try:
        for _ in range(3):
            assert await db.replica.fetch_val(GET, id=1) == "w"
    finally:
        replica_pair.start_replica()
    primary, replica = replica_pair.primary_port, replica_pair.replica_port
    served = [(port, failed) for _, port, failed in seen.events if not failed]
    assert served == [(primary, False)] * 3
    assert all(port == replica for _, port, failed in seen.events if failed)
