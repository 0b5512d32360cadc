"""Command line: ``python -m benchmarks --backend sqlite|postgresql|both [--quick] [--json PATH]``.

Runs the workloads of :mod:`benchmarks.workloads` through every available contender, one
process run per backend, prints a table per backend and writes every figure, with a
description of the machine, to a JSON file.

PostgreSQL: ``DATABASE_URL`` (a ``postgresql://`` URL) if set, else a throwaway server
started with the test-suite's ``tests/_pgcluster.py`` (durability off, loopback TCP).
The ``bench_*`` tables are dropped and recreated in that database.
SQLite: a new file in a temporary directory (or ``--sqlite-file``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.contenders import Target
from benchmarks.harness import machine_info
from benchmarks.report import format_backend, format_markdown, format_spread
from benchmarks.runner import Runner
from benchmarks.targets import evaluate
from benchmarks.workloads import WORKLOADS, Plan

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BENCH_DATABASE = "dualdb_bench"


@contextmanager
def _postgres_target() -> Iterator[Target]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url.startswith(("postgresql://", "postgres://")):
        yield Target("postgresql", url)
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from _pgcluster import start_server  # type: ignore[import-not-found]  # tests/, on sys.path

    print("starting a throwaway PostgreSQL server (set DATABASE_URL to use yours)", flush=True)
    server = start_server()
    try:
        yield Target("postgresql", server.create_database(BENCH_DATABASE))
    finally:
        server.stop()


@contextmanager
def _sqlite_target(path: str | None) -> Iterator[Target]:
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        yield Target("sqlite", str(Path(path).resolve()))
        return
    with tempfile.TemporaryDirectory(prefix="dualdb-bench-") as folder:
        yield Target("sqlite", str(Path(folder) / "bench.db"))


@contextmanager
def _pinned(cpu: int | None) -> Iterator[int | None]:
    """Run the block on one CPU (``None``: unpinned), then restore the previous affinity.

    Each aiosqlite connection hands every statement to its own thread; unpinned, the cost
    of that hand-off depends on where the scheduler placed the thread (19 or 35 µs for
    identical connections in one run), which would swamp the differences measured. The
    threads started inside the block inherit the pin; the PostgreSQL server, started
    before, does not.
    """
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, previous)


def _default_cpu() -> int | None:
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="dualdb vs the raw drivers and SQLAlchemy Core, on SQLite and PostgreSQL.",
    )
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql", "both"), default="both", help="default both"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few hundred operations and a 1k-row bulk insert"
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="where to write the figures (default benchmarks/results/<mode>-<time>.json)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(WORKLOADS),
        metavar="WORKLOAD",
        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="PATH", help="also write the result tables here (Markdown)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        metavar="N",
        help="run everything N times; targets are judged on the median run, with the spread",
    )
    parser.add_argument("--sqlite-file", metavar="PATH", help="SQLite file to (re)create")
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument(
        "--cpu", type=int, default=_default_cpu(), help="CPU to pin the client to (default: last)"
    )
    pin.add_argument("--no-pin", dest="cpu", action="store_const", const=None, help="do not pin")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    plan = Plan.quick() if args.quick else Plan.full()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = datetime.now(UTC)
    output: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "plan": asdict(plan),
        "machine": machine_info(),
        "backends": {},
    }
    firsts: dict[str, dict[str, Any]] = {}
    for backend in backends:
        print(f"== {backend} ({plan.name})", file=sys.stderr, flush=True)
        context = functools.partial(
            (_postgres_target if backend == "postgresql" else _sqlite_target),
            *(() if backend == "postgresql" else (args.sqlite_file,)),
        )
        runs: list[dict[str, Any]] = []
        for run in range(max(1, args.runs)):
            if args.runs > 1:
                print(f"== {backend}: run {run + 1} of {args.runs}", file=sys.stderr, flush=True)
            with context() as target, _pinned(args.cpu) as cpu:
                figures = asyncio.run(Runner(target, plan, args.only or ()).run())
            figures["pinned_cpu"] = cpu
            checks = evaluate(backend, figures)
            figures["targets"] = [asdict(c) for c in checks]
            runs.append(figures)
            print(format_backend(backend, figures, checks), end="\n\n", flush=True)
        output["backends"][backend] = runs[0] if len(runs) == 1 else {"runs": runs}
        firsts[backend] = runs[0]
        if len(runs) > 1:
            print(format_spread(backend, [evaluate(backend, r) for r in runs]), end="\n\n")
    output["machine"]["load_average_after"] = list(os.getloadavg())
    path = args.json or RESULTS / f"{plan.name}-{started:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(output, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {path}")
    if args.markdown is not None:
        tables = [format_markdown(b, firsts[b]) for b in backends]
        args.markdown.write_text("\n\n".join(tables) + "\n")
        print(f"tables written to {args.markdown}")
    return 0
