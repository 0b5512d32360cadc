"""Values between Python and asyncpg.

asyncpg already speaks Python types (UUID, aware datetimes, Decimal, bytes, bool), so
encoding is the checks both backends share, plus JSON codecs. Rows are asyncpg's own C
``Record``, which has the row interface dualdb promises at no cost per row; it is
registered as a :class:`dualdb.Record` here, so that SQLite-only use never imports asyncpg.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any
from uuid import UUID

import asyncpg

from dualdb import errors
from dualdb.dialects._values import (
    MAX_JSON_DEPTH,
    NUMERIC_SCALE,
    check_datetime,
    check_decimal,
    check_float,
    check_json_text,
    compact_json,
    dump_json,
    load_json,
)
from dualdb.dialects.postgres.dialect import NAME
from dualdb.records import Record

__all__ = ["Refused", "check_args", "check_rows", "copy_rows", "register_codecs"]

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


def check_rows(rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """``check_args`` for every row of a bulk call, column by column: the checks run
    over a column at once (in C where they can), and only values that need a mark are
    replaced. A column holding a value to refuse (or an uncommon one) is left to
    ``check_args`` row by row, which raises just as a row at a time would."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    changed = _check_columns(columns, [set(map(type, c)) for c in columns], marks=True)
    if changed is None:
        return [check_args(row) for row in rows]
    return list(zip(*columns, strict=True)) if changed else rows


def copy_rows(
    rows: Sequence[Sequence[Any]], types: Sequence[str]
) -> Iterable[Sequence[Any]] | None:
    """The rows as a binary COPY into columns of these types takes them, checked as
    ``check_rows`` checks them; or None when a value may fail in asyncpg's encoder (a
    fraction for an integer column, a type it converts only for an INSERT's argument):
    COPY reports that without naming the argument, so the caller inserts the rows as
    ``executemany``, whose errors are the single INSERT's."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    kinds = [set(map(type, c)) for c in columns]
    if _check_columns(columns, kinds, marks=False) is None:
        for row in rows:
            check_args(row)  # raises what a row at a time would raise, or finds all well
    for index, kind in enumerate(types):
        takes = _COPY_TAKES.get(kind)
        taken = None if takes is None else takes(columns[index], kinds[index] - {_NONE}, kind)
        if taken is None:
            return None
        columns[index] = taken
    return zip(*columns, strict=True)  # one row at a time, as COPY sends them


def _check_columns(
    columns: list[Sequence[Any]], kinds: Sequence[set[type]], marks: bool
) -> bool | None:
    """Check (and mark, if ``marks``) each column in place; whether any value changed,
    or None when a column needs ``check_args``' closer look."""
    changed = False
    for index, column in enumerate(columns):
        if kinds[index].isdisjoint(_CHECKED):
            continue
        checked = _check_column(column, kinds[index], marks)
        if checked is None:
            return None
        if checked is not column:
            columns[index] = checked
            changed = True
    return changed


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
    if type(value) is _Written:
        return value
    return _encode_json(value).encode()


def _encode_jsonb_binary(value: Any) -> bytes:
    if type(value) is _Written:
        return value
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


# What COPY takes for a column of each type: the values asyncpg's encoder for it takes
# without failing (it fails only for what an INSERT would refuse too, but without naming
# the argument). Each returns the column, as COPY takes it, or None.

_NONE = type(None)


_Takes = Callable[[Sequence[Any], set[type], str], Sequence[Any] | None]


def _integers(bits: int) -> _Takes:
    high = 2 ** (bits - 1)

    def takes(column: Sequence[Any], kinds: set[type], _: str) -> Sequence[Any] | None:
        if not kinds <= {int, bool}:
            return None  # a whole float or Decimal: converted for an INSERT's argument only
        numbers = [v for v in column if v is not None]
        if numbers and not -high <= min(numbers) <= max(numbers) < high:
            return None
        return column

    return takes


def _kinds(*allowed: type) -> _Takes:
    def takes(column: Sequence[Any], kinds: set[type], _: str) -> Sequence[Any] | None:
        return column if kinds <= set(allowed) else None

    return takes


def _texts(column: Sequence[Any], kinds: set[type], _: str) -> Sequence[Any] | None:
    if not kinds <= {str}:
        return None
    try:
        "".join(filter(None, column)).encode()
    except UnicodeEncodeError:  # a lone surrogate
        return None
    return column


#: Instants asyncpg converts to UTC without overflowing (a day in from either end).
_SAFE_INSTANTS = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))


def _instants(column: Sequence[Any], kinds: set[type], _: str) -> Sequence[Any] | None:
    if not kinds <= {datetime}:
        return None
    stamps = [v for v in column if v is not None]  # aware: check_rows has seen them
    low, high = _SAFE_INSTANTS
    return column if not stamps or low <= min(stamps) <= max(stamps) <= high else None


def _uuids(column: Sequence[Any], kinds: set[type], _: str) -> Sequence[Any] | None:
    return column if all(issubclass(k, UUID) for k in kinds) else None  # asyncpg's too


def _json_documents(column: Sequence[Any], _: set[type], kind: str) -> Sequence[Any] | None:
    # Written here, so that a value the encoder would refuse is found before COPY starts,
    # and passed through the encoder as written. Dicts and lists are written by the quick
    # encoder, and its texts checked all at once: only where some text may need
    # dump_json's own checks are the suspect ones written again, by it.
    prefix = b"\x01" if kind == "jsonb" else b""
    texts: list[str | None] = []
    append = texts.append
    try:
        for value in column:
            kind_of = type(value)
            if kind_of is dict or kind_of is list:
                append(compact_json(value))
            elif value is None:
                append(None)
            else:
                append(_encode_json(value))  # dump_json, and every check it makes
        written = [text for text in texts if text]
        joined = "\n".join(written)
        if (
            "e+" in joined
            or "\\u0000" in joined
            or any(_deep(text) for text in written if len(text) > MAX_JSON_DEPTH)
        ):
            texts = [
                _encode_json(value) if text is not None and _suspect(text) else text
                for value, text in zip(column, texts, strict=True)
            ]
        return [None if text is None else _Written(prefix + text.encode()) for text in texts]
    except (errors.DataError, TypeError, ValueError, RecursionError):
        return None  # refused (a lone surrogate among them): executemany names the argument


def _suspect(text: str) -> bool:
    """Whether the quick encoder's ``text`` may need dump_json's own checks: a float it
    may write otherwise, a NUL, or more nesting than dualdb stores."""
    return "e+" in text or "\\u0000" in text or _deep(text)


def _deep(text: str) -> bool:
    return text.count("[") + text.count("{") > MAX_JSON_DEPTH


class _Written(bytes):
    """A JSON value already in its binary form (see ``_json_documents``)."""

    __slots__ = ()


_COPY_TAKES: dict[str, _Takes] = {
    "int2": _integers(16),
    "int4": _integers(32),
    "int8": _integers(64),
    "numeric": _kinds(Decimal, int, float),
    "float8": _kinds(float),
    "uuid": _uuids,
    "timestamptz": _instants,
    "date": _kinds(date),
    "text": _texts,
    "varchar": _texts,
    "json": _json_documents,
    "jsonb": _json_documents,
    "bytea": _kinds(bytes),
    "bool": _kinds(bool),
}
