"""A statement's arguments are encoded for SQLite in one call per argument types seen
(``Binds.quickly``); whatever the values, that call gives what ``bind`` gives value by
value, or hands them back to it (None) when ``bind`` refuses one, so that the error
names the value refused."""

from __future__ import annotations

import enum
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dualdb.dialects.sqlite.codec import Binds, bind, bind_like_pattern, binder_for, encode_value

_DECLARED = ["UUID", "TIMESTAMPTZ", "DATE", "BOOLEAN", "JSON", "NUMERIC(12, 2)", "BIGINT"]
_DECLARED += ["INTEGER", "SMALLINT", "DOUBLE PRECISION", "TEXT", "BLOB"]
_ENCODERS: list[Any] = [binder_for(d) for d in _DECLARED] + [bind_like_pattern, encode_value]


def _encoder(declared: str) -> Any:
    if declared == "LIKE pattern":
        return bind_like_pattern
    if declared == "unknown":  # a value meeting no column, or one of a type dualdb lacks
        return encode_value
    return _ENCODERS[_DECLARED.index(declared)]


class Colour(enum.Enum):
    RED = "red"
    ONE = 1


_VALUES = st.one_of(
    st.none(),
    st.uuids(),
    st.uuids().map(str),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=st.sampled_from([UTC, None])),
    st.dates(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.decimals(),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([*Colour, "a\\", "\x00", "1.5", timedelta(1), object()]),
)


_TEXTS = st.text(alphabet=st.sampled_from("ab\\\x00é"), max_size=4)
_LIMITS = [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**31, 2**15, True, 2.0, 2.5]
_FLOATS = [math.nan, math.inf, -math.inf, -0.0, Decimal("NaN"), Decimal("sNaN"), 1e300]
#: Per column type, the values at its edges, and values that fit it.
_FITTING: dict[str, tuple[list[Any], st.SearchStrategy[Any]]] = {
    "UUID": (["", "0" * 32, "{" + "0" * 32 + "}", "\x00"], st.uuids() | st.uuids().map(str)),
    "TIMESTAMPTZ": (
        [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31), date(2026, 1, 1)],
        st.datetimes(timezones=st.sampled_from([UTC, None])) | st.dates(),
    ),
    "DATE": ([date.min, date.max, datetime(2026, 1, 1, tzinfo=UTC)], st.dates()),
    "BOOLEAN": ([0, 1, 2, "t"], st.booleans()),
    "JSON": (
        [math.nan, {"a": math.inf}, "\x00", b"x", {1: 2}],
        st.dictionaries(_TEXTS, st.integers()),
    ),
    "NUMERIC(12, 2)": ([*_FLOATS, *_LIMITS], st.decimals() | st.integers() | st.floats()),
    "BIGINT": (_LIMITS, st.integers() | st.floats()),
    "INTEGER": (_LIMITS, st.integers(-(2**32), 2**32)),
    "SMALLINT": (_LIMITS, st.integers(-(2**16), 2**16)),
    "DOUBLE PRECISION": ([*_FLOATS, *_LIMITS], st.floats() | st.decimals()),
    "TEXT": (["\x00", "a\\", *Colour], _TEXTS),
    "BLOB": ([b"\x00", bytearray(b"x"), memoryview(b"y"), "x"], st.binary(max_size=4)),
    "LIKE pattern": (["a\\", "a\\\\", "\x00", 1], _TEXTS),
    "unknown": ([math.nan, *Colour, object(), 2**64], _VALUES),
}


def _slowly(encoders: list[Any], args: list[Any]) -> tuple[str, Any]:
    try:
        out = [bind(encoder, value) for encoder, value in zip(encoders, args, strict=True)]
    except Exception as exc:
        return ("refused", type(exc))
    return ("encoded", _exactly(out))


def _exactly(values: Any) -> list[Any]:
    """Values compared with their types (1, 1.0 and True are equal) and NaN as itself."""
    return [(type(v), "nan" if isinstance(v, float) and math.isnan(v) else v) for v in values]


@pytest.mark.parametrize("declared", [*_DECLARED, "LIKE pattern", "unknown"])
@settings(max_examples=25)
@given(data=st.data())
def test_arguments_encoded_in_one_call_are_what_bind_gives_each(
    declared: str, data: st.DataObject
) -> None:
    # A UUID meeting a uuid column first: an argument to encode, so that the others go
    # through the function made for the arguments' types, not the as-they-are path.
    # Then one value meeting a column of the type under test, and up to two others.
    others = data.draw(st.lists(st.sampled_from(_DECLARED), max_size=2))
    kinds = [declared, *others]
    encoders = [_encoder("UUID"), *map(_encoder, kinds)]
    binds = Binds(encoders)
    # The same types twice: the second call reuses the function made for them.
    for _ in range(2):
        args = [data.draw(st.uuids())]
        for kind in kinds:
            edges, fits = _FITTING[kind]
            args.append(data.draw(st.sampled_from(edges) | fits | _VALUES))
        expected = _slowly(encoders, args)
        quick = binds.quickly(args)
        if expected[0] == "refused":
            assert quick is None  # so that the value refused is named, value by value
        elif quick is not None:  # (None: value by value, as before; an Enum, an inf)
            assert ("encoded", _exactly(quick)) == expected


