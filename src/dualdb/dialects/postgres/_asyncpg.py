"""The private parts of asyncpg that dualdb uses, in one place.

Each is what asyncpg's own pool or ``Connection.execute`` does internally; none has a
public equivalent. ``pyproject.toml`` pins asyncpg to the minor version they were checked
against, and ``tests/dialects/test_private_apis.py`` is the canary that fails first when
an upgrade moves one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, cast

import asyncpg

__all__ = ["drop_statement_cache", "execute", "is_cancelling", "wait_for_cancellation"]


def execute(con: asyncpg.Connection, sql: str, args: Sequence[Any]) -> Awaitable[Any]:
    """Run one statement through the extended protocol and return ``(_, status, _)``.

    ``Connection.execute`` takes the simple protocol when there are no arguments, which
    also runs stacked statements ("…; DROP …"); this is what it calls when there are.
    """
    return cast(Any, con)._execute(sql, args, 0, None, return_status=True)  # type: ignore[no-any-return]


def drop_statement_cache(con: asyncpg.Connection) -> None:
    """Forget the connection's prepared statements (concurrent DDL invalidated some)."""
    cast(Any, con)._drop_local_statement_cache()


def is_cancelling(con: asyncpg.Connection) -> bool:
    """Whether a cancel request for the connection's last call is still unanswered."""
    return bool(cast(Any, con)._protocol._is_cancelling())


async def wait_for_cancellation(con: asyncpg.Connection) -> None:
    """Wait until the server has answered the cancelled call; the connection is idle then."""
    await cast(Any, con)._protocol._wait_for_cancellation()
