"""dualdb.testing's throwaway PostgreSQL cluster, where the suite's harness does not reach."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = """
import sys, time
from dualdb.testing import start_postgres
server = start_postgres()
server.execute("SELECT 1")
print(server.socket_folder, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_cluster_of_a_killed_process_is_stopped_and_removed(backend: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        folder = Path(child.stdout.readline().strip())
        assert (folder / "data" / "postmaster.pid").exists()
    finally:
        child.kill()  # no atexit hook runs: the watchdog must clean up
        child.communicate()
    deadline = time.monotonic() + 60
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not folder.exists()
