"""Failover under load: the primary crashes (``pg_ctl stop -m immediate``) and its
synchronous replica is promoted (``pg_ctl promote``); the application's multi-host URL
(primary,replica with ``target_session_attrs=read-write``) finds the new primary.

Bound stated: the first transaction commits on the new primary within ``FAILOVER_BOUND``
seconds of the crash (the harness's stop and promote take well under a second of it).
Every transaction whose ``run_in_transaction`` returned is on the new primary; none is
there twice (a primary key, and a retry after a lost COMMIT would hit it: dualdb raises
``CommitOutcomeUnknown`` there instead of retrying); every row there was either reported
committed or reported of unknown outcome. The replica is synchronous
(``synchronous_standby_names='*'``): with asynchronous replication a failover may lose
transactions already reported committed, which no client can prevent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest

import dualdb
from _pgreplica import ReplicaPair
from dualdb import Param, Query, Table, raw
from dualdb.errors import CommitOutcomeUnknown, ConnectionFailed
from dualdb.retry import run_in_transaction
from dualdb.testing._cluster import SUPERUSER, url_password

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

FAILOVER_BOUND = 10.0
WRITERS = 6
IDS = Table("ids")
ADD = Query.into(IDS).columns(IDS.id).insert(Param("id"))


async def test_the_pool_finds_the_promoted_replica_and_no_committed_transaction_is_lost_or_doubled(
    sync_pair: ReplicaPair, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dualdb.retry")
    pair = sync_pair
    url = (
        f"postgresql://{SUPERUSER}:{url_password(pair.primary.url)}@"
        f"127.0.0.1:{pair.primary_port},127.0.0.1:{pair.replica_port}/app"
        "?target_session_attrs=read-write"
    )
    committed: list[int] = []
    unknown: list[int] = []
    failed_inside: list[type[BaseException]] = []
    commit_times: list[float] = []
    next_id = itertools.count(1)
    stop = asyncio.Event()
    enough = asyncio.Event()
    recovered = asyncio.Event()
    down_at = float("inf")  # when the primary had stopped

    async with dualdb.connect(url, pool_max_size=WRITERS, connect_timeout=1.0) as db:
        await db.execute(raw("CREATE TABLE ids (id BIGINT PRIMARY KEY)"))

        async def writer() -> None:
            while not stop.is_set():
                key = next(next_id)

                async def insert(tx: dualdb.Transaction, key: int = key) -> None:
                    try:
                        await tx.execute(ADD, id=key)
                    except BaseException as exc:
                        failed_inside.append(type(exc))
                        raise

                try:
                    await run_in_transaction(
                        db, insert, attempts=200, base_delay=0.01, max_delay=0.1
                    )
                except CommitOutcomeUnknown:
                    unknown.append(key)
                    continue
                committed.append(key)
                now = time.monotonic()
                commit_times.append(now)
                if len(committed) >= 30:
                    enough.set()
                if sum(t > down_at for t in commit_times) >= 30:
                    recovered.set()

        writers = [asyncio.create_task(writer()) for _ in range(WRITERS)]
        await asyncio.wait_for(enough.wait(), 30)
        before = len(committed)
        await asyncio.to_thread(pair.stop_primary)
        down_at = time.monotonic()
        await asyncio.to_thread(pair.promote)
        try:
            await asyncio.wait_for(recovered.wait(), 30)
        finally:
            stop.set()
            await asyncio.gather(*writers)  # (a writer's unexpected error fails the test)

        recovery = min(t for t in commit_times if t > down_at) - down_at
        print(
            f"\nfailover: first commit on the new primary {recovery:.2f} s after the primary "
            f"stopped; {len(committed)} committed, {len(unknown)} of unknown outcome, "
            f"{len(failed_inside)} statements failed in flight"
        )
        assert recovery <= FAILOVER_BOUND
        assert await db.fetch_val(raw("SELECT pg_is_in_recovery()")) is False
        rows = [r["id"] for r in await db.fetch_all(Query.from_(IDS).select(IDS.id))]

    assert before >= 30
    assert len(rows) == len(set(rows))
    assert set(committed) <= set(rows), "a transaction reported committed was lost"
    assert set(rows) <= set(committed) | set(unknown), "a row nobody reported committed"
    assert len(committed) == len(set(committed))
    # In-flight transactions failed with ConnectionFailed, and were retried.
    retried = [r.getMessage() for r in caplog.records if "ConnectionFailed" in r.getMessage()]
    assert retried or unknown, "the crash interrupted no transaction"
    assert all(issubclass(e, ConnectionFailed) for e in failed_inside), failed_inside
