"""Plain-text tables of one backend's figures (the JSON file holds everything)."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.targets import Check
from benchmarks.workloads import WORKLOADS

__all__ = ["format_backend", "format_duration", "format_markdown", "format_spread"]

BACKEND_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def format_duration(microseconds: float) -> str:
    if microseconds < 1_000:
        return f"{microseconds:,.0f} µs"
    if microseconds < 1_000_000:
        return f"{microseconds / 1_000:,.1f} ms"
    return f"{microseconds / 1_000_000:,.2f} s"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def format_markdown(backend: str, figures: dict[str, Any]) -> str:
    """One Markdown table per backend (for docs or a pull request): the raw driver's and dualdb's
    figures, and every contender's time relative to the raw driver."""
    contenders = figures["contenders"]
    keys = ["dualdb", *(k for k in contenders if k not in ("raw", "dualdb"))]
    cells: dict[str, dict[str, Any]] = {}
    for result in figures["results"]:
        if result["summary"] is not None:
            cells.setdefault(result["workload"], {})[result["contender"]] = result["summary"]
    short = [_short(contenders[k]["label"]) for k in keys[1:]]
    header = ["workload", contenders["raw"]["label"], "dualdb", "dualdb / raw", *short]
    header.insert(4, "dualdb / raw + hand decoding")
    lines = [
        f"**{BACKEND_NAMES[backend]}** ({figures['server'].split(' on ')[0]}): throughput and "
        "p50 / p95 latency, then each contender's time per operation relative to the raw "
        "driver's (and dualdb's relative to the raw driver plus hand-written decoding, on the "
        "mixed table).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for workload_key, row in cells.items():
        workload = WORKLOADS[workload_key]
        raw, dualdb = row.get("raw"), row.get("dualdb")
        line = [workload.title]
        for s in (raw, dualdb):
            line.append(
                "—"
                if s is None
                else f"{s['throughput']:,.0f} {workload.unit}/s, "
                f"{format_duration(s['p50_us'])} / {format_duration(s['p95_us'])}"
            )
        line += [_ratio(row[k]["vs_raw"]) if k in row else "" for k in keys]
        line.insert(4, _ratio(dualdb.get("vs_decoded")) if dualdb is not None else "")
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def _short(label: str) -> str:
    """``SQLAlchemy Core (ad-hoc)`` → ``SQLAlchemy ad-hoc``; ``(prebuilt)`` is the default."""
    name = label.replace(" Core", "").replace(" (prebuilt)", "").replace(" (raw)", "")
    return name.replace("(", "").replace(")", "")


def format_backend(backend: str, figures: dict[str, Any], checks: list[Check]) -> str:
    """The table of one backend, then its target checks."""
    contenders = figures["contenders"]
    lines = [
        f"{BACKEND_NAMES[backend]} — {figures['server']}",
        *(f"  {k}: {v}" for k, v in figures.get("settings", {}).items()),
        "",
        f"{'workload / contender':<36}{'throughput':>16}{'p50':>11}{'p95':>11}"
        f"{'x raw':>8}{'x dec':>8}{'x SQLA':>8}",
    ]
    current = None
    for result in figures["results"]:
        workload = WORKLOADS[result["workload"]]
        if workload.key != current:
            current = workload.key
            lines.append(workload.title)
        label = contenders[result["contender"]]["label"]
        s = result["summary"]
        if s is None:
            lines.append(f"  {label:<34}{'not run':>16}")
            continue
        rss = s.get("peak_rss_kib")
        lines.append(
            f"  {label:<34}{s['throughput']:>11,.0f} {workload.unit}/s"
            f"{format_duration(s['p50_us']):>11}{format_duration(s['p95_us']):>11}"
            f"{_ratio(s['vs_raw']):>8}{_ratio(s.get('vs_decoded')):>8}"
            f"{_ratio(s['vs_sqlalchemy']):>8}"
            + ("" if rss is None else f"  peak RSS +{rss / 1024:,.1f} MiB")
        )
    lines += [
        "",
        "x raw / x dec / x SQLA: time per operation relative to the raw driver / to the raw",
        "driver plus hand-written decoding (mixed table) / to SQLAlchemy Core (prebuilt, or",
        "ad-hoc for ad-hoc contenders), median of rounds paired in time. Streams: how far the",
        "process's peak RSS rose while streaming.",
    ]
    for name, reason in figures["unavailable"].items():
        lines.append(f"not run: {name}: {reason}")
    auth = figures.get("auth")
    if auth is not None and not auth["ran"]:
        lines.append(f"auth validate(token) not run: {auth['reason']}")
    if checks:
        lines += ["", "targets:", *(f"  {c.line()}" for c in checks)]
    return "\n".join(lines)


def format_spread(backend: str, runs: list[list[Check]]) -> str:
    """The targets judged on the median of several runs, each with the runs' spread."""
    values: dict[tuple[str, str], list[Check]] = {}
    for checks in runs:
        for check in checks:
            values.setdefault((check.target, check.workload), []).append(check)
    lines = [f"{BACKEND_NAMES[backend]}: targets over {len(runs)} runs (median, min to max)"]
    for (target, workload), checks in values.items():
        measured = sorted(c.value for c in checks)
        middle = statistics.median(measured)
        # A limit measured in the same run (half of SQLAlchemy's overhead) moves with it.
        limit = statistics.median(c.limit for c in checks)
        met = middle <= limit if checks[0].upper else middle >= limit
        mark = "met   " if met else "MISSED"
        lines.append(
            f"  {mark} {target:<44} {workload:<16} {middle:,.2f} "
            f"({measured[0]:,.2f} to {measured[-1]:,.2f}; limit {limit:,.2f})"
        )
    return "\n".join(lines)
