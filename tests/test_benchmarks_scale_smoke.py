"""The scale benchmark's quick mode starts its servers, runs every configuration and prints
its table (figures not judged).

It runs as documented (``python -m benchmarks.scale --quick``), as a subprocess with
warnings as errors; it starts a primary, a replica and two PgBouncers of its own, so it
is PostgreSQL-only, and a server that cannot start fails it (the run exits non-zero).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("backend", ["postgresql"])
def test_quick_scale_benchmark_prints_every_configuration(backend: str, tmp_path: Path) -> None:
    table = tmp_path / "scale.md"
    command = [sys.executable, "-W", "error", "-m", "benchmarks.scale", "--quick"]
    command += ["--seconds", "0.3", "--users", "20", "--markdown", str(table)]

    done = subprocess.run(
        command, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=180
    )

    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| workload | config | P | ops/s |")
    measured = {tuple(cell.strip() for cell in row.split("|")[1:4]) for row in rows[1:]}
    for workload, config, processes in [
        *((w, c, "1") for w in ("validate", "writes") for c in ("direct", "nocache")),
        *((w, c, p) for p in ("1", "2") for w, c in [("validate", "bouncer"),
                                                     ("validate", "replica"),
                                                     ("writes", "bouncer")]),
    ]:  # fmt: skip
        assert (workload, config, processes) in measured
    assert "| validate | replica |" in done.stdout
    replica_runs = [line for line in done.stdout.splitlines() if line.startswith("  replica")]
    assert replica_runs
    assert all("(0 replica reads)" not in line for line in replica_runs)  # db.replica was used
    assert "dualdb-test-pw" not in done.stdout + done.stderr  # the harness's password
