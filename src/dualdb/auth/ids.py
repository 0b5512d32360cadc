"""UUIDv7 ids (RFC 9562), generated in Python.

Python 3.11 has no ``uuid.uuid7``. Ids are made here rather than by the database because
SQLite has no UUID function and PostgreSQL 15 no UUIDv7 one, and because a time-ordered
id doubles as the keyset pagination key: ordering by ``id`` is ordering by creation time,
on the primary key index, on both backends (PostgreSQL compares ``uuid`` bytewise and
SQLite compares the stored lowercase hex text, which sorts the same way).

Layout: 48-bit Unix time in milliseconds, version 7, a 12-bit counter (RFC 9562 §6.2,
method 1) seeded randomly each millisecond, the variant, 62 random bits. Within one
process ids are strictly increasing, even for many ids in one millisecond or when the
system clock steps back: the timestamp never goes below the last one used.
"""

from __future__ import annotations

import secrets
import threading
import time
from uuid import UUID

__all__ = ["uuid7"]

_COUNTER_MAX = 0xFFF
_lock = threading.Lock()
_last_ms = 0
_last_counter = 0


def uuid7() -> UUID:
    """A new UUIDv7, greater than every id this process made before."""
    global _last_ms, _last_counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            # A random start with the top bit clear leaves ≥ 2048 increments in this ms.
            counter = secrets.randbits(11)
        else:
            ms = _last_ms  # same millisecond, or the clock stepped back: keep counting
            counter = _last_counter + 1
            if counter > _COUNTER_MAX:
                ms += 1  # counter exhausted: borrow the next millisecond
                counter = secrets.randbits(11)
        _last_ms, _last_counter = ms, counter
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | counter << 64
        | 0b10 << 62
        | secrets.randbits(62)
    )
    return UUID(int=value)
