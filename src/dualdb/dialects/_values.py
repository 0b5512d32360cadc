"""Value checks and JSON text shared by both dialects.

Both backends must accept and reject the same values, so the rules live here once:
a naive datetime is refused (dualdb does not guess a time zone), NaN is refused
(SQLite would store NULL), and JSON is written compactly without NaN or ``\\u0000``
(PostgreSQL's jsonb cannot hold either).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from dualdb.errors import DataError
from dualdb.sql.terms import Json

__all__ = ["check_datetime", "check_float", "dump_json"]

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def dump_json(value: Any, dialect: str) -> str:
    """JSON text for a value bound to a JSON column."""
    if isinstance(value, Json):
        value = value.value
    try:
        text = _encoder.encode(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"value cannot be stored as JSON: {exc}", dialect=dialect) from exc
    if "\\u0000" in text:
        raise DataError("JSON text cannot contain the NUL character (\\u0000)", dialect=dialect)
    return text


def check_datetime(value: datetime, dialect: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DataError(
            "naive datetime: dualdb stores instants and will not guess a time zone; "
            "pass an aware datetime such as datetime.now(timezone.utc)",
            dialect=dialect,
        )


def check_float(value: float, dialect: str) -> None:
    if math.isnan(value):
        raise DataError("NaN cannot be stored (SQLite would store NULL)", dialect=dialect)
