"""Fixtures for the auth tests: a controllable clock, a keyed cipher, a user to work with.

Every behaviour test takes ``migrated_db`` (tests/conftest.py), so it runs on SQLite and
on PostgreSQL against the schema of ``migrations/``.
"""

from __future__ import annotations

import pytest
from auth_helpers import FakeClock, key_entry

import dualdb
from dualdb import auth


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cipher() -> auth.TokenCipher:
    return auth.TokenCipher.parse(key_entry("k1", 1))


@pytest.fixture
async def user(migrated_db: dualdb.Database, clock: FakeClock) -> auth.User:
    return await auth.create_user(migrated_db, "ada@example.com", name="Ada", clock=clock)
