"""Values between Python and asyncpg.

asyncpg already speaks Python types (UUID, aware datetimes, Decimal, bytes, bool), so
encoding is the checks both backends share, plus JSON codecs. Rows are asyncpg's own C
``Record``, which has the row interface dualdb promises at no cost per row; it is
registered as a :class:`dualdb.Record` here, so that SQLite-only use never imports asyncpg.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any
from uuid import UUID

import asyncpg

from dualdb import errors
from dualdb.dialects._values import (
    NUMERIC_SCALE,
    check_datetime,
    check_decimal,
    check_float,
    check_json_text,
    dump_json,
    load_json,
)
from dualdb.dialects.postgres.dialect import NAME
from dualdb.records import Record

__all__ = ["Refused", "check_args", "check_rows", "register_codecs"]

Record.register(asyncpg.Record)


def check_args(args: Sequence[Any]) -> Sequence[Any]:
    """Apply the checks both backends share; asyncpg converts the rest itself. A value
    refused raises :class:`Refused` with its position, for the caller to name it.

    A float or Decimal with a fractional part (or a UUID small enough) is passed on marked
    (``_FractionalFloat``): asyncpg would truncate it to fit an integer parameter, which
    dualdb refuses instead, as its SQLite connections do."""
    out: list[Any] | None = None
    for index, value in enumerate(args):
        kind = type(value)
        try:
            if kind is datetime:
                check_datetime(value, NAME)
            elif kind is float:
                check_float(value, NAME)
                if not value.is_integer():
                    out = list(args) if out is None else out
                    out[index] = _FractionalFloat(value)
            elif kind is Decimal:
                check_decimal(value, NAME)
                if value.is_finite() and value != value.to_integral_value():
                    out = list(args) if out is None else out
                    out[index] = _FractionalDecimal(value)
            elif kind is UUID and value.int < _SMALL_UUID:
                # asyncpg takes a UUID for an integer through its 128-bit value, which fits
                # 64 bits only for such a UUID (UUID(int=5) would match 5).
                out = list(args) if out is None else out
                out[index] = _uuid_argument(value)
        except errors.DataError as error:
            raise Refused(index, error) from None
    return args if out is None else out


_SMALL_UUID = 2**63

#: The types ``check_args`` looks at; a column of other values needs no look.
_CHECKED = frozenset({datetime, float, Decimal, UUID})
_TIMESTAMP_RANGE = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


#: Column types whose asyncpg encoder never takes a number through int(): no argument
#: for them needs marking (a mark only refuses what an integer column would truncate).
_UNMARKED = frozenset(
    {"numeric", "float4", "float8", "uuid", "timestamptz", "timestamp", "date", "text"}
    | {"varchar", "bpchar", "json", "jsonb", "bytea", "bool"}
)


def check_rows(
    rows: Sequence[Sequence[Any]], types: Sequence[str] | None = None
) -> Sequence[Sequence[Any]]:
    """``check_args`` for every row of a bulk call, column by column: the checks run
    over a column at once (in C where they can), and only values that need a mark are
    replaced, none for a column of a type in ``_UNMARKED`` (``types``, when known, names
    each column's). A column holding a value to refuse (or an uncommon one) is left to
    ``check_args`` row by row, which raises just as a row at a time would."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    changed = False
    for index, column in enumerate(columns):
        kinds = set(map(type, column))
        if kinds.isdisjoint(_CHECKED):
            continue
        marks = types is None or types[index] not in _UNMARKED
        checked = _check_column(column, kinds, marks)
        if checked is None:
            return [check_args(row) for row in rows]
        if checked is not column:
            columns[index] = checked
            changed = True
    return list(zip(*columns, strict=True)) if changed else rows


def _check_column(column: Sequence[Any], kinds: set[type], marks: bool) -> Sequence[Any] | None:
    out = column
    if datetime in kinds:
        stamps = [v for v in column if type(v) is datetime]
        low, high = _TIMESTAMP_RANGE
        if None in set(map(datetime.utcoffset, stamps)):
            return None  # naive
        if not low < min(stamps) <= max(stamps) < high:
            return None
    if float in kinds:
        floats = [v for v in column if type(v) is float]
        if any(map(math.isnan, floats)):
            return None
        if marks and not all(map(float.is_integer, floats)):
            out = [
                _FractionalFloat(v) if type(v) is float and not v.is_integer() else v for v in out
            ]
    if Decimal in kinds:
        numbers = [v for v in column if type(v) is Decimal]
        texts = "\n".join(map(str, numbers))
        # No exponent, and shorter than the scale limit: within numeric's range.
        if "E" in texts or max(map(len, texts.split("\n"))) >= NUMERIC_SCALE:
            return None
        if marks:
            if not all(map(Decimal.is_finite, numbers)):
                return None
            out = [
                _FractionalDecimal(v) if type(v) is Decimal and v != v.to_integral_value() else v
                for v in out
            ]
    if UUID in kinds and marks:
        uuids = [v for v in column if type(v) is UUID]
        if min(map(_uuid_int, uuids)) < _SMALL_UUID:
            out = [_uuid_argument(v) if type(v) is UUID and v.int < _SMALL_UUID else v for v in out]
    return out


_uuid_int = attrgetter("int")


# asyncpg's integer encoders convert any other number with int(); these refuse to be,
# and asyncpg reports the error as invalid input for the argument (which dualdb names).
# Every other encoder (float, numeric, JSON, text) takes them as the number they are.


class _FractionalFloat(float):
    __slots__ = ()

    def __int__(self) -> int:
        raise ValueError("expected an int, got float")


class _FractionalDecimal(Decimal):
    __slots__ = ()

    def __int__(self) -> int:
        raise ValueError("expected an int, got Decimal")


class _UuidArgument(UUID):
    __slots__ = ()

    def __int__(self) -> int:
        raise ValueError("expected an int, got UUID")


def _uuid_argument(value: UUID) -> UUID:
    # UUID's own __init__ parses; its fields are all there is to copy.
    argument = object.__new__(_UuidArgument)
    object.__setattr__(argument, "int", value.int)
    object.__setattr__(argument, "is_safe", value.is_safe)
    return argument


class Refused(Exception):
    """Argument ``index`` failed a check both backends make (``error`` says which)."""

    def __init__(self, index: int, error: errors.DataError) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


def _encode_json(value: Any) -> str:
    # A str is JSON text already (as on SQLite); anything else is serialised.
    if isinstance(value, str):
        check_json_text(value, NAME)
        return value
    return dump_json(value, NAME)


def _encode_json_binary(value: Any) -> bytes:
    return _encode_json(value).encode()


def _encode_jsonb_binary(value: Any) -> bytes:
    return b"\x01" + _encode_json(value).encode()  # jsonb's binary form: version 1, text


def _decode_json_binary(data: bytes) -> Any:
    return load_json(data.decode())


def _decode_jsonb_binary(data: bytes) -> Any:
    return load_json(data[1:].decode())


async def register_codecs(con: asyncpg.Connection) -> None:
    # Binary codecs: COPY (execute_many's bulk path) sends every column in binary and
    # fails on a type that has only a text codec.
    await con.set_type_codec(
        "json",
        schema="pg_catalog",
        encoder=_encode_json_binary,
        decoder=_decode_json_binary,
        format="binary",
    )
    await con.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=_encode_jsonb_binary,
        decoder=_decode_jsonb_binary,
        format="binary",
    )
