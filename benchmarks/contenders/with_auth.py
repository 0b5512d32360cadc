"""The auth layer's ``validate_session(db, token)``, and the same work on the raw driver.

Runs only when ``dualdb.auth`` imports and has its session API. The schema comes from
the repository's ``migrations/`` (applied with yoyo, as ``yoyo apply`` would); one user
and a set of sessions are created with ``dualdb.auth`` itself and removed afterwards.

The raw contender does what ``validate_session`` does, by hand: hash the token, run the
same indexed join, build the same :class:`~dualdb.auth.ValidSession` (on SQLite, turning
stored text into UUIDs and aware datetimes as dualdb does).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg

import dualdb
from benchmarks.contenders.base import Contender, Target, Unavailable
from benchmarks.contenders.raw_aiosqlite import PRAGMAS
from benchmarks.contenders.raw_asyncpg import no_reset
from benchmarks.contenders.with_dualdb import DualdbContender

try:
    from dualdb import auth
except ImportError as exc:
    raise Unavailable(f"dualdb.auth cannot be imported ({exc})") from None

if not all(hasattr(auth, name) for name in ("create_user", "create_session", "validate_session")):
    raise Unavailable("dualdb.auth has no create_user/create_session/validate_session")

__all__ = ["AuthDualdb", "AuthFixture", "AuthRaw", "prepare_auth", "remove_auth"]

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SESSIONS_TTL = timedelta(days=1)

_COLUMNS = (
    "s.id, s.user_id, s.created_at, s.expires_at, s.last_seen_at, s.ip_address, "
    "s.user_agent, u.id, u.email, u.name, u.role, u.created_at, u.updated_at, "
    "u.deleted_at, u.webauthn_id, u.webauthn_public_key, u.webauthn_counter"
)
_VALIDATE = (
    f"SELECT {_COLUMNS} FROM user_sessions s JOIN users u ON u.id = s.user_id "
    "WHERE s.token_hash = {0} AND s.expires_at > {1} AND u.deleted_at IS NULL"
)


@dataclass(frozen=True, slots=True)
class AuthFixture:
    """The user and the session tokens the workload validates."""

    user_id: uuid.UUID
    tokens: list[str]


def _apply_migrations(target: Target) -> None:
    from yoyo import get_backend, read_migrations

    backend = get_backend(target.dualdb_url)
    try:
        with backend.lock():
            backend.apply_migrations(backend.to_apply(read_migrations(str(MIGRATIONS))))
    finally:
        backend.connection.close()


async def prepare_auth(target: Target, db: dualdb.Database, sessions: int) -> AuthFixture:
    """Apply the migrations, then create one user with ``sessions`` sessions."""
    if not MIGRATIONS.is_dir():
        raise Unavailable(f"no migrations folder at {MIGRATIONS}")
    try:
        _apply_migrations(target)
    except Exception as exc:
        raise Unavailable(f"applying migrations/ failed: {type(exc).__name__}: {exc}") from exc
    user = await auth.create_user(db, f"bench-{uuid.uuid4().hex}@example.com", name="Bench")
    tokens = []
    async with db.transaction() as tx:
        for _ in range(sessions):
            issued = await auth.create_session(tx, user.id, SESSIONS_TTL, user_agent="bench")
            tokens.append(issued.token)
    return AuthFixture(user.id, tokens)


async def remove_auth(db: dualdb.Database, fixture: AuthFixture) -> None:
    """Delete the workload's user (its sessions go with it)."""
    await auth.delete_user(db, fixture.user_id)


class AuthDualdb(DualdbContender):
    key = "dualdb"
    label = "dualdb (prebuilt)"
    workloads = frozenset({"auth_validate"})

    def describe(self) -> str:
        return "dualdb.auth.validate_session"

    async def auth_validate(self, token: str) -> Any:
        return await auth.validate_session(self._db, token)


def _to_uuid(value: Any) -> Any:
    return None if value is None else uuid.UUID(value)


def _to_instant(value: Any) -> Any:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


def _valid_session(
    row: Any, uuid_of: Callable[[Any], Any], at: Callable[[Any], Any]
) -> auth.ValidSession:
    key = row[15]
    session = auth.Session(
        id=uuid_of(row[0]),
        user_id=uuid_of(row[1]),
        created_at=at(row[2]),
        expires_at=at(row[3]),
        last_seen_at=at(row[4]),
        ip_address=row[5],
        user_agent=row[6],
    )
    user = auth.User(
        id=uuid_of(row[7]),
        email=row[8],
        name=row[9],
        role=row[10],
        created_at=at(row[11]),
        updated_at=at(row[12]),
        deleted_at=at(row[13]),
        webauthn_id=row[14],
        webauthn_public_key=None if key is None else bytes(key),
        webauthn_counter=row[16],
    )
    return auth.ValidSession(session, user)


def _identity(value: Any) -> Any:
    return value


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthRaw(Contender):
    """The same query and result objects on the raw driver (no sliding refresh needed:
    the sessions were created just before, so ``validate_session`` only reads too)."""

    key = "raw"
    label = "raw driver, same query"
    workloads = frozenset({"auth_validate"})

    _pool: asyncpg.Pool | None = None
    _conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if self.target.backend == "postgresql":
            self._pool = await asyncpg.create_pool(
                self.target.location, min_size=1, max_size=5, reset=no_reset
            )
            self._sql = _VALIDATE.format("$1", "$2")
        else:
            self._conn = await aiosqlite.connect(self.target.location, isolation_level=None)
            for pragma in PRAGMAS:
                await self._conn.execute(pragma)
            self._sql = _VALIDATE.format("?", "?")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._conn is not None:
            await self._conn.close()

    def describe(self) -> str:
        return "hashlib + one join + the same dataclasses"

    async def auth_validate(self, token: str) -> Any:
        now = datetime.now(UTC)
        if self._pool is not None:
            row = await self._pool.fetchrow(self._sql, _hash(token), now)
            return None if row is None else _valid_session(row, _identity, _identity)
        assert self._conn is not None
        stored_now = now.isoformat(" ", "microseconds")  # dualdb's SQLite timestamp text
        rows = list(await self._conn.execute_fetchall(self._sql, (_hash(token), stored_now)))
        return _valid_session(rows[0], _to_uuid, _to_instant) if rows else None
