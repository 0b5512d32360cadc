"""Which server a ``db.replica`` read goes to: a replica, or the primary as a fallback.

One pool per replica, taken in turn (round robin). A replica is asked for its state (how
far it has replayed, how far behind it is) at most once per ``_CHECK_INTERVAL`` on the
read path, so a read pays that round trip about once a second per replica, not per call;
a replica that cannot be reached is left alone for ``_RECHECK`` seconds. When none is
fit, the read goes to the primary and the reason is counted (:class:`ReplicaStats`).

Read-your-writes: a context (task, request) that committed a write on the primary is
marked; only then, at its next replica read, the primary's current write position is
read (one round trip, paid once per write burst, not per write) and the replica must have
replayed that far, waited for up to ``replica_wait_timeout``, else the read goes to the
primary. The mark is a ContextVar holding a number: no connection is ambient.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from time import monotonic

from dualdb.dialects._pool import PoolStats
from dualdb.dialects.base import Dialect, Driver
from dualdb.errors import OperationalError
from dualdb.settings import Settings
from dualdb.sql.compile import Compiled, compile_query

__all__ = ["ReplicaRouter", "ReplicaState", "ReplicaStats"]

logger = logging.getLogger("dualdb.replica")

#: How often a replica's lag is read again (seconds).
_CHECK_INTERVAL = 1.0
#: How long a replica that could not be reached is skipped before it is tried again.
_RECHECK = 2.0
#: The context wrote, and its write position is not read yet.
_PENDING = -1


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """One replica, as :meth:`ReplicaStats` sees it."""

    #: The replica's URL, password masked.
    url: str
    #: Taking reads now (neither unreachable nor lagging beyond ``replica_max_lag``).
    available: bool
    #: Seconds behind the primary when last asked (None: not asked yet, or unreachable).
    lag: float | None
    #: Reads it served.
    reads: int
    pool: PoolStats


@dataclass(frozen=True, slots=True)
class ReplicaStats:
    """What ``db.replica`` did: for metrics (``db.replica.stats()``)."""

    #: Reads a replica served.
    replica_reads: int
    #: Reads that went to the primary instead, by reason: ``"down"`` (no replica could
    #: be reached), ``"lagging"`` (every reachable one was beyond ``replica_max_lag``),
    #: ``"behind"`` (read-your-writes: the replica had not replayed this context's
    #: write within ``replica_wait_timeout``), ``"failed"`` (the replica's connection
    #: failed during the read), ``"none"`` (no replica configured, e.g. on SQLite).
    primary_reads: Mapping[str, int]
    replicas: tuple[ReplicaState, ...]


class _Member:
    __slots__ = ("checked", "driver", "lag", "lagging", "reads", "replayed", "skip_until", "url")

    def __init__(self, url: str, driver: Driver) -> None:
        self.url = url
        self.driver = driver
        self.checked = -float("inf")
        self.skip_until = -float("inf")
        self.lag: float | None = None
        self.lagging = False
        self.replayed = -1
        self.reads = 0


class ReplicaRouter:
    """The replicas of one Database, and the choice among them (see the module)."""

    def __init__(
        self,
        settings: Settings,
        dialect: Dialect,
        primary: Driver,
        replicas: Sequence[tuple[Settings, Driver]],
    ) -> None:
        self.primary = primary
        self._members = [_Member(s.display_url(), d) for s, d in replicas]
        self._turn = 0
        self._max_lag = settings.replica_max_lag
        self._wait = settings.replica_wait_timeout
        self._written: ContextVar[int | None] = ContextVar(
            f"dualdb_replica_written_{id(self):x}", default=None
        )
        assert dialect.write_position_query is not None
        assert dialect.replica_state_query is not None
        self._position: Compiled = compile_query(dialect.write_position_query, dialect)
        self._state: Compiled = compile_query(dialect.replica_state_query, dialect)
        self._primary_reads: Counter[str] = Counter()

    def wrote(self) -> None:
        """The current context committed a write on the primary."""
        self._written.set(_PENDING)

    def fell_back(self, reason: str) -> Driver:
        self._primary_reads[reason] += 1
        return self.primary

    async def choose(self) -> Driver:
        """The driver for the next read of this context."""
        need = self._written.get()
        if need == _PENDING:
            need = int(await self.primary.run("fetch_val", self._position, ()))
            self._written.set(need)
        members = self._members
        count = len(members)
        lagging = False
        for offset in range(count):
            member = members[(self._turn + offset) % count]
            now = monotonic()
            if member.skip_until > now:
                lagging = lagging or member.lagging
                continue
            if now - member.checked >= _CHECK_INTERVAL:
                member.checked = now  # (concurrent reads meanwhile: one check is enough)
                if not await self._check(member):
                    lagging = lagging or member.lagging
                    continue
            if (
                need is not None
                and member.replayed < need
                and not await self._catch_up(member, need)
            ):
                # Another replica is no likelier to have replayed it: waiting for each in
                # turn would multiply the wait.
                return self.fell_back("behind")
            self._turn = (self._turn + offset + 1) % count
            member.reads += 1
            return member.driver
        return self.fell_back("lagging" if lagging else "down")

    async def _check(self, member: _Member) -> bool:
        """Read the replica's state; False (and skipped for a while) if it is unfit."""
        try:
            row = await member.driver.run("fetch_one", self._state, ())
        except OperationalError as exc:
            self.failed(member.driver, exc)
            return False
        now = monotonic()
        replayed, lag, replaying = row[0], float(row[1]), bool(row[2])
        # Promoted (a failover): it is a primary now, as current as any server.
        member.replayed = int(replayed) if replaying else sys.maxsize
        member.lag = lag
        member.checked = now
        member.lagging = self._max_lag is not None and lag > self._max_lag
        if member.lagging:
            member.skip_until = now + _CHECK_INTERVAL
            logger.warning(
                "replica %s is %.1f s behind (DB_REPLICA_MAX_LAG %.1f s): reads go elsewhere",
                member.url,
                lag,
                self._max_lag,
            )
            return False
        return True

    async def _catch_up(self, member: _Member, need: int) -> bool:
        """Wait (polling, at most ``replica_wait_timeout``) until ``member`` has replayed
        position ``need``."""
        deadline = monotonic() + self._wait
        pause = 0.001
        while True:
            if not await self._check(member):
                return False
            if member.replayed >= need:
                return True
            if monotonic() + pause > deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)

    def failed(self, driver: Driver, exc: BaseException, *, routed: bool = False) -> None:
        """``driver``'s replica could not be reached: skip it for a while. ``routed``: a
        read chosen for it, which the primary serves instead (and counts)."""
        for member in self._members:
            if member.driver is driver:
                member.reads -= routed
                member.skip_until = monotonic() + _RECHECK
                member.checked = -float("inf")
                member.lag = None
                member.lagging = False
                logger.warning(
                    "replica %s unreachable (%s): its reads go elsewhere for %.0f s",
                    member.url,
                    type(exc).__name__,
                    _RECHECK,
                )

    def stats(self) -> ReplicaStats:
        now = monotonic()
        return ReplicaStats(
            replica_reads=sum(m.reads for m in self._members),
            primary_reads=dict(self._primary_reads),
            replicas=tuple(
                ReplicaState(m.url, m.skip_until <= now, m.lag, m.reads, m.driver.stats())
                for m in self._members
            ),
        )

    async def close(self) -> None:
        for member in self._members:
            await member.driver.close()
