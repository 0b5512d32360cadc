"""Value checks and JSON text shared by both dialects.

Both backends must accept and reject the same values, so the rules live here once:
a naive datetime is refused (dualdb does not guess a time zone), NaN is refused
(SQLite would store NULL), a Decimal must fit PostgreSQL's numeric, and JSON is written
compactly without NaN or ``\\u0000`` (PostgreSQL's jsonb cannot hold either) and no deeper
than Python's own ``json`` can read back.
"""

from __future__ import annotations

import json
import json.scanner
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, SafeUUID

from dualdb.errors import DataError
from dualdb.sql.terms import Json

__all__ = [
    "MAX_JSON_DEPTH",
    "NUMERIC_DIGITS",
    "NUMERIC_SCALE",
    "check_datetime",
    "check_decimal",
    "check_float",
    "check_json_text",
    "compact_json",
    "dump_json",
    "json_scanner",
    "load_json",
    "uuid_from_text",
]

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


_encoder_str = json.encoder.encode_basestring  # what ensure_ascii=False writes strings with


def _compact_encoder() -> Callable[[Any], str]:
    """``_encoder.encode``, made once: the encoder's own ``encode`` builds its C encoder
    anew for every value, which costs as much as encoding a small document. Without
    circular-reference checks: such a value fails deep (RecursionError), and the caller
    then asks ``_encoder`` for its error."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator
        return _encoder.encode
    # markers, default, str encoder, indent, separators, sort_keys, skipkeys, allow_nan
    chunks = make(None, _encoder.default, _encoder_str, None, ":", ",", False, False, False)
    return lambda value: "".join(chunks(value, 0))


#: JSON text as ``_encoder`` writes it.
compact_json = _compact_encoder()


def _has_exponent_float(value: Any) -> bool:
    if type(value) is float:
        return value.is_integer() and abs(value) >= 1e16
    if isinstance(value, dict):
        return any(_has_exponent_float(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_exponent_float(v) for v in value)
    return False


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is True or key is False or key is None:
        return _encoder.encode(key)
    if isinstance(key, int | float):
        return _number(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _number(value: int | float) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1e16:
            # repr() would write 1e+16, which jsonb stores as the integer 10000000000000000:
            # a fixed-point text with ".0" stays a float on PostgreSQL as on SQLite.
            return f"{int(value)}.0"
        return _encoder.encode(value)
    return int.__repr__(value)


def _encode(value: Any) -> str:
    """A plain recursive encoder, used only for documents holding such large floats."""
    if isinstance(value, dict):
        items = (f"{_encoder.encode(_key(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(value)
    return _encoder.encode(value)


#: ``\u0000`` as an escape, not as the text "\\u0000" (an escaped backslash before "u0000").
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


#: The deepest JSON document stored: Python's ``json`` reads nesting only as deep as the
#: interpreter's recursion limit allows (less the caller's own frames), so a deeper
#: document could be written but never read back.
MAX_JSON_DEPTH = 256


def dump_json(value: Any, dialect: str) -> str:
    """JSON text for a value bound to a JSON column; it reads back identically on both."""
    if isinstance(value, Json):
        value = value.value
    try:
        try:
            text: str | None = compact_json(value)
        except (RecursionError, TypeError, ValueError):
            text = None  # raised again below, as the walk meets it
        # Only a float written with an exponent ("1e+16") needs the walk; errors too.
        if text is None or "e+" in text:
            text = _encode(value) if _has_exponent_float(value) else _encoder.encode(value)
    except RecursionError:
        raise _too_deep(dialect) from None
    except (TypeError, ValueError) as exc:
        raise DataError(f"value cannot be stored as JSON: {exc}", dialect=dialect) from exc
    check_json_text(text, dialect)
    return text


def check_json_text(text: str, dialect: str) -> None:
    """Refuse JSON text holding an escaped NUL (jsonb cannot) or nested deeper than
    :data:`MAX_JSON_DEPTH`."""
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise DataError("JSON text cannot contain the NUL character (\\u0000)", dialect=dialect)
    # Counting brackets runs in C; only a document with that many is scanned.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _depth(text) > MAX_JSON_DEPTH:
        raise _too_deep(dialect)


def _depth(text: str) -> int:
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _too_deep(dialect: str) -> DataError:
    return DataError(
        f"JSON nested deeper than {MAX_JSON_DEPTH} levels cannot be stored "
        "(it could not be read back)",
        dialect=dialect,
    )


#: PostgreSQL's numeric: fewer than 131072 digits before the point, 16383 after.
NUMERIC_DIGITS = 131072
NUMERIC_SCALE = 16383


def check_decimal(value: Decimal, dialect: str) -> None:
    """Refuse a finite Decimal PostgreSQL's numeric cannot hold exactly (asyncpg sends one
    too large as zero), on both backends."""
    if value.is_finite() and (
        value.adjusted() >= NUMERIC_DIGITS or -int(value.as_tuple().exponent) > NUMERIC_SCALE
    ):
        raise DataError(
            "decimal out of range: numeric holds fewer than 131072 digits before the "
            f"point and at most {NUMERIC_SCALE} after it",
            dialect=dialect,
        )


#: asyncpg sends these two instants as PostgreSQL's -infinity/infinity and reads them
#: back as *naive* datetime.min/max, so they are refused on both backends.
_INFINITIES = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def check_datetime(value: datetime, dialect: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DataError(
            "naive datetime: dualdb stores instants and will not guess a time zone; "
            "pass an aware datetime such as datetime.now(timezone.utc)",
            dialect=dialect,
        )
    if value in _INFINITIES:
        raise DataError(
            "datetime out of range: 0001-01-01 00:00 UTC and 9999-12-31 23:59:59.999999 UTC "
            "are PostgreSQL's -infinity/infinity and would come back naive",
            dialect=dialect,
        )


def check_float(value: float, dialect: str) -> None:
    if math.isnan(value):
        raise DataError("NaN cannot be stored (SQLite would store NULL)", dialect=dialect)


# ---------------------------------------------------------------------------- reading
#
# Every decoded row pays for these, so they take the C parts of the standard library
# directly. Each falls back to the standard call for anything but the common form, so
# what they accept and refuse is exactly what ``json.loads`` and ``UUID()`` do.

_c_scanner: Callable[[json.JSONDecoder], Any] | None = getattr(json.scanner, "c_make_scanner", None)
_scan = _c_scanner(json.JSONDecoder()) if _c_scanner is not None else None
_loads = json.loads


def json_scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    """The C scanner ``load_json`` reads with (None where the C part is missing), for
    code that writes ``load_json`` out inline: ``(value, end)``, else a ValueError or a
    StopIteration where ``json.loads`` would refuse or needs to say why."""
    return _scan


def load_json(text: str) -> Any:
    """``json.loads(text)`` without its Python frames for a compact document (as dualdb
    writes it): the C scanner, when it reads the whole text."""
    if _scan is not None:
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError):
            pass  # json.loads says why (or reads what leading whitespace hid)
        else:
            if end == len(text):
                return value
    return _loads(text)


_new_object = object.__new__
_set_slot = object.__setattr__
_UNKNOWN = SafeUUID.unknown


def uuid_from_text(text: str) -> UUID:
    """``UUID(text)``, made from its 32 hex digits directly for the usual 36-character
    form (``UUID.__init__`` handles every form of every argument in Python)."""
    digits = text.replace("-", "")
    if len(digits) == 32 and len(text) == 36:
        value = _new_object(UUID)
        _set_slot(value, "int", int(digits, 16))  # as permissive as UUID() itself
        _set_slot(value, "is_safe", _UNKNOWN)
        return value
    return UUID(text)
