"""Page arithmetic and opaque keyset cursors, shared by the list functions.

A cursor is the last row's id plus the sort direction, base64url-encoded. It is opaque
so clients do not build their own, but not secret: it only says "continue after this
id", which a client may ask for anyway. The direction is inside so that a cursor from a
newest-first listing is not silently reused for an oldest-first one.
"""

from __future__ import annotations

import base64
import binascii
from uuid import UUID

from dualdb.errors import InvalidCursor

__all__ = ["MAX_PAGE_SIZE", "check_page", "check_page_size", "decode_cursor", "encode_cursor"]

#: Largest page size the list functions accept: a page is one bounded query.
MAX_PAGE_SIZE = 1000

_VERSION = 1
_ASCENDING, _DESCENDING = 0x01, 0x02


def check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {page_size}")


def check_page(page: int) -> None:
    if page < 1:
        raise ValueError(f"page numbers start at 1, got {page}")


def encode_cursor(last_id: UUID, *, descending: bool) -> str:
    """The cursor that continues after ``last_id`` in the given direction."""
    flag = _DESCENDING if descending else _ASCENDING
    raw = bytes((_VERSION, flag)) + last_id.bytes
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *, descending: bool) -> UUID:
    """The id a cursor continues after; :class:`InvalidCursor` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidCursor("malformed pagination cursor") from None
    if len(raw) != 18 or raw[0] != _VERSION or raw[1] not in (_ASCENDING, _DESCENDING):
        raise InvalidCursor("malformed pagination cursor")
    if (raw[1] == _DESCENDING) != descending:
        raise InvalidCursor("this cursor belongs to a listing in the other direction")
    return UUID(bytes=raw[2:])
