"""Scale: ``python -m benchmarks.scale [--quick] [--seconds S] [--processes 1,2,4]``.

How far dualdb's auth workload goes with more application processes, PgBouncer and a
read replica, and where the primary's CPU runs out. Everything runs on this machine: a
PostgreSQL primary and a streaming replica (``tests/_pgreplica.py``, from the system's
PostgreSQL binaries), a PgBouncer in transaction mode in front of each
(``tests/_pgbouncer.py``), the shipped schema migrated with dualdb's runner, and N users
with a session each. Then, for a fixed time each, with P worker processes (spawned) that
each run C concurrent tasks over a dualdb pool of C connections:

* ``validate``: ``auth.validate_session`` of a random seeded token (``refresh_interval=None``:
  the read only; the write-back it makes once per five minutes per session is left to the
  write mix);
* ``writes``: three logins (``create_session`` then a ``validate_session`` that writes
  ``last_seen_at`` back) to one sign-up (``create_user`` + ``create_session`` in one
  transaction),

in four configurations: ``direct`` (one process straight to the primary: the baseline),
``nocache`` (the same with ``?pgbouncer=true`` but no PgBouncer: asyncpg's statement cache
off, so each statement is prepared afresh; this separates that cost from PgBouncer's hop),
``bouncer`` (P processes through PgBouncer to the primary) and ``replica`` (as ``bouncer``,
with the validations on ``db.replica``, through the replica's PgBouncer). Writes are not
run on ``replica``: they go to the primary exactly as in ``bouncer``.

Printed per run: operations per second, p50/p95 latency, the ratio to the baseline, and
the CPU each party used in the run (in cores: CPU seconds per wall second; the machine's
total is ``os.cpu_count()``): the primary's server processes, the replica's, both
PgBouncers, and the application processes. Every server is stopped on exit, Ctrl-C
included (and by the harness's watchdogs if this process is killed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import sys
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import dualdb
from dualdb import auth

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
TTL = timedelta(days=1)
#: Server connections each PgBouncer keeps per database: more than the cores it serves
#: only adds switching.
BOUNCER_POOL = 8
WORKLOADS = ("validate", "writes")
CONFIGS = ("direct", "nocache", "bouncer", "replica")


@dataclass(frozen=True)
class Plan:
    """What one invocation runs."""

    seconds: float
    processes: tuple[int, ...]
    concurrency: int
    users: int

    @classmethod
    def quick(cls) -> Plan:
        return cls(seconds=0.5, processes=(1, 2), concurrency=4, users=60)

    @classmethod
    def full(cls) -> Plan:
        return cls(seconds=8.0, processes=(1, 2, 4), concurrency=8, users=2000)


@dataclass(frozen=True)
class Job:
    """One worker's part of a run (sent to the worker process)."""

    url: str
    replica_url: str | None
    workload: str
    seconds: float
    concurrency: int
    seed: int
    tokens: tuple[str, ...]
    user_ids: tuple[str, ...]


@dataclass
class Result:
    config: str
    processes: int
    workload: str
    ops: int
    wall: float
    latencies: list[float]
    cpu: dict[str, float]
    replica_reads: int = 0

    @property
    def rate(self) -> float:
        return self.ops / self.wall if self.wall else 0.0

    @property
    def server_cost(self) -> float:
        """PostgreSQL CPU seconds per operation (primary and replica): what bounds the
        rate once the servers have the machine to themselves."""
        return (self.cpu["primary"] + self.cpu["replica"]) / self.rate if self.rate else 0.0

    def percentile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100)[int(q) - 1]


# -- the worker processes ------------------------------------------------------------------


