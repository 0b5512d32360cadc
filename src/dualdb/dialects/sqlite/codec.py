"""Values between Python and SQLite, both ways.

SQLite returns what it stored (UUIDs and timestamps as text, booleans as 0/1), so rows
are decoded by the *declared type* of the table column each result column comes from,
read with ``PRAGMA table_xinfo`` and kept in a plan per result shape and schema version.
dualdb registers no process-wide sqlite3 adapter or converter, so other sqlite3 users in
the process (yoyo, the application) see SQLite exactly as before.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from itertools import chain
from typing import Any
from uuid import UUID

from dualdb import errors
from dualdb.dialects._values import (
    MAX_JSON_DEPTH,
    NUMERIC_DIGITS,
    NUMERIC_SCALE,
    check_datetime,
    check_decimal,
    check_float,
    check_json_text,
    compact_json,
    dump_json,
    json_scanner,
    load_json,
    uuid_from_text,
)
from dualdb.dialects.sqlite.dialect import NAME
from dualdb.sql.terms import Json

__all__ = [
    "Binds",
    "Refused",
    "bind",
    "bind_like_pattern",
    "bind_rows",
    "binder_for",
    "decoder_for",
    "encode_args",
    "encode_many",
    "encode_value",
    "inline_decoder",
    "kind_of",
    "to_bool",
]

# ---------------------------------------------------------------------------- encoding


def _text(value: str) -> str:
    if "\x00" in value:
        raise errors.DataError(
            "text cannot contain the NUL character (PostgreSQL cannot store it either)",
            dialect=NAME,
        )
    return value


def _timestamp(value: datetime) -> str:
    check_datetime(value, NAME)
    # One fixed-width UTC format, so stored timestamps compare correctly as text.
    try:
        return value.astimezone(UTC).isoformat(" ", "microseconds")
    except OverflowError:  # e.g. 0001-01-01 01:00+05:00 is in year 0 in UTC
        raise errors.DataError(
            "datetime out of range: in UTC it falls outside the years 1-9999", dialect=NAME
        ) from None


def _decimal(value: Decimal) -> str:
    # The text PostgreSQL's numeric gives back: fixed-point (1E+2 -> 100), no negative
    # zero, no signalling NaN; so both backends return the same Decimal.
    if value.is_nan():
        return "NaN"
    check_decimal(value, NAME)
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def _float(value: float) -> float:
    check_float(value, NAME)
    return value


def _json(value: Any) -> str:
    return dump_json(value, NAME)


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    str: _text,
    datetime: _timestamp,
    date: date.isoformat,
    UUID: str,
    Decimal: _decimal,
    float: _float,
    dict: _json,
    list: _json,
    Json: _json,
    bytearray: bytes,
    memoryview: bytes,
}
_NATIVE = frozenset({int, bool, bytes, type(None)})


def _encode_other(value: Any) -> Any:
    """Slow path for subclasses (asyncpg's UUID, enums, str subclasses…)."""
    if isinstance(value, Enum):
        value = value.value
    for kind, encode in _ENCODERS.items():
        if isinstance(value, kind):
            return encode(value)
    return value


def encode_args(args: Sequence[Any]) -> list[Any]:
    out = []
    for value in args:
        kind = type(value)
        if kind in _NATIVE or (kind is str and "\x00" not in value):
            out.append(value)  # the common values, without a call each
        else:
            encode = _ENCODERS.get(kind)
            out.append(encode(value) if encode is not None else _encode_other(value))
    return out


_PLAIN = frozenset({int, bool, bytes, type(None), str, float})


def encode_many(rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Every row's arguments, encoded, in one flat list (for a multi-row INSERT).

    The common batch holds only ints, strings, floats, bytes and NULLs, which SQLite
    takes as they are once strings are checked for NUL and floats for NaN: those checks
    run over the whole batch in C (``map``/``filter``/``join``), not value by value in
    Python, so checking costs a tenth of the insert.
    """
    flat = list(chain.from_iterable(rows))
    kinds = set(map(type, flat))
    if not kinds <= _PLAIN:
        return encode_args(flat)
    if str in kinds and "\x00" in "".join(filter(str.__instancecheck__, flat)):
        return encode_args(flat)  # raises, as for a single statement
    if float in kinds and not all(map(math.isfinite, filter(float.__instancecheck__, flat))):
        return encode_args(flat)  # raises
    return flat


# ---------------------------------------------------------------------------- decoding


def _to_uuid(value: Any) -> Any:
    return uuid_from_text(value) if value.__class__ is str else value


def _to_datetime(value: Any) -> Any:
    if value.__class__ is not str:
        return value
    parsed = datetime.fromisoformat(value)
    zone = parsed.tzinfo
    if zone is UTC:  # how dualdb writes them ("+00:00" parses to this one object)
        return parsed
    if zone is None:  # CURRENT_TIMESTAMP and other SQL-side defaults are UTC
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _to_date(value: Any) -> Any:
    return date.fromisoformat(value) if isinstance(value, str) else value


def to_bool(value: Any) -> Any:
    return bool(value) if isinstance(value, int) else value


def _to_float(value: Any) -> Any:
    # SQLite stores a whole REAL as an integer; ``RETURNING *`` hands that integer out.
    return float(value) if type(value) is int else value


def _to_json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value
    try:
        return load_json(value) if isinstance(value, str) else json.loads(value)
    except ValueError:
        # A str bound to a JSON column is stored as given; PostgreSQL would have
        # refused invalid JSON text with DataError when it was written.
        raise errors.DataError(
            "a JSON column holds text that is not valid JSON", dialect=NAME
        ) from None


def _to_decimal(value: Any) -> Any:
    if isinstance(value, str | int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def kind_of(declared: str) -> str | None:
    """The kind of value a column of this declared type holds, by the words of the type
    (as SQLite itself reads affinity), or None for a type dualdb does not know."""
    kind = declared.upper()
    if "UUID" in kind:
        return "uuid"
    if "TIMESTAMP" in kind or "DATETIME" in kind:
        return "timestamptz"
    if "DATE" in kind:
        return "date"
    if "BOOL" in kind:
        return "boolean"
    if "JSON" in kind:
        return "json"
    if "DECIMAL" in kind or "NUMERIC" in kind:
        # Without TEXT (or the like) SQLite gives it NUMERIC affinity, which rounds.
        exact = any(word in kind for word in ("CHAR", "CLOB", "TEXT", "INT"))
        return "decimal" if exact else "numeric affinity"
    if "BIGINT" in kind or "INT8" in kind:
        return "bigint"
    if "SMALLINT" in kind or "INT2" in kind:
        return "smallint"
    if "INT" in kind:  # INTEGER is 32 bits on PostgreSQL; other INT spellings 64
        return "integer" if kind.strip() in ("INTEGER", "INT", "INT4") else "bigint"
    if "REAL" in kind or "FLOA" in kind or "DOUB" in kind:
        return "float"
    if "CHAR" in kind or "CLOB" in kind or "TEXT" in kind:
        return "text"
    if "BLOB" in kind or "BYTEA" in kind:
        return "bytes"
    return None


_DECODERS: dict[str | None, Callable[[Any], Any]] = {
    "uuid": _to_uuid,
    "timestamptz": _to_datetime,
    "date": _to_date,
    "boolean": to_bool,
    "json": _to_json,
    "decimal": _to_decimal,
    "numeric affinity": _to_decimal,
    "float": _to_float,  # a whole REAL comes back as an integer
}


#: Decoders that a row converter (``plans._converters``) writes out as an expression of
#: the stored value ``{v}``, with helpers ``{h0}``, ``{h1}`` and a name ``{t}`` of its own,
#: ``{other}`` standing for the decoder's call: the common stored form is decoded with no
#: Python frame, every other (NULL included) by the decoder itself, so that each answers
#: exactly as its decoder. (Tested against the decoders in tests/dialects.)
_INLINE: dict[Callable[[Any], Any], tuple[str, tuple[Any, ...]]] = {
    _to_uuid: ("({h0}({v}) if {v}.__class__ is str else {v})", (uuid_from_text,)),
    to_bool: ("({v} != 0 if {v}.__class__ is int else {other})", ()),
    _to_decimal: ("({h0}({v}) if {v}.__class__ is str else {other})", (Decimal,)),
    _to_datetime: (
        "(({t} if ({t} := {h0}({v})).tzinfo is {h1} else {other})"
        " if {v}.__class__ is str else {v})",
        (datetime.fromisoformat, UTC),
    ),
}
_scan = json_scanner()
if _scan is not None:
    _INLINE[_to_json] = (
        "({t}[0] if {v}.__class__ is str and ({t} := {h0}({v}, 0))[1] == len({v}) else {other})",
        (_scan,),
    )


def inline_decoder(decode: Callable[[Any], Any]) -> tuple[str, tuple[Any, ...]] | None:
    """How a row converter writes ``decode`` out inline (see ``_INLINE``), if it can."""
    return _INLINE.get(decode)


def decoder_for(declared: str) -> Callable[[Any], Any] | None:
    """The decoder for a column's declared type, or None to return values as stored."""
    return _DECODERS.get(kind_of(declared))


# ---------------------------------------------------------------------------- binding
#
# Where a value meets a column (INSERT, SET, ``col = Param``, IN, BETWEEN, LIMIT), SQLite
# would store or compare whatever it is given; PostgreSQL (through asyncpg) takes only
# what the column's type takes. These encoders accept what PostgreSQL accepts, convert it
# to what PostgreSQL would store, and refuse the rest, so development refuses what
# production refuses and never stores a value it cannot read back. Where asyncpg is
# looser than sense (it truncates 1.5 into an integer column), they refuse.


class Refused(Exception):
    """A value the column's type does not take; ``args[0]`` says what it expects."""


def _kind(value: Any) -> str:
    return type(value).__name__


def _bind_bool(value: Any) -> Any:
    if type(value) is bool:
        return value
    raise Refused("a bool")


def _integer(bits: int) -> Callable[[Any], Any]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def bind(value: Any) -> Any:
        if isinstance(value, int):  # bool too, as PostgreSQL takes it
            number = int(value)
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            number = int(value)  # a whole float (2.0)
        elif isinstance(value, Decimal) and value.is_finite() and value % 1 == 0:
            number = int(value)  # a whole Decimal (not NaN or Infinity, which % refuses)
        else:
            raise Refused("an int")
        if not low <= number <= high:
            raise Refused(f"an int of at most {bits} bits")
        return number

    return bind


def _bind_float(value: Any) -> Any:
    if isinstance(value, float | int | Decimal):
        if isinstance(value, Decimal) and value.is_snan():
            raise Refused("a float (a signalling NaN is none)")
        number = float(value)
        check_float(number, NAME)
        return number
    raise Refused("a float")


def _bind_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        check_float(value, NAME)
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return _decimal(Decimal(value))  # exactly, as asyncpg converts it
    if isinstance(value, str):
        try:
            return _decimal(Decimal(value.strip()))
        except ArithmeticError:
            raise Refused("a Decimal, or text that is a number") from None
    raise Refused("a Decimal")


def _bind_text(value: Any) -> Any:
    if isinstance(value, str):
        return _text(str(value))
    raise Refused("a str")


def bind_like_pattern(value: Any) -> Any:
    """A LIKE pattern (``ESCAPE '\\'``, which dualdb gives every LIKE): text, not ending
    in an escape character that escapes nothing, which PostgreSQL refuses."""
    if not isinstance(value, str):
        raise Refused("a str")
    if (len(value) - len(value.rstrip("\\"))) % 2:
        raise errors.DataError("LIKE pattern must not end with escape character", dialect=NAME)
    return _text(str(value))


def _bind_bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise Refused("bytes")


def _bind_uuid(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(UUID(value))  # the canonical form PostgreSQL returns
        except ValueError:
            raise Refused("a UUID, or text that is one") from None
    raise Refused("a UUID")


def _bind_timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):  # midnight UTC, as PostgreSQL reads a date
        return _timestamp(datetime(value.year, value.month, value.day, tzinfo=UTC))
    raise Refused("a datetime")


def _bind_date(value: Any) -> Any:
    if isinstance(value, datetime):
        check_datetime(value, NAME)
        return value.date().isoformat()  # PostgreSQL keeps the date, as given
    if isinstance(value, date):
        return value.isoformat()
    raise Refused("a date")


def _bind_json(value: Any) -> Any:
    document = value.value if type(value) is Json else value
    if type(document) is dict or type(document) is list:
        text = _jsonb_of(document)
        if text is not None:
            return text
    if isinstance(value, str):
        # JSON text, as PostgreSQL takes it: it must parse (NaN is no JSON).
        check_json_text(value, NAME)
        text = value
    elif isinstance(value, dict | list | Json | bool | int | float) or value is None:
        text = dump_json(value, NAME)
    else:
        raise Refused("a JSON value (dict, list, str, int, float, bool or Json(...))")
    try:
        document = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_no)
    except RecursionError:
        raise Refused("JSON nested at most 256 deep") from None
    except ValueError:
        raise Refused("JSON text that parses") from None
    return _jsonb(document)


def _no(constant: str) -> Any:
    raise ValueError(constant)


def _jsonb(document: Any) -> str:
    """JSON text as PostgreSQL's jsonb stores and writes it back: numbers as its numeric
    writes them (``1e2`` is ``100``, ``-0.0`` is ``0.0``: the same Python type on
    reading), object keys in its order (shorter first, then by bytes) and each once (the
    last)."""
    if isinstance(document, dict):
        keys = sorted(document, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ",".join(f"{_json_string(k)}:{_jsonb(document[k])}" for k in keys) + "}"
    if isinstance(document, list):
        return "[" + ",".join(_jsonb(v) for v in document) + "]"
    if isinstance(document, Decimal):
        return format(document.copy_abs() if document.is_zero() else document, "f")
    if isinstance(document, str):
        return _json_string(document)
    return json.dumps(document)


def _jsonb_of(document: dict[Any, Any] | list[Any]) -> str | None:
    """What ``_bind_json`` makes of a plain document (str keys; str, int, bool and None
    leaves): its objects' keys put in jsonb's order, then written once by the JSON
    encoder, instead of dumped, parsed and written again. None for anything else (a
    float: jsonb writes ``1e2`` as ``100``), which takes that longer way, errors too."""
    try:
        text = compact_json(_in_jsonb_order(document, 0))
    except Exception:  # e.g. _NotPlain, a lone surrogate, an int too long for str()
        return None
    return None if "\\u0000" in text else text  # NUL: refused by the longer way


class _NotPlain(Exception):
    """A value ``_in_jsonb_order`` leaves to the full encoder."""


_LEAVES = frozenset({str, int, bool, type(None)})


def _sort_key(key: str) -> tuple[int, bytes]:
    data = key.encode()
    return len(data), data


def _in_jsonb_order(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in _LEAVES:
        return value
    if depth >= MAX_JSON_DEPTH:
        raise _NotPlain
    if kind is list:
        if set(map(type, value)) <= _LEAVES:
            return value
        return [v if type(v) in _LEAVES else _in_jsonb_order(v, depth + 1) for v in value]
    if kind is not dict:
        raise _NotPlain
    keys = list(value)
    if not set(map(type, keys)) <= {str}:
        raise _NotPlain
    if "".join(keys).isascii():  # then byte order and length are the characters'
        keys.sort()
        keys.sort(key=len)
    else:
        keys.sort(key=_sort_key)
    ordered = {k: value[k] for k in keys}
    for key, inner in ordered.items():
        if type(inner) not in _LEAVES:
            ordered[key] = _in_jsonb_order(inner, depth + 1)
    return ordered


def _json_string(text: str) -> str:
    # Characters as they are, not escaped: a lone surrogate, which PostgreSQL refuses
    # even escaped, then fails as text that cannot be stored (a DataError) here too.
    return json.dumps(text, ensure_ascii=False)


def _numeric_affinity(declared: str) -> Callable[[Any], Any]:
    """A decimal column whose declared type (``NUMERIC(20,2)``) gives it SQLite's NUMERIC
    affinity, which turns decimal text into an INTEGER or REAL: 9.00 would be stored as 9,
    and a larger number keep 15 digits. No value is stored to come back changed."""

    def bind(value: Any) -> Any:
        raise errors.DataError(
            f"the column's declared type {declared} has NUMERIC affinity on SQLite, which "
            "would store 9.00 as 9 and keep only 15 digits; declare it DECIMAL TEXT (the "
            "logical type decimal: {decimal} in typed_sql) to keep every digit",
            dialect=NAME,
        )

    return bind


def binder_for(declared: str) -> Callable[[Any], Any] | None:
    """The encoder for a value meeting a column of this declared type, as PostgreSQL
    would take it; None for a type dualdb does not know (values bound as they are)."""
    kind = kind_of(declared)
    if kind == "numeric affinity":
        return _numeric_affinity(declared)
    return _ENCODERS_BY_KIND.get(kind)


_INT64 = _integer(64)
_INT32 = _integer(32)
_INT16 = _integer(16)

_ENCODERS_BY_KIND: dict[str | None, Callable[[Any], Any]] = {
    "uuid": _bind_uuid,
    "timestamptz": _bind_timestamp,
    "date": _bind_date,
    "boolean": _bind_bool,
    "json": _bind_json,
    "decimal": _bind_decimal,
    "bigint": _INT64,
    "integer": _INT32,
    "smallint": _INT16,
    "float": _bind_float,
    "text": _bind_text,
    "bytes": _bind_bytes,
}


def bind(encode: Callable[[Any], Any], value: Any) -> Any:
    """``encode(value)``: NULL stays NULL, an Enum is its value."""
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    return encode(value)


def encode_value(value: Any) -> Any:
    """One value as ``encode_args`` encodes it (a value that meets no known column)."""
    kind = type(value)
    if kind in _NATIVE or (kind is str and "\x00" not in value):
        return value
    encode = _ENCODERS.get(kind)
    return encode(value) if encode is not None else _encode_other(value)


_NONE = type(None)

#: Encoders whose accepted values SQLite takes as they are, with the checks each needs
#: run over a whole column at once (in C: ``map``, ``filter``, ``join``).
_AS_IS: dict[Callable[[Any], Any], type] = {
    _bind_text: str,
    _INT64: int,
    _bind_float: float,
    _bind_bool: bool,
    _bind_bytes: bytes,
}


#: The narrower integer encoders: an int column within their range is taken as it is.
_BITS: dict[Callable[[Any], Any], int] = {_INT64: 64, _INT32: 32, _INT16: 16}


def _as_is(encoder: Callable[[Any], Any], column: Sequence[Any], kinds: set[type]) -> bool:
    kind = int if encoder in _BITS else _AS_IS.get(encoder)
    if kind is None or not kinds <= {kind, _NONE}:
        return False
    if kind is str:
        return "\x00" not in "".join(filter(None, column))
    if kind is float:
        return all(map(math.isfinite, filter(None, column)))
    if kind is int:
        numbers = [n for n in column if n is not None]
        high = 2 ** (_BITS[encoder] - 1)
        return not numbers or (min(numbers) >= -high and max(numbers) < high)
    return True


# Whole columns of one type, encoded as the column's encoder encodes each value, with the
# checks run over the column in C where they can be; None when a value needs a closer
# look (refused, or out of the common range), which the value-by-value way then takes.


def _uuid_column(column: Sequence[Any]) -> list[Any] | None:
    return [None if v is None else str(v) for v in column]


_TIMESTAMP_RANGE = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def _timestamp_column(column: Sequence[Any]) -> list[Any] | None:
    values = [v for v in column if v is not None]
    if not values:
        return list(column)
    low, high = _TIMESTAMP_RANGE  # PostgreSQL's -infinity and infinity: refused
    if None in set(map(datetime.utcoffset, values)) or not low < min(values) <= max(values) < high:
        return None
    try:
        return [
            None if v is None else v.astimezone(UTC).isoformat(" ", "microseconds") for v in column
        ]
    except OverflowError:
        return None


def _decimal_column(column: Sequence[Any]) -> list[Any] | None:
    values = [v for v in column if v is not None]
    if not values:
        return list(column)
    if not all(map(Decimal.is_finite, values)):
        return None
    exponents = list(map(Decimal.adjusted, values))
    if min(exponents) <= -NUMERIC_SCALE or max(exponents) >= NUMERIC_DIGITS:
        return None  # (and none written out in full here: it could be millions of digits)
    if any(map(Decimal.is_zero, values)):
        column = [v.copy_abs() if v is not None and v.is_zero() else v for v in column]
    texts = [None if v is None else format(v, "f") for v in column]
    # Fewer characters than that: fewer digits than numeric's limits on either side.
    if max(map(len, filter(None, texts))) >= NUMERIC_SCALE:
        return None
    return texts


def _json_column(column: Sequence[Any]) -> list[Any] | None:
    try:
        return [None if v is None else _bind_json(v) for v in column]
    except (Refused, errors.DataError):
        return None


_COLUMNS: dict[Callable[[Any], Any], tuple[type, Callable[[Sequence[Any]], list[Any] | None]]] = {
    _bind_json: (dict, _json_column),
    _bind_uuid: (UUID, _uuid_column),
    _bind_timestamp: (datetime, _timestamp_column),
    _bind_decimal: (Decimal, _decimal_column),
}


def bind_rows(
    encoders: Sequence[Callable[[Any], Any]],
    rows: Sequence[Sequence[Any]],
    refused: Callable[[int, Refused | errors.DataError, Any], Exception],
) -> list[Any]:
    """Every row's arguments, each encoded by its column's encoder, in one flat list;
    ``refused`` makes the error for a value refused (or failing a check).

    Column by column: a column of values SQLite takes as they are is checked in C and
    kept; a column of one common type is encoded in one comprehension; only the others
    pay a call per value.
    """
    columns: list[Sequence[Any]] = []
    for index, (encoder, column) in enumerate(zip(encoders, zip(*rows, strict=True), strict=True)):
        if encoder is encode_value:
            columns.append(encode_args(column))
            continue
        kinds = set(map(type, column))
        if _as_is(encoder, column, kinds):
            columns.append(column)
            continue
        whole = _COLUMNS.get(encoder)
        if whole is not None and kinds <= {whole[0], _NONE}:
            encoded = whole[1](column)
            if encoded is not None:
                columns.append(encoded)
                continue
        encoded = []
        for value in column:
            try:
                encoded.append(bind(encoder, value))
            except (Refused, errors.DataError) as exc:
                raise refused(index, exc, value) from None
        columns.append(encoded)
    return list(chain.from_iterable(zip(*columns, strict=True)))


class Binds:
    """The encoders of one statement's arguments on one schema version, with the type
    each takes as it is (see ``SQLiteConnection._bound``)."""

    __slots__ = ("encoders", "natives", "plain", "typed")

    def __init__(self, encoders: Sequence[Callable[[Any], Any]]) -> None:
        self.encoders = tuple(encoders)
        self.natives = tuple(_AS_IS.get(e, _NO_TYPE) for e in self.encoders)
        #: Per argument type tuple seen: a function encoding such arguments in one call
        #: (see ``_typed_encoder``), or None where only ``bind`` value by value will do.
        self.typed: dict[tuple[type, ...], Callable[[Sequence[Any]], Sequence[Any]] | None] = {}
        #: Says in one call whether arguments pass as they are (see ``_plain_checker``).
        self.plain = _plain_checker(self.natives)

    def quickly(self, args: Sequence[Any]) -> Sequence[Any] | None:
        """The arguments encoded as ``bind`` encodes each, in one call for arguments of
        types seen before; None where they must go value by value (an Enum, a value
        refused: only that names the one refused)."""
        # The common case: each value of the type its column takes as it is (an int for
        # a BIGINT), with strings free of NUL and floats finite.
        verdict = self.plain(args)
        if verdict:
            return args
        if verdict is not None:  # a NUL in a string, a float not finite
            return None
        types = tuple(map(type, args))
        typed = self.typed.get(types, _UNSEEN)
        if typed is _UNSEEN:
            if len(self.typed) >= _TYPED_PER_STATEMENT:
                return None  # (rather than write a function out for each call)
            typed = self.typed[types] = _typed_encoder(types, self.natives, self.encoders)
        if typed is None:
            return None
        try:
            encoded: Sequence[Any] = typed(args)
        except Exception:  # refused, or failed as bind would fail: value by value then
            return None
        return encoded


_UNSEEN: Any = object()
#: A statement's arguments, and whether they pass as they are (see ``_plain_checker``).
_Plain = Callable[[Sequence[Any]], bool | None]


@lru_cache(maxsize=256)
def _plain_checker(natives: tuple[type, ...]) -> _Plain:
    """One function saying whether arguments pass as they are: each value of the very
    type its column takes (``natives``) or NULL. It answers True (they all pass), False
    (their types pass, but a string holds NUL or a float is not finite) or None (some
    type does not pass). Written out in straight-line code, without the tuple of the
    arguments' types; past the arguments a function is written out for, it goes by that
    tuple (``_plain_by_types``). An int is not checked against 64 bits here: SQLite
    refuses a larger one itself, and its error is translated into the DataError
    ``bind`` would raise. Kept per column types: a query built per call (values inline)
    makes a new ``Binds`` each time, and writing the function out costs more than the
    statement."""
    if len(natives) > _MAX_TYPED_ARGUMENTS:
        return _plain_by_types(natives)
    namespace: dict[str, Any] = {"isfinite": math.isfinite}
    lines = ["def plain(args):", f"    if len(args) != {len(natives)}: return None"]
    if natives:
        lines.append(f"    {''.join(f'a{i}, ' for i in range(len(natives)))}= args")
    lines.append("    ok = True")
    for i, native in enumerate(natives):
        if native is _NO_TYPE:
            lines.append(f"    if a{i} is not None: return None")
            continue
        namespace[f"t{i}"] = native
        lines.append(f"    if a{i} is not None:")
        lines.append(f"        if type(a{i}) is not t{i}: return None")
        if native is str:
            lines.append(f"        if '\\x00' in a{i}: ok = False")
        elif native is float:
            lines.append(f"        if not isfinite(a{i}): ok = False")
    lines.append("    return ok")
    # The text holds argument positions only, never a value.
    source = "\n".join(lines)
    exec(compile(source, f"<dualdb plain arguments {len(natives)}>", "exec"), namespace)  # noqa: S102
    plain: _Plain = namespace["plain"]
    return plain


def _plain_by_types(natives: tuple[type, ...]) -> _Plain:
    """``_plain_checker``'s answer for many arguments, from the tuple of their types
    (up to 16 such tuples that pass are remembered)."""
    texts = tuple(i for i, n in enumerate(natives) if n is str)
    floats = tuple(i for i, n in enumerate(natives) if n is float)
    passing: set[tuple[type, ...]] = set()

    def plain(args: Sequence[Any]) -> bool | None:
        types = tuple(map(type, args))
        if types not in passing:
            if len(types) != len(natives) or not all(
                t is n or t is _NONE for t, n in zip(types, natives, strict=True)
            ):
                return None
            if len(passing) < 16:
                passing.add(types)
        for index in texts:
            text = args[index]
            if text is not None and "\x00" in text:
                return False
        for index in floats:
            number = args[index]
            if number is not None and not math.isfinite(number):
                return False
        return True

    return plain


#: How many argument type tuples of one statement get a function of their own (NULLs in
#: different places make different tuples).
_TYPED_PER_STATEMENT = 16


#: Arguments beyond this many are encoded value by value (a function written out for
#: them would be long and rarely reused).
_MAX_TYPED_ARGUMENTS = 64


def _typed_encoder(
    types: tuple[type, ...],
    natives: tuple[type, ...],
    encoders: tuple[Callable[[Any], Any], ...],
) -> Callable[[Sequence[Any]], Sequence[Any]] | None:
    """One function encoding arguments of exactly these types as ``bind`` encodes each
    (a UUID meeting a uuid column, a datetime a timestamp): NULLs and values taken as
    they are pass, the rest go straight to their column's encoder. It raises where
    ``bind`` would refuse a value, without naming it. None for an Enum (``bind`` takes
    its value), a count that does not match, or too many arguments to write out."""
    if not types or len(types) != len(natives) or len(types) > _MAX_TYPED_ARGUMENTS:
        return None
    namespace: dict[str, Any] = {"isfinite": math.isfinite, "Refused": Refused}
    checks: list[str] = []
    parts: list[str] = []
    for i, (kind, native, encoder) in enumerate(zip(types, natives, encoders, strict=True)):
        if kind is _NONE:
            parts.append(f"a{i}")
        elif kind is native:
            parts.append(f"a{i}")
            if kind is str:
                checks.append(f"    if '\\x00' in a{i}: raise Refused")
            elif kind is float:
                checks.append(f"    if not isfinite(a{i}): raise Refused")
            elif kind is int:  # (SQLite would refuse it too, less clearly)
                checks.append(f"    if not {-(2**63)} <= a{i} <= {2**63 - 1}: raise Refused")
        elif issubclass(kind, Enum):
            return None
        else:
            namespace[f"e{i}"] = encoder
            parts.append(f"e{i}(a{i})")
    names = "".join(f"a{i}, " for i in range(len(types)))
    source = "\n".join(
        ["def encode(args):", f"    {names}= args", *checks, f"    return ({', '.join(parts)},)"]
    )
    # The text holds argument positions only, never a value.
    exec(compile(source, f"<dualdb arguments {len(types)}>", "exec"), namespace)  # noqa: S102
    encode: Callable[[Sequence[Any]], Sequence[Any]] = namespace["encode"]
    return encode


class _NoType:
    """Matches no value's type."""


_NO_TYPE = _NoType