def _agrees_with_bind(encoders: list[Any], args: list[Any]) -> None:
    expected = _slowly(encoders, args)
    quick = Binds(encoders).quickly(args)
    if expected[0] == "refused":
        assert quick is None  # so that the value refused is named, value by value
    elif quick is not None:  # (None: value by value, as before; an Enum, an inf)
        assert ("encoded", _exactly(quick)) == expected


@pytest.mark.parametrize(
    ("declared", "edge"),
    [(declared, edge) for declared, (edges, _) in _FITTING.items() for edge in edges],
    ids=[f"{d}-{i}" for d, (edges, _) in _FITTING.items() for i in range(len(edges))],
)
def test_a_value_at_the_edge_of_its_column_type_is_encoded_as_bind_encodes_it(
    declared: str, edge: Any
) -> None:
    _agrees_with_bind([_encoder("UUID"), _encoder(declared)], [UUID(int=7), edge])


def test_arguments_of_the_same_types_reuse_one_function() -> None:
    binds = Binds([_encoder("UUID"), _encoder("TIMESTAMPTZ")])
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = binds.quickly([UUID(int=1), at])
    second = binds.quickly([UUID(int=2), at + timedelta(seconds=1)])
    assert first == ("00000000-0000-0000-0000-000000000001", "2026-01-02 03:04:05.000000+00:00")
    assert second is not None and second[0].endswith("2")
    assert len(binds.typed) == 1


def test_an_enum_argument_is_left_to_bind() -> None:
    binds = Binds([_encoder("TEXT")])
    assert binds.quickly([Colour.RED]) is None
    assert bind(_encoder("TEXT"), Colour.RED) == "red"


def test_a_statement_seen_with_many_argument_types_stops_making_functions() -> None:
    binds = Binds([_encoder("NUMERIC(12, 2)")] * 5)
    for mask in range(1, 32):  # (all NULL passes as it is: no function)
        args = [Decimal(1) if mask >> i & 1 else None for i in range(5)]
        encoded = binds.quickly(args)
        assert encoded is None or list(encoded) == [None if a is None else "1" for a in args]
    assert len(binds.typed) == 16


def test_a_refused_value_is_handed_back_even_after_its_types_were_seen() -> None:
    binds = Binds([_encoder("UUID")])
    assert binds.quickly(["00000000-0000-0000-0000-000000000001"]) is not None
    assert binds.quickly(["not a uuid"]) is None


@pytest.mark.parametrize("width", [1, 3, 65])
@settings(max_examples=40)
@given(data=st.data())
def test_arguments_passing_as_they_are_are_what_bind_gives_each(
    width: int, data: st.DataObject
) -> None:
    # No UUID first: values of the very type their column takes (an int for a BIGINT, a
    # str for a TEXT) or NULL pass through the one-call check (``Binds.plain``; past 64
    # arguments, the tuple of their types), which must refuse a NUL or a NaN as bind does.
    kinds = data.draw(st.lists(st.sampled_from(_DECLARED), min_size=width, max_size=width))
    encoders = [_encoder(kind) for kind in kinds]
    binds = Binds(encoders)
    for _ in range(2):
        args = []
        for kind in kinds:
            edges, fits = _FITTING[kind]
            args.append(data.draw(st.sampled_from(edges) | fits | st.none() | _VALUES))
        expected = _slowly(encoders, args)
        quick = binds.quickly(args)
        if expected[0] == "refused":
            # (An int past 64 bits passes as it is: SQLite refuses it itself, and dualdb
            # raises the DataError bind would: tests/faults/test_fault_input.py.)
            assert quick is None or any(_past_64_bits(value) for value in args)
        elif quick is not None:
            assert ("encoded", _exactly(quick)) == expected


def _past_64_bits(value: Any) -> bool:
    return type(value) is int and not -(2**63) <= value < 2**63


@pytest.mark.parametrize("width", [2, 65])
def test_a_string_with_nul_is_handed_back_where_its_types_pass_as_they_are(width: int) -> None:
    binds = Binds([_encoder("TEXT")] * width)
    clean = ["a"] * width
    assert binds.quickly(clean) is clean  # passed as they are, not copied
    assert binds.quickly([*clean[:-1], "b\x00"]) is None
    assert binds.quickly([*clean[:-1], None]) is not None


def test_a_float_not_finite_is_handed_back_where_its_types_pass_as_they_are() -> None:
    binds = Binds([_encoder("DOUBLE PRECISION"), _encoder("BIGINT")])
    assert binds.quickly([1.5, 2]) is not None
    for bad in (math.nan, math.inf, -math.inf):
        assert binds.quickly([bad, 2]) is None


def test_a_bool_for_an_integer_column_is_not_taken_as_it_is() -> None:
    # bool is an int subclass; the one-call check compares exact types, so True goes
    # through the column's encoder, as bind takes it.
    binds = Binds([_encoder("BIGINT")])
    quick = binds.quickly([True])
    assert quick is None or _exactly(quick) == _exactly([bind(_encoder("BIGINT"), True)])


def test_statements_meeting_the_same_column_types_share_one_written_check() -> None:
    # A query built per call, values inline, makes new Binds each time: the check is
    # written out once per column types, not once per statement.
    first = Binds([_encoder("BIGINT"), _encoder("TEXT")])
    second = Binds([_encoder("BIGINT"), _encoder("TEXT")])
    assert first.plain is not None and first.plain is second.plain
