"""Login sessions: issue a token, validate it, slide its expiry, revoke, purge.

The raw token exists only in :class:`IssuedSession` returned by :func:`create_session`;
the table stores its SHA-256. :func:`validate_session` always does the same work — hash,
then one indexed lookup that requires "known, not expired, user not deleted" in SQL — so
an unknown, an expired and a revoked token are indistinguishable by result and by path.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from typing import Final
from uuid import UUID

from dualdb import Param, Queryable, Replica
from dualdb.auth._batches import DEFAULT_BATCH_SIZE, purge_query, run_purge
from dualdb.auth._clock import Clock, now_from, utc_now
from dualdb.auth._schema import (
    PREFIXED_USER_COLUMNS,
    SESSION_COLUMNS,
    from_,
    into,
    session_from,
    update,
    user_from,
    user_sessions,
    users,
)
from dualdb.auth.crypto import hash_token, new_token
from dualdb.auth.ids import uuid7
from dualdb.auth.models import IssuedSession, Session, ValidSession

__all__ = [
    "MAX_USER_AGENT_LENGTH",
    "create_session",
    "purge_expired_sessions",
    "revoke_all_sessions",
    "revoke_session",
    "validate_session",
]

#: User agents are client-controlled: longer ones are cut to bound the row size.
MAX_USER_AGENT_LENGTH: Final = 1024
_NIL = UUID(int=0)

_INSERT = (
    into(user_sessions)
    .columns(
        user_sessions.id,
        user_sessions.user_id,
        user_sessions.token_hash,
        user_sessions.created_at,
        user_sessions.expires_at,
        user_sessions.last_seen_at,
        user_sessions.ip_address,
        user_sessions.user_agent,
    )
    .insert(
        Param("id"),
        Param("user_id"),
        Param("token_hash"),
        Param("now"),
        Param("expires_at"),
        Param("now"),
        Param("ip"),
        Param("user_agent"),
    )
    .returning(*SESSION_COLUMNS)
)
_VALIDATE = (
    from_(user_sessions)
    .join(users)
    .on(users.id == user_sessions.user_id)
    .select(*SESSION_COLUMNS, *PREFIXED_USER_COLUMNS)
    .where(user_sessions.token_hash == Param("token_hash"))
    .where(user_sessions.expires_at > Param("now"))
    .where(users.deleted_at.isnull())
)
# Conditional on last_seen_at, so concurrent requests of one session write once, and on
# expires_at, so a session that expired meanwhile is not revived.
_TOUCH = (
    update(user_sessions)
    .set(user_sessions.last_seen_at, Param("now"))
    .set(user_sessions.expires_at, Param("expires_at"))
    .where(user_sessions.id == Param("id"))
    .where(user_sessions.last_seen_at <= Param("stale_before"))
    .where(user_sessions.expires_at > Param("now"))
)
_REVOKE = from_(user_sessions).delete().where(user_sessions.token_hash == Param("token_hash"))
_REVOKE_ALL = (
    from_(user_sessions)
    .delete()
    .where(user_sessions.user_id == Param("user_id"))
    .where(user_sessions.id != Param("keep"))
)
_PURGE = purge_query(user_sessions)


def _clean_user_agent(user_agent: str | None) -> str | None:
    if user_agent is None:
        return None
    # NUL cannot be stored by PostgreSQL (nor, for parity, by dualdb on SQLite); a client
    # sending one should not make its own sign-in fail.
    return user_agent[:MAX_USER_AGENT_LENGTH].replace("\x00", "\ufffd")


async def create_session(
    db: Queryable,
    user_id: UUID,
    ttl: timedelta,
    ip: str | IPv4Address | IPv6Address | None = None,
    user_agent: str | None = None,
    *,
    clock: Clock = utc_now,
) -> IssuedSession:
    """Start a session for ``user_id`` that expires ``ttl`` from now.

    Returns the raw token (256 random bits, URL-safe; give it to the client, it is not
    stored) and the session. ``ip`` is stored as text; ``user_agent`` as given, except
    that it is cut to :data:`MAX_USER_AGENT_LENGTH` characters and a NUL becomes U+FFFD.
    A ``user_id`` that does not exist raises :class:`dualdb.ForeignKeyViolation`.
    """
    if ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    now = now_from(clock)
    token = new_token()
    row = await db.fetch_one(
        _INSERT,
        id=uuid7(),
        user_id=user_id,
        token_hash=hash_token(token),
        now=now,
        expires_at=now + ttl,
        ip=None if ip is None else str(ip),
        user_agent=_clean_user_agent(user_agent),
    )
    assert row is not None  # INSERT … RETURNING returns the row it inserted
    return IssuedSession(token, session_from(row))


async def validate_session(
    db: Queryable,
    token: str,
    *,
    sliding: timedelta | None = None,
    refresh_interval: timedelta | None = timedelta(minutes=5),
    max_lifetime: timedelta | None = None,
    clock: Clock = utc_now,
) -> ValidSession | None:
    """The session and its user if ``token`` is known, unexpired and the user not deleted.

    Otherwise None, with the same single indexed query whatever the reason.

    At most once per ``refresh_interval`` per session (not on every request), a valid
    session is written back: ``last_seen_at`` becomes now and, with ``sliding``, the
    expiry moves to ``now + sliding`` (never earlier than it was, and never past
    ``created_at + max_lifetime`` when that is given). ``refresh_interval=None`` makes
    validation read-only, e.g. inside a read-only transaction. Given ``db.replica``, the
    session is read there and a write-back due goes to the primary.
    """
    now = now_from(clock)
    row = await db.fetch_one(_VALIDATE, token_hash=hash_token(token), now=now)
    if row is None:
        return None
    session = session_from(row)
    user = user_from(row, len(SESSION_COLUMNS))
    if refresh_interval is not None and session.last_seen_at <= now - refresh_interval:
        writer = db.primary if isinstance(db, Replica) else db
        session = await _touch(writer, session, now, refresh_interval, sliding, max_lifetime)
    return ValidSession(session, user)


async def _touch(
    db: Queryable,
    session: Session,
    now: datetime,
    refresh_interval: timedelta,
    sliding: timedelta | None,
    max_lifetime: timedelta | None,
) -> Session:
    expires_at = session.expires_at
    if sliding is not None:
        target = now + sliding
        if max_lifetime is not None:
            target = min(target, session.created_at + max_lifetime)
        expires_at = max(expires_at, target)  # sliding never shortens a session
    written = await db.execute(
        _TOUCH,
        id=session.id,
        now=now,
        expires_at=expires_at,
        stale_before=now - refresh_interval,
    )
    # Not written: a concurrent request touched it first; what we read is still valid.
    return replace(session, last_seen_at=now, expires_at=expires_at) if written else session


async def revoke_session(db: Queryable, token: str) -> bool:
    """End the session of this token (sign out). False if it did not exist."""
    return await db.execute(_REVOKE, token_hash=hash_token(token)) > 0


async def revoke_all_sessions(
    db: Queryable, user_id: UUID, *, except_session_id: UUID | None = None
) -> int:
    """End every session of a user, e.g. after a password change; how many ended.

    ``except_session_id`` keeps one (typically the session making the change).
    """
    keep = _NIL if except_session_id is None else except_session_id
    return await db.execute(_REVOKE_ALL, user_id=user_id, keep=keep)


async def purge_expired_sessions(
    db: Queryable, *, batch_size: int = DEFAULT_BATCH_SIZE, clock: Clock = utc_now
) -> int:
    """Delete expired sessions in batches of ``batch_size``; the number deleted.

    Expired sessions are already refused by :func:`validate_session`; this only keeps
    the table small. Run it periodically (a cron job, a background task).
    """
    return await run_purge(db, _PURGE, now_from(clock), batch_size)
