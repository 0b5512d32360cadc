"""The injectable clock every time-dependent auth call takes.

Expiry is decided by comparing stored instants with "now". Taking "now" from a callable
(default: the real UTC time) lets tests and callers move time without sleeping, and keeps
the comparison in one place: the database never calls its own ``now()``, whose value and
precision differ between SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "now_from", "utc_now"]

#: A callable returning the current instant as an aware datetime.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real current time, in UTC (the default clock)."""
    return datetime.now(UTC)


def now_from(clock: Clock) -> datetime:
    """Read ``clock``, refusing a naive datetime (an instant needs a time zone)."""
    now = clock()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the clock returned a naive datetime; it must return an aware one")
    return now
