"""The readers every decoded row goes through take shortcuts past ``UUID()`` and
``json.loads``; whatever text they meet, they answer exactly as those would."""

from __future__ import annotations

import json
import string
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from dualdb.dialects._values import load_json, uuid_from_text

_HEXISH = st.text(alphabet=string.hexdigits + "-_+ {}:urnid", min_size=30, max_size=40)
_UUID_TEXT = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u), str(u).upper(), u.hex, f"{{{u}}}", u.urn])
)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        value = read(text)
    except ValueError as exc:
        return ("refused", type(exc))
    if isinstance(value, UUID):
        return ("read", (value, value.int, value.is_safe, hash(value)))
    return ("read", repr(value))  # repr: NaN is not equal to itself


@given(_UUID_TEXT | _HEXISH | st.text(max_size=40))
def test_uuid_text_reads_as_uuid_reads_it(text: str) -> None:
    assert _outcome(uuid_from_text, text) == _outcome(UUID, text)


@given(_JSON_VALUES, st.sampled_from(["", " ", "\n", "x", ",1", "}"]), st.booleans())
def test_json_text_reads_as_json_loads_reads_it(value: Any, tail: str, spaced: bool) -> None:
    text = json.dumps(value, separators=(", ", ": ") if spaced else (",", ":")) + tail
    assert _outcome(load_json, text) == _outcome(json.loads, text)


@given(st.text(max_size=30))
def test_any_text_as_json_reads_as_json_loads_reads_it(text: str) -> None:
    assert _outcome(load_json, text) == _outcome(json.loads, text)
