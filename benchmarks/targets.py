"""The targets of issue 6 §4 and issue 16, checked against one backend's figures.

A missed target is reported (``MISSED``), never an error: the benchmark's exit status and
its smoke test do not depend on the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.workloads import BULK, CONCURRENT, MIXED_BULK, MIXED_READS, STATEMENTS, TYPED

__all__ = ["Check", "evaluate"]

MAX_VS_RAW = 1.10
# Against SQLAlchemy Core at its best, dualdb adds at most half the time SQLAlchemy adds
# to the raw driver's: its time is at most halfway between the driver's and SQLAlchemy's.
# Measured as the total time ("2x faster") this cannot hold where both libraries hand a
# whole batch to the driver and the driver's own time is most of it (a bulk insert, a page
# of rows, a transaction on PostgreSQL): no library is faster than its driver.
SQLALCHEMY_OVERHEAD_SHARE = 0.5
MAX_ADHOC_VS_SQLALCHEMY = 1.0
MIN_BULK_ROWS_PER_SECOND = {"postgresql": 100_000, "sqlite": 150_000}
MAX_PK_P95_US = 1_000.0
# Issue 16, on the mixed table: many tasks over dualdb's pool at least as fast as all of
# them sharing one aiosqlite connection that returns the same values (raw + hand decoding:
# the bare driver returns stored text, which no number of tasks makes up for with one
# task); a bulk insert at least 0.8x the rows/s of the fastest correct raw path; pages,
# pk selects and streams within 10% of the raw driver plus hand-written decoding.
MAX_CONCURRENT_VS_ONE_CONNECTION = {"sqlite": 1.0}
MAX_BULK_VS_FASTEST_RAW = 1.25
MAX_VS_RAW_DECODED = 1.10
DECODED_READS = MIXED_READS | {"mixed_stream"}


@dataclass(frozen=True, slots=True)
class Check:
    """One target on one workload: the measured value, the limit, and whether it is met."""

    target: str
    workload: str
    value: float
    limit: float
    met: bool
    #: The value must stay at or below the limit (a time ratio), else at or above it.
    upper: bool = True

    def line(self) -> str:
        mark = "met   " if self.met else "MISSED"
        value = f"{self.value:,.2f} (limit {self.limit:,.2f})"
        return f"{mark} {self.target:<44} {self.workload:<16} {value}"


def evaluate(backend: str, figures: dict[str, Any]) -> list[Check]:
    """Every target that this backend's figures allow to check."""
    checks: list[Check] = []

    def add(target: str, workload: str, value: float | None, limit: float, upper: bool) -> None:
        if value is not None:
            met = value <= limit if upper else value >= limit
            checks.append(Check(target, workload, value, limit, met, upper))

    summaries = {(r["workload"], r["contender"]): r["summary"] for r in figures["results"]}
    for result in figures["results"]:
        workload, contender, s = result["workload"], result["contender"], result["summary"]
        if s is None:
            continue
        if contender == "dualdb" and workload in STATEMENTS:
            add("dualdb time / raw driver time", workload, s["vs_raw"], MAX_VS_RAW, True)
        if contender == "dualdb" and workload in TYPED:
            add("dualdb as_= / raw driver + hand mapping", workload, s["vs_raw"], MAX_VS_RAW, True)
        if contender == "dualdb":
            peer = summaries.get((workload, "sqlalchemy"))
            mine, theirs = _over_floor(s), None if peer is None else _over_floor(peer)
            if mine is not None and theirs is not None:
                limit = 1.0 + SQLALCHEMY_OVERHEAD_SHARE * (theirs - 1.0)
                add("dualdb / raw, half of SQLAlchemy's overhead", workload, mine, limit, True)
        if contender == "dualdb_adhoc":
            add(
                "dualdb ad-hoc time / SQLAlchemy ad-hoc time",
                workload,
                s["vs_sqlalchemy"],
                MAX_ADHOC_VS_SQLALCHEMY,
                True,
            )
        if contender == "dualdb" and workload in BULK:
            limit = MIN_BULK_ROWS_PER_SECOND[backend]
            add("dualdb bulk insert rows/s", workload, s["throughput"], limit, False)
        if contender == "dualdb" and workload == "pk_select":
            add("dualdb primary-key select p95 (µs)", workload, s["p95_us"], MAX_PK_P95_US, True)
        if contender == "dualdb" and workload in DECODED_READS:
            add(
                "dualdb time / raw + hand decoding",
                workload,
                s["vs_decoded"],
                MAX_VS_RAW_DECODED,
                True,
            )
        if (
            contender == "dualdb"
            and workload in CONCURRENT
            and backend in (MAX_CONCURRENT_VS_ONE_CONNECTION)
        ):
            add(
                "dualdb time / one shared connection + decoding",
                workload,
                s["vs_decoded"],
                MAX_CONCURRENT_VS_ONE_CONNECTION[backend],
                True,
            )
        if contender == "dualdb" and workload in MIXED_BULK and s["vs_floors"]:
            add(
                "dualdb time / fastest raw bulk path",
                workload,
                max(s["vs_floors"].values()),
                MAX_BULK_VS_FASTEST_RAW,
                True,
            )
    return checks


def _over_floor(summary: dict[str, Any]) -> float | None:
    """Time over the raw driver doing the same work: with hand decoding where the workload
    has that contender (the values dualdb and SQLAlchemy return), else the raw driver."""
    ratio: float | None = summary["vs_decoded"]
    if ratio is None:
        ratio = summary["vs_raw"]
    return ratio
