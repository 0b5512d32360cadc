"""Helpers shared by the auth tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

START = datetime(2031, 5, 17, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def key_entry(key_id: str, fill: int) -> str:
    """A ``DUALDB_TOKEN_KEYS`` entry with a recognisable 32-byte key."""
    return f"{key_id}:{base64.b64encode(bytes([fill]) * 32).decode()}"
