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

from typing import Any, cast

from dualdb import Param, Query, Record, Table
from dualdb.auth.models import Session, User

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

USER_COLUMNS = (
    users.id,
    users.email,
    users.name,
    users.role,
    users.created_at,
    users.updated_at,
    users.deleted_at,
    users.webauthn_id,
    users.webauthn_public_key,
    users.webauthn_counter,
)

SESSION_COLUMNS = (
    user_sessions.id,
    user_sessions.user_id,
    user_sessions.created_at,
    user_sessions.expires_at,
    user_sessions.last_seen_at,
    user_sessions.ip_address,
    user_sessions.user_agent,
)

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


def user_from(row: Record, prefix: str = "") -> User:
    """A :class:`User` from a row holding :data:`USER_COLUMNS` (optionally prefixed)."""
    key = prefix.__add__
    public_key = row[key("webauthn_public_key")]
    return User(
        id=row[key("id")],
        email=row[key("email")],
        name=row[key("name")],
        role=row[key("role")],
        created_at=row[key("created_at")],
        updated_at=row[key("updated_at")],
        deleted_at=row[key("deleted_at")],
        webauthn_id=row[key("webauthn_id")],
        # asyncpg returns bytea as bytes already; this also copies a memoryview/bytearray.
        webauthn_public_key=None if public_key is None else bytes(public_key),
        webauthn_counter=row[key("webauthn_counter")],
    )


def session_from(row: Record) -> Session:
    """A :class:`Session` from a row holding :data:`SESSION_COLUMNS`."""
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_seen_at=row["last_seen_at"],
        ip_address=row["ip_address"],
        user_agent=row["user_agent"],
    )
