"""Building dualdb's distributions from the working tree, one build at a time.

``python -m build`` writes into the tree itself (``build/``, ``src/dualdb.egg-info``): two
builds at once (the suite runs in several processes) would tread on each other's files, so
each build holds an exclusive lock on a file of the tree while it runs.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_LOCK = REPO / "build" / ".dualdb-build.lock"


def build(out: Path, *kinds: str) -> subprocess.CompletedProcess[str]:
    """Build ``kinds`` (``--wheel``, ``--sdist``) of the working tree into ``out``, offline:
    no build isolation, so setuptools and wheel come from this environment."""
    _LOCK.parent.mkdir(exist_ok=True)
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", *kinds, "--outdir", str(out), "."],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
