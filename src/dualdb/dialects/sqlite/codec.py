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
from itertools import chain
from typing import Any
from uuid import UUID

from dualdb import errors
from dualdb.dialects._values import check_datetime, check_decimal, check_float, dump_json
from dualdb.dialects.sqlite.dialect import NAME
from dualdb.sql.terms import Json

__all__ = ["decoder_for", "encode_args", "encode_many", "to_bool"]

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
    return UUID(value) if isinstance(value, str) else value


def _to_datetime(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # CURRENT_TIMESTAMP and other SQL-side defaults are UTC
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
        return json.loads(value)
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


def decoder_for(declared: str) -> Callable[[Any], Any] | None:
    """The decoder for a column's declared type, or None to return values as stored."""
    kind = declared.upper()
    if "UUID" in kind:
        return _to_uuid
    if "TIMESTAMP" in kind or "DATETIME" in kind:
        return _to_datetime
    if "DATE" in kind:
        return _to_date
    if "BOOL" in kind:
        return to_bool
    if "JSON" in kind:
        return _to_json
    if "DECIMAL" in kind or "NUMERIC" in kind:
        return _to_decimal
    if "INT" not in kind and ("REAL" in kind or "FLOA" in kind or "DOUB" in kind):
        return _to_float  # SQLite's rule for REAL affinity
    return None
