"""The retention job: batched deletes of expired sessions and OAuth states, archiving,
and two jobs plus logins at once, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

import dualdb
from dualdb import auth

HOUR = timedelta(hours=1)
SESSIONS_ARCHIVE = """CREATE TABLE user_sessions_archive (
    id UUID PRIMARY KEY NOT NULL, user_id UUID NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL, last_seen_at TIMESTAMPTZ NOT NULL, ip_address TEXT,
    user_agent TEXT, archived_at TIMESTAMPTZ NOT NULL)"""
STATES_ARCHIVE = """CREATE TABLE oauth_states_archive (
    id UUID PRIMARY KEY NOT NULL, state TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL)"""


def _past() -> datetime:
    return datetime.now(UTC) - 3 * HOUR


async def _ids(db: dualdb.Database, table: str) -> list[UUID]:
    source = dualdb.Table(table)
    rows = await db.fetch_all(dualdb.Query.from_(source).select(source.id))
    return [row["id"] for row in rows]


async def _sessions(db: dualdb.Database, user: auth.User, count: int, *, live: bool) -> set[UUID]:
    made = set()
    for _ in range(count):
        if live:
            issued = await auth.create_session(db, user.id, HOUR)
        else:
            issued = await auth.create_session(db, user.id, HOUR, clock=_past)
        made.add(issued.session.id)
    return made


async def test_expired_rows_go_in_batches_and_live_ones_stay(
    migrated_db: dualdb.Database,
) -> None:
    user = await auth.create_user(migrated_db, "ada@example.com")
    expired = await _sessions(migrated_db, user, 25, live=False)
    live = await _sessions(migrated_db, user, 5, live=True)
    for _ in range(3):
        await auth.create_state(
            migrated_db, "https://a.example/cb", browser_binding="b" * 32, clock=_past
        )
    await auth.create_state(migrated_db, "https://a.example/cb", browser_binding="b" * 32)
    report = await auth.run_retention(migrated_db, batch_size=10)
    sessions, states = report.tables
    assert (sessions.table, sessions.deleted, sessions.batches) == ("user_sessions", 25, 3)
    assert (states.table, states.deleted, states.archive) == ("oauth_sessions", 3, None)
    assert report.deleted == 28
    assert set(await _ids(migrated_db, "user_sessions")) == live
    assert not expired & set(await _ids(migrated_db, "user_sessions"))
    assert len(await _ids(migrated_db, "oauth_sessions")) == 1


async def test_archiving_moves_exactly_the_expired_rows_without_secrets(
    migrated_db: dualdb.Database,
) -> None:
    await migrated_db.execute(dualdb.raw(SESSIONS_ARCHIVE))
    await migrated_db.execute(dualdb.raw(STATES_ARCHIVE))
    user = await auth.create_user(migrated_db, "ada@example.com")
    expired = await _sessions(migrated_db, user, 7, live=False)
    live = await _sessions(migrated_db, user, 2, live=True)
    old = await auth.create_state(
        migrated_db, "https://a.example/cb", "verifier", browser_binding="b" * 32, clock=_past
    )
    report = await auth.run_retention(
        migrated_db,
        batch_size=3,
        archive_sessions="user_sessions_archive",
        archive_states="oauth_states_archive",
    )
    assert [(t.deleted, t.archive) for t in report.tables] == [
        (7, "user_sessions_archive"),
        (1, "oauth_states_archive"),
    ]
    assert set(await _ids(migrated_db, "user_sessions_archive")) == expired
    assert set(await _ids(migrated_db, "user_sessions")) == live
    archive = dualdb.Table("oauth_states_archive")
    row = await migrated_db.fetch_one(dualdb.Query.from_(archive).select("*"))
    assert (
        row is not None
        and row["state"] == old
        and "code_verifier" not in row
        and row["archived_at"] is not None
    )


async def test_two_jobs_and_logins_at_once_lose_no_live_session_and_archive_each_row_once(
    migrated_db: dualdb.Database,
) -> None:
    await migrated_db.execute(dualdb.raw(SESSIONS_ARCHIVE))
    user = await auth.create_user(migrated_db, "ada@example.com")
    expired = await _sessions(migrated_db, user, 60, live=False)

    async def job() -> int:
        report = await auth.run_retention(
            migrated_db, batch_size=7, archive_sessions="user_sessions_archive"
        )
        return report.tables[0].deleted

    results = await asyncio.gather(job(), job(), _sessions(migrated_db, user, 20, live=True))
    first, second, live = results
    assert first + second <= 60  # each row deleted (and archived) by one job only
    await job()  # a job that stopped early (a short batch) leaves the rest to the next run
    archived = await _ids(migrated_db, "user_sessions_archive")
    assert len(archived) == len(set(archived)) == 60
    assert set(archived) == expired
    assert set(await _ids(migrated_db, "user_sessions")) == live


async def test_a_bad_archive_name_or_batch_size_is_a_configuration_error(
    migrated_db: dualdb.Database,
) -> None:
    with pytest.raises(dualdb.ConfigurationError, match="plain identifiers"):
        await auth.run_retention(migrated_db, archive_sessions='a"; DROP TABLE users; --')
    with pytest.raises(dualdb.ConfigurationError, match="batch_size"):
        await auth.run_retention(migrated_db, batch_size=0)
