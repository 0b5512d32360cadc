"""SQLite's shortcuts for bulk values write exactly what the value-by-value way writes.

``execute_many`` on SQLite encodes whole columns at once (uuid, timestamp, decimal and
integer columns) and writes a plain JSON document in jsonb's order in one pass instead of
dumping, parsing and writing it again. Each shortcut is compared here with the way it
replaces, on generated values: the same text, or the same error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dualdb import Json, errors
from dualdb.dialects._values import dump_json
from dualdb.dialects.sqlite import codec

# Every character, lone surrogates and NUL included.
_texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=6)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.sampled_from((1e16, -0.0, 1e-7, 2.0**60, 1.5e300))
    | _texts
)
_documents = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_texts, inner, max_size=4)
        | st.dictionaries(st.integers(-3, 3) | st.booleans(), inner, max_size=2)
        | st.tuples(inner)
    ),
    max_leaves=16,
)


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:  # the error is part of what must agree
        return ("raises", type(exc), str(exc))


def _the_long_way(value: Any) -> Any:
    """What ``_bind_json`` did for every document before its shortcut."""
    text = dump_json(value, "sqlite")
    document = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=codec._no)
    return codec._jsonb(document)


@settings(max_examples=200)
@given(
    document=st.dictionaries(_texts, _documents, max_size=5)
    | st.dictionaries(st.text("ab", max_size=3), _documents, max_size=5)
    | st.lists(_documents, max_size=5)
    | _documents.map(Json)
)
@example(document={"b": 1, "aa": 2, "é": 3, "a": {"zz": [True, None], "y": "\x00"}})
@example(document={"é": 1, "f": 2, "\U0001f600": 3})  # by UTF-8 length first
@example(document={"bb": 1, "c": 2, "a": [{"zz": 1, "y": 2}]})  # by length, then bytes
@example(document=[[[[]]]] * 3)
def test_a_json_document_is_written_as_the_long_way_writes_it(document: Any) -> None:
    assert _outcome(lambda: codec._bind_json(document)) == _outcome(lambda: _the_long_way(document))


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [254, 255, 256, 257, 300])
def test_a_document_too_deep_is_refused_as_the_long_way_refuses_it(depth: int) -> None:
    document = {"a": _nested(depth)}
    assert _outcome(lambda: codec._bind_json(document)) == _outcome(lambda: _the_long_way(document))


def _around(bits: int) -> st.SearchStrategy[int]:
    """Integers of this many bits, and either side of their range."""
    high = 2 ** (bits - 1)
    return st.integers(-high, high - 1) | st.sampled_from((-high - 1, -high, high - 1, high))


_KINDS = {
    "uuid": st.uuids(),
    "timestamptz": st.datetimes(timezones=st.timezones() | st.just(UTC))
    | st.sampled_from(
        (
            datetime.min.replace(tzinfo=UTC),
            datetime.max.replace(tzinfo=UTC),
            datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
            datetime(2026, 1, 1),  # naive
        )
    ),
    "decimal": st.decimals()
    | st.sampled_from(
        tuple(map(Decimal, ("-0", "-0.00", "1E+2", "1E-16383", "1E-16384", "1E+131072", "sNaN")))
    ),
    "integer": _around(32),
    "smallint": _around(16),
    "bigint": _around(64),
}


@settings(max_examples=150)
@given(data=st.data(), kind=st.sampled_from(sorted(_KINDS)))
def test_a_column_encoded_at_once_is_what_value_by_value_gives(
    data: st.DataObject, kind: str
) -> None:
    encoder = codec._ENCODERS_BY_KIND[kind]
    column = data.draw(st.lists(st.none() | _KINDS[kind], min_size=1, max_size=8))

    def by_value() -> list[Any]:
        out = []
        for value in column:
            try:
                out.append(codec.bind(encoder, value))
            except (codec.Refused, errors.DataError) as exc:
                raise ValueError(type(exc).__name__, str(exc)) from None
        return out

    def at_once() -> list[Any]:
        def refused(index: int, exc: Exception, value: Any) -> Exception:
            return ValueError(type(exc).__name__, str(exc))

        return codec.bind_rows([encoder], [(v,) for v in column], refused)

    assert _outcome(at_once) == _outcome(by_value)


def test_a_uuid_column_is_written_in_the_canonical_form() -> None:
    value = UUID(int=2**100 + 5)
    assert codec.bind_rows([codec._bind_uuid], [(value,), (None,)], _never) == [str(value), None]


def _never(index: int, exc: Exception, value: Any) -> Exception:
    raise AssertionError("refused")
