"""Values between Python and asyncpg.

asyncpg already speaks Python types (UUID, aware datetimes, Decimal, bytes, bool), so
encoding is the checks both backends share, plus JSON codecs. Rows are asyncpg's own C
``Record``, which has the row interface dualdb promises at no cost per row; it is
registered as a :class:`dualdb.Record` here, so that SQLite-only use never imports asyncpg.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from dualdb import errors
from dualdb.dialects._values import (
    check_datetime,
    check_decimal,
    check_float,
    check_json_text,
    dump_json,
    load_json,
)
from dualdb.dialects.postgres.dialect import NAME
from dualdb.records import Record

__all__ = ["Refused", "check_args", "register_codecs"]

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
