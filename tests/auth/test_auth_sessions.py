"""Login sessions: tokens, validation, expiry with a controlled clock, revocation, purge."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import uuid
from datetime import timedelta

import pytest
from auth_helpers import FakeClock

import dualdb
from dualdb import auth

DAY = timedelta(days=1)
_sessions = dualdb.Table("user_sessions")
STORED_TIMES = dualdb.Query.from_(_sessions).select(_sessions.last_seen_at, _sessions.expires_at)


async def all_text_in(db: dualdb.Queryable, table: str) -> str:
    """Every value of every row of ``table``, as one string (to search for secrets)."""
    rows = await db.fetch_all(dualdb.raw(f"SELECT * FROM {table}"))  # test-only, fixed name
    return " ".join(str(value) for row in rows for value in row)


async def test_create_session_returns_a_256_bit_url_safe_token(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY)
    assert len(issued.token) == 43  # 32 bytes, base64url without padding
    assert issued.token.replace("-", "").replace("_", "").isalnum()


async def test_raw_session_token_is_never_stored(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, "10.0.0.1", "Firefox")
    assert issued.token not in await all_text_in(migrated_db, "user_sessions")


async def test_only_the_sha256_of_the_token_is_stored(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY)
    stored = await migrated_db.fetch_val(dualdb.raw("SELECT token_hash FROM user_sessions"))
    assert stored == hashlib.sha256(issued.token.encode()).hexdigest()


async def test_token_is_not_in_the_session_repr(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY)
    assert issued.token not in repr(issued)


async def test_create_session_records_times_ip_and_user_agent(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(
        migrated_db, user.id, DAY, ipaddress.ip_address("2001:db8::1"), "Firefox", clock=clock
    )
    session = issued.session
    assert (session.created_at, session.last_seen_at, session.expires_at) == (
        clock.now,
        clock.now,
        clock.now + DAY,
    )
    assert (session.ip_address, session.user_agent, session.user_id) == (
        "2001:db8::1",
        "Firefox",
        user.id,
    )


async def test_overlong_user_agent_is_cut_and_nul_replaced(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    agent = "a\x00b" + "x" * 5000
    issued = await auth.create_session(migrated_db, user.id, DAY, user_agent=agent)
    stored = issued.session.user_agent
    assert stored is not None and len(stored) == 1024 and stored.startswith("a\ufffdbx")


async def test_non_positive_ttl_raises_value_error(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await auth.create_session(migrated_db, user.id, timedelta(0))


async def test_session_for_unknown_user_is_a_foreign_key_violation(
    migrated_db: dualdb.Database,
) -> None:
    with pytest.raises(dualdb.ForeignKeyViolation):
        await auth.create_session(migrated_db, uuid.uuid4(), DAY)


async def test_validate_returns_the_session_and_its_user(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    found = await auth.validate_session(migrated_db, issued.token, clock=clock)
    assert found == auth.ValidSession(issued.session, user)


async def test_validate_unknown_token_is_none(migrated_db: dualdb.Database) -> None:
    assert await auth.validate_session(migrated_db, auth.new_token()) is None


async def test_validate_just_before_expiry_succeeds(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(DAY - timedelta(microseconds=1))
    assert await auth.validate_session(migrated_db, issued.token, clock=clock) is not None


async def test_validate_at_expiry_is_none(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(DAY)
    assert await auth.validate_session(migrated_db, issued.token, clock=clock) is None


async def test_unknown_and_expired_tokens_run_the_same_single_query(
    migrated_db: dualdb.Database,
    user: auth.User,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(2 * DAY)
    caplog.set_level(logging.INFO, logger="dualdb.query")

    async def statements_for(token: str) -> list[str]:
        caplog.clear()
        assert await auth.validate_session(migrated_db, token, clock=clock) is None
        return [r.getMessage().split(" [")[0] for r in caplog.records if r.name == "dualdb.query"]

    expired = await statements_for(issued.token)
    unknown = await statements_for(auth.new_token())
    assert expired == unknown
    assert len(expired) == 1


async def test_validate_of_a_soft_deleted_users_session_is_none(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY)
    # Mark the user deleted directly, leaving the session row in place.
    await migrated_db.execute(
        dualdb.Query.update(dualdb.Table("users")).set("deleted_at", dualdb.Param("now")),
        now=issued.session.created_at,
    )
    assert await auth.validate_session(migrated_db, issued.token) is None


async def test_sliding_expiry_extends_the_session_on_use(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(timedelta(hours=20))
    found = await auth.validate_session(migrated_db, issued.token, sliding=DAY, clock=clock)
    assert found is not None and found.session.expires_at == clock.now + DAY
    clock.advance(timedelta(hours=20))  # 40 h after creation: alive only thanks to the slide
    assert await auth.validate_session(migrated_db, issued.token, clock=clock) is not None


async def test_sliding_expiry_writes_at_most_once_per_interval(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    interval = timedelta(minutes=5)
    clock.advance(interval)
    first = await auth.validate_session(
        migrated_db, issued.token, sliding=DAY, refresh_interval=interval, clock=clock
    )
    assert first is not None
    written_at = clock.now
    for _ in range(4):  # a busy user: more requests within the interval
        clock.advance(timedelta(minutes=1))
        again = await auth.validate_session(
            migrated_db, issued.token, sliding=DAY, refresh_interval=interval, clock=clock
        )
        assert again is not None and again.session == first.session
    stored = await migrated_db.fetch_one(STORED_TIMES)
    assert stored is not None
    assert (stored["last_seen_at"], stored["expires_at"]) == (written_at, written_at + DAY)


async def test_sliding_expiry_writes_again_after_the_interval(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    interval = timedelta(minutes=5)
    for _ in range(2):
        clock.advance(interval)
        found = await auth.validate_session(
            migrated_db, issued.token, sliding=DAY, refresh_interval=interval, clock=clock
        )
        assert found is not None and found.session.last_seen_at == clock.now


async def test_sliding_never_shortens_a_session(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, 30 * DAY, clock=clock)
    clock.advance(timedelta(hours=1))
    found = await auth.validate_session(migrated_db, issued.token, sliding=DAY, clock=clock)
    assert found is not None and found.session.expires_at == issued.session.expires_at


async def test_max_lifetime_caps_sliding(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    cap = issued.session.created_at + 2 * DAY
    for _ in range(3):
        clock.advance(timedelta(hours=20))
        await auth.validate_session(
            migrated_db, issued.token, sliding=DAY, max_lifetime=2 * DAY, clock=clock
        )
    clock.now = cap
    assert await auth.validate_session(migrated_db, issued.token, clock=clock) is None


async def test_validate_without_refresh_interval_is_read_only(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(timedelta(hours=1))
    async with migrated_db.transaction(readonly=True) as tx:
        found = await auth.validate_session(
            tx, issued.token, sliding=DAY, refresh_interval=None, clock=clock
        )
    assert found is not None and found.session == issued.session


async def test_revoked_session_no_longer_validates(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY)
    assert await auth.revoke_session(migrated_db, issued.token)
    assert await auth.validate_session(migrated_db, issued.token) is None


async def test_revoking_an_unknown_token_reports_false(migrated_db: dualdb.Database) -> None:
    assert not await auth.revoke_session(migrated_db, auth.new_token())


async def test_revoke_all_ends_every_session_of_the_user_only(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    mine = [await auth.create_session(migrated_db, user.id, DAY) for _ in range(3)]
    other_user = await auth.create_user(migrated_db, "grace@example.com")
    theirs = await auth.create_session(migrated_db, other_user.id, DAY)
    assert await auth.revoke_all_sessions(migrated_db, user.id) == 3
    assert [await auth.validate_session(migrated_db, s.token) for s in mine] == [None] * 3
    assert await auth.validate_session(migrated_db, theirs.token) is not None


async def test_revoke_all_can_keep_the_current_session(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    current = await auth.create_session(migrated_db, user.id, DAY)
    other = await auth.create_session(migrated_db, user.id, DAY)
    revoked = await auth.revoke_all_sessions(
        migrated_db, user.id, except_session_id=current.session.id
    )
    assert revoked == 1
    assert await auth.validate_session(migrated_db, current.token) is not None
    assert await auth.validate_session(migrated_db, other.token) is None


async def test_purge_expired_removes_only_expired_sessions_in_batches(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    for _ in range(7):
        await auth.create_session(migrated_db, user.id, timedelta(hours=1), clock=clock)
    alive = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(timedelta(hours=2))
    assert await auth.purge_expired_sessions(migrated_db, batch_size=3, clock=clock) == 7
    assert await migrated_db.fetch_val(dualdb.raw("SELECT count(*) FROM user_sessions")) == 1
    assert await auth.validate_session(migrated_db, alive.token, clock=clock) is not None


async def test_purge_expired_with_nothing_expired_returns_zero(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    assert await auth.purge_expired_sessions(migrated_db, clock=clock) == 0


async def test_purge_rejects_a_non_positive_batch_size(migrated_db: dualdb.Database) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        await auth.purge_expired_sessions(migrated_db, batch_size=0)


async def test_naive_clock_is_refused(migrated_db: dualdb.Database, user: auth.User) -> None:
    with pytest.raises(ValueError, match="naive"):
        await auth.create_session(
            migrated_db, user.id, DAY, clock=lambda: user.created_at.replace(tzinfo=None)
        )


async def test_validate_session_reads_through_db_replica_when_it_writes_nothing(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    # What the scale benchmark and docs/production-topology.md rely on: db.replica is a
    # Queryable, and read-only validation runs on it.
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(timedelta(minutes=10))

    found = await auth.validate_session(
        migrated_db.replica, issued.token, refresh_interval=None, clock=clock
    )

    assert found is not None
    assert found.session.last_seen_at == issued.session.last_seen_at


async def test_validate_session_on_db_replica_writes_a_due_refresh_to_the_primary(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    issued = await auth.create_session(migrated_db, user.id, DAY, clock=clock)
    clock.advance(timedelta(minutes=10))

    found = await auth.validate_session(migrated_db.replica, issued.token, clock=clock)

    assert found is not None
    assert found.session.last_seen_at == clock.now
    again = await auth.validate_session(
        migrated_db, issued.token, refresh_interval=None, clock=clock
    )
    assert again is not None and again.session.last_seen_at == clock.now
