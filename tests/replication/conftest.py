"""The replication tests' servers: a primary and a streaming replica (tests/_pgreplica.py),
started once per session, only when a test here first asks for them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from _pgreplica import ReplicaPair, start_pair

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true")


def _started_pair(*, synchronous: bool = False) -> Iterator[ReplicaPair]:
    try:
        pair = start_pair(synchronous=synchronous)
    except Exception as exc:
        hint = "CI is set: the replication tests are mandatory." if IN_CI else ""
        pytest.fail(
            f"PostgreSQL primary and replica unavailable: {type(exc).__name__}: {exc}\n{hint}",
            pytrace=False,
        )
    try:
        yield pair
    finally:
        pair.stop()


@pytest.fixture(scope="session")
def replica_pair() -> Iterator[ReplicaPair]:
    """A primary with one asynchronous streaming replica, database ``app`` on both."""
    yield from _started_pair()


@pytest.fixture
def sync_pair() -> Iterator[ReplicaPair]:
    """A pair of the test's own (the failover test crashes its primary), replicating
    synchronously: a commit returns once the replica has it."""
    yield from _started_pair(synchronous=True)
