"""The ``pair`` fixture: a fresh SQLite file and a fresh PostgreSQL database, side by side.

Differential tests compare the two backends inside one test, so they do not use the
``backend`` parameter; they use ``pg_server`` directly (and are marked ``postgresql``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _differential import Pair, create_schema

import dualdb
from _pgcluster import PgServer


@pytest.fixture
async def pair(pg_server: PgServer, tmp_path: Path) -> AsyncIterator[Pair]:
    """Both backends, connected, each with the differential schema (tables empty)."""
    name = f"d_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    try:
        async with (
            dualdb.connect(f"sqlite:///{tmp_path}/differential.db") as sqlite,
            dualdb.connect(url) as postgresql,
        ):
            for db in (sqlite, postgresql):
                await create_schema(db)
            yield Pair(sqlite, postgresql)
    finally:
        pg_server.drop_database(name)
