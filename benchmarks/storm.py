"""Cancellation storm: ``python -m benchmarks.storm [--backend sqlite|postgresql|both]``.

100 tasks run short transfer transactions for a few seconds, once with no deadline and
once each under ``asyncio.wait_for`` with a random 0-60 ms deadline, and the share of
transactions that commit is printed per backend. A cancelled statement should cost a
cancel request, not a new connection: PostgreSQL should keep at least the share SQLite
keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import dualdb
from benchmarks.run import _postgres_target
from dualdb import Param, Query, Table, raw

__all__ = ["main"]

TASKS = 100
ACCOUNTS = 100
MAX_DEADLINE = 0.060
A = Table("storm_accounts")
MOVE = Query.update(A).set(A.balance, A.balance + Param("by")).where(A.id == Param("id"))
READ = Query.from_(A).select(A.balance).where(A.id == Param("id"))


async def _transfer(db: dualdb.Database, rng: random.Random) -> None:
    source, target = rng.sample(range(ACCOUNTS), 2)
    async with db.transaction() as tx:
        await tx.execute(MOVE, id=source, by=-1)
        await tx.fetch_val(READ, id=target)
        await tx.execute(MOVE, id=target, by=1)


async def _share(url: str, seconds: float, deadlines: bool, seed: int) -> tuple[int, int]:
    """(committed, attempted) over ``seconds`` of ``TASKS`` concurrent workers."""
    committed = attempted = 0
    async with dualdb.connect(url, pool_timeout=30) as db:
        await db.execute(raw("DROP TABLE IF EXISTS storm_accounts"))
        await db.execute(
            raw("CREATE TABLE storm_accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
        )
        await db.execute_many(
            Query.into(A).columns(A.id, A.balance).insert(Param("id"), 0),
            [{"id": i} for i in range(ACCOUNTS)],
        )
        stop = time.monotonic() + seconds

        async def worker(n: int) -> None:
            nonlocal committed, attempted
            rng = random.Random(seed * 1000 + n)
            while time.monotonic() < stop:
                attempted += 1
                try:
                    if deadlines:
                        await asyncio.wait_for(_transfer(db, rng), rng.uniform(0, MAX_DEADLINE))
                    else:
                        await _transfer(db, rng)
                except (TimeoutError, dualdb.DatabaseError):
                    continue
                committed += 1

        await asyncio.gather(*(worker(n) for n in range(TASKS)))
        assert await db.fetch_val(raw("SELECT sum(balance) FROM storm_accounts")) == 0
    return committed, attempted


def _report(backend: str, url: str, seconds: float, seed: int) -> None:
    for deadlines in (False, True):
        committed, attempted = asyncio.run(_share(url, seconds, deadlines, seed))
        label = "0-60 ms deadlines" if deadlines else "no deadline     "
        share = committed / attempted if attempted else 0.0
        print(
            f"{backend:<10} {label}  committed {committed:>6} of {attempted:>6}  ({share:.1%})",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storm", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=5.0, help="per run (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="dualdb-storm-") as folder:
                _report(backend, f"sqlite:///{Path(folder) / 'storm.db'}", args.seconds, args.seed)
        else:
            with _postgres_target() as target:
                _report(backend, target.location, args.seconds, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
