"""uuid7(): RFC 9562 layout, time, and strict monotonicity."""

from __future__ import annotations

import threading
import time
import uuid

from dualdb.auth import uuid7


def test_uuid7_has_version_7_and_rfc_variant() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_embeds_the_current_unix_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after + 5  # slack: a few borrowed milliseconds


def test_uuid7_is_strictly_increasing_within_one_millisecond_and_beyond() -> None:
    values = [uuid7() for _ in range(20_000)]  # many per millisecond: exercises the counter
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_uuid7_text_sorts_like_its_bytes() -> None:
    # SQLite stores and compares the text form; PostgreSQL compares the 16 bytes.
    values = [uuid7() for _ in range(1000)]
    assert sorted(values, key=str) == sorted(values, key=lambda u: u.bytes)


def test_uuid7_is_unique_across_threads() -> None:
    results: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def work(out: list[uuid.UUID]) -> None:
        out.extend(uuid7() for _ in range(5000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for out in results for value in out]
    assert len(set(every)) == len(every)
    assert all(out == sorted(out) for out in results)
