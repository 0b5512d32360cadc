"""SQLite's row converters write the common decoders out inline (``codec.inline_decoder``);
whatever a column holds, the written-out form answers exactly as the decoder itself.

The reference is ``Plan._failed``, which calls each decoder on each value in turn."""

from __future__ import annotations

import json
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualdb import errors
from dualdb.dialects.sqlite.codec import decoder_for, inline_decoder
from dualdb.dialects.sqlite.plans import Plan
from dualdb.records import record_class

_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
_TIMESTAMPS = st.datetimes(timezones=st.none() | _ZONES).map(lambda d: d.isoformat())
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
).map(json.dumps)
#: What a column of any declared type may hold: SQLite keeps what it is given.
_STORED = (
    st.none()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=8)
    | st.uuids().map(str)
    | _TIMESTAMPS
    | st.decimals(allow_nan=False, places=3).map(str)
    | _JSON
    | _JSON.map(lambda text: f" {text}")
    | st.sampled_from(["", "[", "1e999", "NaN", "2026-13-01", "0", "1"])
)
_INLINED = ["UUID", "BOOLEAN", "DECIMAL", "TIMESTAMPTZ", "JSON"]


def _outcome(convert: Any, raw: list[tuple[Any, ...]]) -> tuple[str, Any]:
    try:
        rows = convert(raw)
    except errors.DataError as exc:
        return ("refused", exc.message)
    return ("read", repr([tuple(row) for row in rows]))  # repr: NaN is not equal to itself


@pytest.mark.parametrize("declared", _INLINED)
def test_each_common_decoder_is_written_out_inline(declared: str) -> None:
    decode = decoder_for(declared)
    assert decode is not None and inline_decoder(decode) is not None


@pytest.mark.parametrize("declared", _INLINED)
@given(values=st.lists(st.tuples(_STORED, _STORED), min_size=1, max_size=3))
def test_a_written_out_decoder_answers_as_the_decoder(
    declared: str, values: list[tuple[Any, Any]]
) -> None:
    decode = decoder_for(declared)
    assert decode is not None
    # The decoded column between two that are not, and a second one of the same type.
    plan = Plan(record_class(("a", "b", "c", "d")), ((1, decode), (3, decode)))
    raw = [("left", value, None, other) for value, other in values]
    assert _outcome(plan.rows, raw) == _outcome(plan._failed, raw)
    assert _outcome(lambda rows: [plan.row(rows[0])], raw[:1]) == _outcome(plan._failed, raw[:1])
