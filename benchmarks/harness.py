"""The shared harness: timing, statistics and a description of the machine.

Every figure is a median over rounds. Within a round the contenders run one after the
other on the same arguments, in an order that rotates from round to round, and each is
compared with the raw driver *of the same round* (paired ratios), so that slow phases of
a shared machine hit all contenders alike and cancel out of the ratios.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import math
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Sample",
    "Series",
    "Summary",
    "machine_info",
    "percentile",
    "rotated",
    "summarize",
    "time_call",
    "time_concurrent",
    "time_ops",
    "time_stream",
]

_clock = time.perf_counter_ns
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed batch: ``units`` operations (or rows) in ``wall_ns``, and per-call latencies."""

    units: int
    wall_ns: int
    latencies_ns: tuple[int, ...]

    @property
    def throughput(self) -> float:
        return self.units / (self.wall_ns / 1e9)

    @property
    def ns_per_unit(self) -> float:
        return self.wall_ns / self.units


@dataclass(slots=True)
class Series:
    """All samples of one contender on one workload; ``samples[i]`` is from round ``i``."""

    workload: str
    contender: str
    samples: list[Sample | None] = field(default_factory=list)
    #: Streams only: how far the process's peak RSS rose above its size before each run.
    peak_rss_kib: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Summary:
    """The reported figures of one series."""

    throughput: float
    p50_us: float
    p95_us: float
    rounds: int
    #: This contender's time per unit divided by the reference's (median of paired rounds).
    vs_raw: float | None
    vs_sqlalchemy: float | None
    #: The same against the raw driver plus hand-written decoding (mixed-table workloads).
    vs_decoded: float | None = None
    #: Against every raw-driver contender of the workload, by key (bulk: the fastest
    #: correct path is the one with the largest ratio).
    vs_floors: dict[str, float] | None = None
    #: Streams: the largest rise of the peak RSS over the runs (KiB).
    peak_rss_kib: int | None = None


async def time_ops(op: Callable[[Any], Awaitable[Any]], arguments: Sequence[Any]) -> Sample:
    """Await ``op(argument)`` for each argument in turn, timing each call and the batch."""
    gc.collect()  # start every batch from the same state; collections during it still count
    latencies: list[int] = []
    record = latencies.append
    started = _clock()
    for argument in arguments:
        before = _clock()
        await op(argument)
        record(_clock() - before)
    return Sample(len(arguments), _clock() - started, tuple(latencies))


async def time_call(op: Callable[[Any], Awaitable[Any]], argument: Any, units: int) -> Sample:
    """Time one call ``op(argument)`` that processes ``units`` rows (a bulk insert)."""
    gc.collect()
    started = _clock()
    await op(argument)
    wall = _clock() - started
    return Sample(units, wall, (wall,))


async def time_concurrent(
    select: Callable[[Any], Awaitable[Any]], batches: Sequence[Sequence[Any]]
) -> Sample:
    """Run one task per batch at once, each awaiting ``select(argument)`` for its arguments
    in turn; time every call and the whole (until the last task ends)."""
    gc.collect()
    latencies: list[int] = []
    record = latencies.append

    async def task(arguments: Sequence[Any]) -> None:
        for argument in arguments:
            before = _clock()
            await select(argument)
            record(_clock() - before)

    started = _clock()
    await asyncio.gather(*(task(batch) for batch in batches))
    return Sample(len(latencies), _clock() - started, tuple(latencies))


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(name: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Make the peak RSS (VmHWM) the current RSS, where Linux allows it (``clear_refs``)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _rss_kib(name: str, precise: bool) -> int:
    """``VmRSS``/``VmHWM`` if the peak could be reset, else the peak so far (``ru_maxrss``)."""
    value = _status_kib(name) if precise else None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if value is None else value


async def time_stream(
    op: Callable[[Any], Awaitable[tuple[int, Any]]],
) -> tuple[Sample, int, tuple[int, Any]]:
    """Time one stream ``op(None)`` returning ``(rows, last row)``; also return how far the
    process's peak RSS rose above its size at the start, in KiB.

    The peak is reset first (``/proc/self/clear_refs``), so what the setup allocated earlier
    does not hide the stream's own growth. Without that (not Linux, or not allowed), the
    rise of ``ru_maxrss`` is reported instead: growth above the process's earlier peak only.
    """
    gc.collect()
    precise = _reset_peak_rss()
    before = _rss_kib("VmRSS", precise)
    started = _clock()
    result = await op(None)
    wall = _clock() - started
    growth = max(0, _rss_kib("VmHWM", precise) - before)
    return Sample(result[0], wall, (wall,)), growth, result


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])


def _paired_ratio(series: Series, reference: Series | None) -> float | None:
    if reference is None or reference is series:
        return None if reference is None else 1.0
    ratios = [
        mine.ns_per_unit / theirs.ns_per_unit
        for mine, theirs in zip(series.samples, reference.samples, strict=False)
        if mine is not None and theirs is not None
    ]
    return statistics.median(ratios) if ratios else None


def summarize(
    series: Series,
    raw: Series | None,
    sqlalchemy: Series | None,
    decoded: Series | None = None,
    floors: Sequence[Series] = (),
) -> Summary | None:
    """Medians over rounds, pooled latency percentiles, and paired ratios (None if no sample)."""
    samples = [s for s in series.samples if s is not None]
    if not samples:
        return None
    latencies = [ns for s in samples for ns in s.latencies_ns]
    vs_floors = {f.contender: _paired_ratio(series, f) for f in floors}
    return Summary(
        throughput=statistics.median(s.throughput for s in samples),
        p50_us=percentile(latencies, 0.50) / 1000,
        p95_us=percentile(latencies, 0.95) / 1000,
        rounds=len(samples),
        vs_raw=_paired_ratio(series, raw),
        vs_sqlalchemy=_paired_ratio(series, sqlalchemy),
        vs_decoded=_paired_ratio(series, decoded),
        vs_floors={k: v for k, v in vs_floors.items() if v is not None} or None,
        peak_rss_kib=max(series.peak_rss_kib) if series.peak_rss_kib else None,
    )


def rotated(items: Sequence[T], round_no: int) -> list[T]:
    """``items`` starting at position ``round_no`` (mod len): each contender takes each slot."""
    if not items:
        return []
    shift = round_no % len(items)
    return [*items[shift:], *items[:shift]]


# ---------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args],  # noqa: S607 - git from PATH is intended
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}{'-dirty' if dirty else ''}"


def machine_info() -> dict[str, Any]:
    """What the figures were measured on (machine, interpreter, libraries, revision)."""
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average": list(os.getloadavg()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "libraries": {
            name: _version(name)
            for name in ("dualdb", "asyncpg", "aiosqlite", "PyPika", "SQLAlchemy", "databases")
        },
        "git": _git_revision(),
    }
