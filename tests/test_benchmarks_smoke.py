"""The benchmark's quick mode runs on each backend and writes its JSON (figures not judged).

It runs as a subprocess, exactly as documented (``python -m benchmarks --quick``), with
warnings as errors. On PostgreSQL it gets this test's fresh database as ``DATABASE_URL``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What every backend must measure, whichever optional libraries are installed.
REQUIRED = {"pk_select", "insert_one", "transaction", "keyset_page", "typed_rows", "bulk_1k"}
#: On the mixed table, dualdb is also measured against the raw driver plus hand decoding.
DECODED = {"mixed_pk", "mixed_page", "mixed_stream"}
CONCURRENT = {f"concurrent_pk_{n}" for n in (1, 4, 16, 64)}


def test_quick_benchmark_writes_figures_for_raw_driver_and_dualdb(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if backend == "postgresql":
        env["DATABASE_URL"] = database_url
    command = [sys.executable, "-W", "error", "-m", "benchmarks", "--backend", backend]
    command += ["--quick", "--json", str(out), "--sqlite-file", str(tmp_path / "bench.db")]

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())["backends"][backend]
    measured = {
        (r["workload"], r["contender"]) for r in figures["results"] if r["summary"] is not None
    }
    for workload in REQUIRED | DECODED | CONCURRENT | {"mixed_bulk"}:
        assert {(workload, "raw"), (workload, "dualdb")} <= measured, workload
    for workload in DECODED | CONCURRENT:
        assert (workload, "raw_decoded") in measured, workload
    stream = next(
        r["summary"]
        for r in figures["results"]
        if r["workload"] == "mixed_stream" and r["contender"] == "dualdb"
    )
    assert stream["peak_rss_kib"] is not None
    # Targets are reported, met or missed; a missed one does not fail the run.
    checked = {(t["target"], t["workload"]) for t in figures["targets"]}
    assert ("dualdb time / raw + hand decoding", "mixed_stream") in checked
    auth = figures["auth"]
    if auth["ran"]:
        assert ("auth_validate", "dualdb") in measured
    else:
        assert auth["reason"]  # the report says why it did not run
