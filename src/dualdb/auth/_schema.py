"""The auth tables as PyPika objects, the column lists every query selects, row → model.

Column names are those of ``migrations/`` (0001 to 0004). Queries select explicit
columns, never ``*``, so a column added later by an application migration changes no
result shape.

The small helpers below exist for ``mypy --strict`` only. PyPika's annotations bind
each builder method's return type to the class that defines it, so a chain started on
the PostgreSQL builder is typed as the base builder after one call, where
``on_conflict``/``returning`` resolve (through ``__getattr__``) to a ``Field``. The
helpers start chains typed ``Any``; the queries are checked where it counts, by running
them on both backends in the tests. ``text_param`` is a :class:`~dualdb.Param` where
PyPika's annotation wants a ``str`` (LIKE).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, cast

from dualdb import Param, Query, Record, Table
from dualdb.auth.models import Session, User
from dualdb.errors import ProgrammingError

__all__ = [
    "OAUTH_ACCOUNT_COLUMNS",
    "OAUTH_STATE_COLUMNS",
    "SESSION_COLUMNS",
    "USER_COLUMNS",
    "from_",
    "into",
    "oauth_providers",
    "oauth_sessions",
    "session_from",
    "text_param",
    "update",
    "user_from",
    "user_from_row",
    "user_sessions",
    "users",
]


def into(table: Table) -> Any:
    """``Query.into(table)``."""
    return Query.into(table)


def from_(table: Table) -> Any:
    """``Query.from_(table)``."""
    return Query.from_(table)


def update(table: Table) -> Any:
    """``Query.update(table)``."""
    return Query.update(table)


def text_param(name: str) -> str:
    """A :class:`~dualdb.Param` where PyPika's annotation wants a str (LIKE)."""
    return cast(str, Param(name))


users = Table("users")
user_sessions = Table("user_sessions")
oauth_providers = Table("oauth_providers")
oauth_sessions = Table("oauth_sessions")

# The user and session columns are the model's fields, in the model's order: rows are
# turned into models by position (see ``user_from``), so the two cannot drift apart.
USER_COLUMNS = tuple(users.field(f.name) for f in fields(User))
SESSION_COLUMNS = tuple(user_sessions.field(f.name) for f in fields(Session))

OAUTH_ACCOUNT_COLUMNS = (
    oauth_providers.id,
    oauth_providers.user_id,
    oauth_providers.provider,
    oauth_providers.provider_id,
    oauth_providers.access_token,
    oauth_providers.refresh_token,
    oauth_providers.token_expires_at,
    oauth_providers.scope,
    oauth_providers.created_at,
    oauth_providers.updated_at,
)

OAUTH_STATE_COLUMNS = (
    oauth_sessions.state,
    oauth_sessions.redirect_uri,
    oauth_sessions.code_verifier,
    oauth_sessions.created_at,
    oauth_sessions.expires_at,
)

#: Prefix of the user columns in a sessions ⋈ users row (both tables have id, created_at).
USER_PREFIX = "u_"
PREFIXED_USER_COLUMNS = tuple(c.as_(USER_PREFIX + c.name) for c in USER_COLUMNS)


def user_from(row: Record, start: int = 0) -> User:
    """A :class:`User` from the :data:`USER_COLUMNS` at position ``start`` of ``row``.

    By position, not by name: on SQLite each ``row["name"]`` is a Python call, and the
    seventeen of a session check cost it a tenth of its time.
    """
    (id_, email, name, role, created, updated, deleted, webauthn_id, public_key, counter) = row[
        start : start + _USER_WIDTH
    ]
    return User(
        id_,
        email,
        name,
        role,
        created,
        updated,
        deleted,
        webauthn_id,
        # asyncpg returns bytea as bytes already; this also copies a memoryview/bytearray.
        None if public_key is None else bytes(public_key),
        counter,
    )


def user_from_row(row: Record, start: int = 0) -> User:
    """A :class:`User` from a row of an application's own query on ``users``.

    For a project that adds columns to ``users`` (or joins its own tables): select
    ``*USER_COLUMNS`` first, then what the application needs, and read both from one row —
    one round trip instead of ``get_user`` plus a second query.
    """
    if len(row) < start + _USER_WIDTH:
        raise ProgrammingError(
            f"user_from_row needs the {_USER_WIDTH} columns of dualdb.auth.USER_COLUMNS from "
            f"position {start}; the row has {len(row)} columns (select *USER_COLUMNS first)"
        )
    return user_from(row, start)


def session_from(row: Record) -> Session:
    """A :class:`Session` from a row starting with :data:`SESSION_COLUMNS`."""
    return Session(*row[:_SESSION_WIDTH])


_USER_WIDTH = len(USER_COLUMNS)
_SESSION_WIDTH = len(SESSION_COLUMNS)