def _worker(conn: Connection) -> None:
    """A worker process: runs jobs until told to stop. Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(asyncio.run(_run_job(job, conn)))


async def _validate(
    db: dualdb.Database, reader: dualdb.Queryable, job: Job, rng: random.Random
) -> None:
    token = rng.choice(job.tokens)
    found = await auth.validate_session(reader, token, refresh_interval=None)
    assert found is not None


async def _write(
    db: dualdb.Database, reader: dualdb.Queryable, job: Job, rng: random.Random
) -> None:
    if rng.random() < 0.25:
        async with db.transaction() as tx:
            user = await auth.create_user(tx, f"u{rng.getrandbits(64):x}@scale.example")
            await auth.create_session(tx, user.id, TTL)
        return
    from uuid import UUID

    issued = await auth.create_session(db, UUID(rng.choice(job.user_ids)), TTL)
    found = await auth.validate_session(db, issued.token, refresh_interval=timedelta(0))
    assert found is not None


async def _run_job(job: Job, conn: Connection) -> tuple[int, bytes, float, int]:
    """(operations, latencies as array('d') bytes, CPU seconds, replica reads)."""
    options: dict[str, Any] = {"pool_min_size": job.concurrency, "pool_max_size": job.concurrency}
    if job.replica_url is not None:
        options["replica_urls"] = [job.replica_url]
    operation = _validate if job.workload == "validate" else _write
    async with dualdb.connect(job.url, **options) as db:
        reader: dualdb.Queryable = db.replica if job.replica_url is not None else db
        warm = random.Random(job.seed ^ 0x5EED)
        # Every pooled connection (and the replica's pool) opened and its statements seen.
        await asyncio.gather(
            *(_validate(db, reader, job, warm) for _ in range(job.concurrency * 4))
        )
        conn.send("ready")
        conn.recv()  # "go"
        latencies = array("d")
        ops = 0
        cpu = time.process_time()
        stop = time.perf_counter() + job.seconds

        async def task(n: int) -> None:
            nonlocal ops
            rng = random.Random(job.seed * 1000 + n)
            while (start := time.perf_counter()) < stop:
                await operation(db, reader, job, rng)
                latencies.append(time.perf_counter() - start)
                ops += 1

        await asyncio.gather(*(task(n) for n in range(job.concurrency)))
        cpu = time.process_time() - cpu
        replica_reads = db.replica.stats().replica_reads
    return ops, latencies.tobytes(), cpu, replica_reads


# -- server CPU -----------------------------------------------------------------------------


def _ticks(pid: int, *, children: bool) -> int:
    """utime + stime of ``pid`` (and, with ``children``, of its children it waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    # After the ")": state is field 3, so utime (14) is index 11; cutime/cstime 13, 14.
    used = int(fields[11]) + int(fields[12])
    return used + (int(fields[13]) + int(fields[14]) if children else 0)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _server_ticks(postmaster: int) -> int:
    """CPU ticks of a PostgreSQL server: the postmaster, the backends that exited (it
    waited for them: its cutime) and the live ones."""
    return _ticks(postmaster, children=True) + sum(
        _ticks(child, children=False) for child in _children(postmaster)
    )


def _postmaster_pid(datadir: Path) -> int:
    return int((datadir / "postmaster.pid").read_text().split()[0])


# -- the run --------------------------------------------------------------------------------


@dataclass
class Servers:
    pair: Any
    primary_bouncer: Any
    replica_bouncer: Any

    def urls(self) -> dict[str, tuple[str, str | None]]:
        """(URL, replica URL) per configuration."""
        through = "?pgbouncer=true"
        primary = self.primary_bouncer.url("app") + through
        return {
            "direct": (self.pair.primary_url, None),
            "nocache": (self.pair.primary_url + through, None),
            "bouncer": (primary, None),
            "replica": (primary, self.replica_bouncer.url("app") + through),
        }

    def cpu_sources(self) -> dict[str, list[int]]:
        return {
            "primary": [_postmaster_pid(self.pair.primary._cluster.datadir)],
            "replica": [_postmaster_pid(self.pair._replica_cluster.datadir)],
        }

    def bouncer_pids(self) -> list[int]:
        return [b._proc.pid for b in (self.primary_bouncer, self.replica_bouncer)]


@contextlib.contextmanager
def _servers() -> Iterator[Servers]:
    sys.path.insert(0, str(ROOT / "tests"))
    from _pgbouncer import start_pgbouncer
    from _pgreplica import start_pair

    print("starting a primary, a streaming replica and two PgBouncers ...", flush=True)
    pair = start_pair()
    bouncers: list[Any] = []
    try:
        servers: tuple[Any, ...] = (pair.primary, pair.replica)  # (PgBouncer reads .url only)
        for server in servers:
            bouncers.append(start_pgbouncer(server, pool_size=BOUNCER_POOL))
        yield Servers(pair, *bouncers)
    finally:
        for bouncer in bouncers:
            with contextlib.suppress(Exception):
                bouncer.stop()
        pair.stop()


def _migrate(url: str) -> None:
    from dualdb.migrate import Runner
    from dualdb.settings import load_settings

    settings = load_settings({}, env_file=None, url=url)
    Runner(settings, ROOT / "migrations", echo=lambda _: None, warn=lambda _: None).migrate()


async def _seed(url: str, users: int) -> tuple[list[str], list[str]]:
    """``users`` users with one session each: (tokens, user ids)."""
    tokens: list[str] = []
    ids: list[str] = []
    async with dualdb.connect(url, pool_max_size=8) as db:

        async def one(n: int) -> None:
            user = await auth.create_user(db, f"seed{n}@scale.example")
            issued = await auth.create_session(db, user.id, TTL)
            tokens.append(issued.token)
            ids.append(str(user.id))

        for start in range(0, users, 200):
            await asyncio.gather(*(one(n) for n in range(start, min(users, start + 200))))
    return tokens, ids


def _wait_replayed(pair: Any, timeout: float = 30.0) -> None:
    target = pair.primary_lsn()
    deadline = time.monotonic() + timeout
    while pair.replay_lsn() < target:
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not replay the seed data in time")
        time.sleep(0.05)


class WorkerDied(Exception):
    """A worker process ended mid-run (its traceback is above: a server that stopped, or
    Ctrl-C, which also reaches the PgBouncers started from this terminal)."""


def _receive(pipe: Connection) -> Any:
    try:
        return pipe.recv()
    except EOFError:
        raise WorkerDied("a worker process ended mid-run (see its traceback above)") from None


class Workers:
    """Spawned worker processes, reused across runs (spawning costs ~1 s per process)."""

    def __init__(self, count: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(count):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker, args=(child,), daemon=True)
            proc.start()
            child.close()
            self._pipes.append(parent)
            self._procs.append(proc)

    def run(self, jobs: list[Job], servers: Servers) -> tuple[list[Any], float, dict[str, float]]:
        pipes = self._pipes[: len(jobs)]
        for pipe, job in zip(pipes, jobs, strict=True):
            pipe.send(job)
        for pipe in pipes:
            if _receive(pipe) != "ready":
                raise WorkerDied("a worker process did not get ready")
        sources = servers.cpu_sources()
        bouncers = servers.bouncer_pids()
        before = {name: sum(map(_server_ticks, pids)) for name, pids in sources.items()}
        before["pgbouncer"] = sum(_ticks(pid, children=False) for pid in bouncers)
        started = time.perf_counter()
        for pipe in pipes:
            pipe.send("go")
        results = [_receive(pipe) for pipe in pipes]
        wall = time.perf_counter() - started
        after = {name: sum(map(_server_ticks, pids)) for name, pids in sources.items()}
        after["pgbouncer"] = sum(_ticks(pid, children=False) for pid in bouncers)
        cpu = {name: (after[name] - before[name]) / CLK_TCK / wall for name in before}
        cpu["clients"] = sum(r[2] for r in results) / wall
        return results, wall, cpu

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()


def _runs(plan: Plan) -> list[tuple[str, int, str]]:
    runs = [(config, 1, workload) for config in ("direct", "nocache") for workload in WORKLOADS]
    for processes in plan.processes:
        runs += [("bouncer", processes, "validate"), ("replica", processes, "validate")]
        runs.append(("bouncer", processes, "writes"))
    return runs


def _measure(plan: Plan) -> list[Result]:
    results: list[Result] = []
    with _servers() as servers:
        _migrate(servers.pair.primary_url)
        print(f"seeding {plan.users} users with a session each ...", flush=True)
        tokens, ids = asyncio.run(_seed(servers.pair.primary_url, plan.users))
        _wait_replayed(servers.pair)
        urls = servers.urls()
        workers = Workers(max(plan.processes))
        try:
            for n, (config, processes, workload) in enumerate(_runs(plan)):
                url, replica_url = urls[config]
                jobs = [
                    Job(url, replica_url, workload, plan.seconds, plan.concurrency,
                        seed=n * 100 + p, tokens=tuple(tokens), user_ids=tuple(ids))
                    for p in range(processes)
                ]  # fmt: skip
                answers, wall, cpu = workers.run(jobs, servers)
                latencies: list[float] = []
                for _, raw, _, _ in answers:
                    latencies.extend(array("d", raw))
                result = Result(
                    config, processes, workload, sum(a[0] for a in answers), wall, latencies,
                    cpu, replica_reads=sum(a[3] for a in answers),
                )  # fmt: skip
                results.append(result)
                print(
                    f"  {config:<8} P={processes} {workload:<9} {result.rate:>8.0f} ops/s"
                    f" ({result.replica_reads} replica reads)",
                    flush=True,
                )
        finally:
            workers.close()
    return results


def format_table(results: Sequence[Result], plan: Plan) -> str:
    """The results as a Markdown table (also readable as plain text)."""
    baseline = {r.workload: r.rate for r in results if r.config == "direct"}
    lines = [
        f"{plan.concurrency} tasks and pool connections per process, {plan.seconds:g} s per "
        f"run, {os.cpu_count()} CPUs; CPU in cores (CPU s per s)",
        "",
        "| workload | config | P | ops/s | vs direct | p50 ms | p95 ms "
        "| primary CPU | replica CPU | PgBouncer CPU | app CPU | server µs/op |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in sorted(results, key=lambda r: (r.workload, CONFIGS.index(r.config), r.processes)):
        ratio = r.rate / baseline[r.workload] if baseline.get(r.workload) else 0.0
        lines.append(
            f"| {r.workload} | {r.config} | {r.processes} | {r.rate:,.0f} | {ratio:.2f} "
            f"| {r.percentile(50) * 1e3:.2f} | {r.percentile(95) * 1e3:.2f} "
            f"| {r.cpu['primary']:.2f} | {r.cpu['replica']:.2f} | {r.cpu['pgbouncer']:.2f} "
            f"| {r.cpu['clients']:.2f} | {r.server_cost * 1e6:.0f} |"
        )
    return "\n".join(lines)


def _processes(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}"
        ) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("process counts must be at least 1")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description="Auth throughput with P processes, PgBouncer and a read replica, "
        "against one process on the primary; servers started from the system's PostgreSQL.",
    )
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    parser.add_argument("--seconds", type=float, help="per run (default 8, quick 0.5)")
    parser.add_argument(
        "--processes", type=_processes, help="process counts (default 1,2,4; quick 1,2)"
    )
    parser.add_argument("--concurrency", type=int, help="tasks per process (default 8)")
    parser.add_argument("--users", type=int, help="users seeded (default 2000)")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the table here")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan.full()
    plan = Plan(
        seconds=args.seconds or plan.seconds,
        processes=args.processes or plan.processes,
        concurrency=args.concurrency or plan.concurrency,
        users=args.users or plan.users,
    )
    try:
        results = _measure(plan)
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        return 130
    except WorkerDied as exc:
        print(f"{exc}: servers stopped", file=sys.stderr)
        return 1
    table = format_table(results, plan)
    print(table)
    if args.markdown is not None:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
