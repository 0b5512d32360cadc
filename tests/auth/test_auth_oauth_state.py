"""OAuth sign-in state: single use, expiry, browser binding, concurrency — both backends."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from auth_helpers import FakeClock

import dualdb
from dualdb import auth

REDIRECT = "https://app.example.com/oauth/callback"
_states = dualdb.Table("oauth_sessions")
COUNT = dualdb.Query.from_(_states).select(dualdb.fn.Count("*"))
BINDINGS = dualdb.Query.from_(_states).select(_states.browser_binding)


@pytest.fixture
def binding() -> str:
    return auth.new_token()


async def test_create_state_returns_a_random_256_bit_state(
    migrated_db: dualdb.Database, binding: str
) -> None:
    states = {
        await auth.create_state(migrated_db, REDIRECT, browser_binding=binding) for _ in range(5)
    }
    assert len(states) == 5
    assert all(len(state) == 43 for state in states)


async def test_consume_returns_what_create_stored(
    migrated_db: dualdb.Database, binding: str, clock: FakeClock
) -> None:
    state = await auth.create_state(
        migrated_db, REDIRECT, "pkce-verifier", browser_binding=binding, clock=clock
    )
    consumed = await auth.consume_state(migrated_db, state, binding, clock=clock)
    assert consumed == auth.OAuthState(
        state=state,
        redirect_uri=REDIRECT,
        code_verifier="pkce-verifier",
        created_at=clock.now,
        expires_at=clock.now + timedelta(minutes=10),
    )


async def test_second_consume_gets_nothing(migrated_db: dualdb.Database, binding: str) -> None:
    state = await auth.create_state(migrated_db, REDIRECT, browser_binding=binding)
    assert await auth.consume_state(migrated_db, state, binding) is not None
    assert await auth.consume_state(migrated_db, state, binding) is None


async def test_consume_deletes_the_state(migrated_db: dualdb.Database, binding: str) -> None:
    state = await auth.create_state(migrated_db, REDIRECT, browser_binding=binding)
    await auth.consume_state(migrated_db, state, binding)
    assert await migrated_db.fetch_val(COUNT) == 0


async def test_default_expiry_is_ten_minutes(
    migrated_db: dualdb.Database, binding: str, clock: FakeClock
) -> None:
    state = await auth.create_state(migrated_db, REDIRECT, browser_binding=binding, clock=clock)
    clock.advance(timedelta(minutes=10))
    assert await auth.consume_state(migrated_db, state, binding, clock=clock) is None


async def test_consume_just_before_expiry_succeeds(
    migrated_db: dualdb.Database, binding: str, clock: FakeClock
) -> None:
    state = await auth.create_state(
        migrated_db, REDIRECT, browser_binding=binding, ttl=timedelta(minutes=2), clock=clock
    )
    clock.advance(timedelta(minutes=2) - timedelta(microseconds=1))
    assert await auth.consume_state(migrated_db, state, binding, clock=clock) is not None


async def test_consume_from_another_browser_gets_nothing(
    migrated_db: dualdb.Database, binding: str
) -> None:
    state = await auth.create_state(migrated_db, REDIRECT, browser_binding=binding)
    assert await auth.consume_state(migrated_db, state, auth.new_token()) is None


async def test_consume_from_another_browser_leaves_the_state_for_its_own(
    migrated_db: dualdb.Database, binding: str
) -> None:
    state = await auth.create_state(migrated_db, REDIRECT, browser_binding=binding)
    await auth.consume_state(migrated_db, state, auth.new_token())
    assert await auth.consume_state(migrated_db, state, binding) is not None


@pytest.mark.parametrize("cookie", [None, "", "short"])
async def test_consume_without_a_usable_cookie_gets_nothing(
    migrated_db: dualdb.Database, binding: str, cookie: str | None
) -> None:
    state = await auth.create_state(migrated_db, REDIRECT, browser_binding=binding)
    assert await auth.consume_state(migrated_db, state, cookie) is None


@pytest.mark.parametrize("cookie", ["", "short"])
async def test_create_state_refuses_an_empty_or_short_binding(
    migrated_db: dualdb.Database, cookie: str
) -> None:
    with pytest.raises(ValueError, match="browser_binding"):
        await auth.create_state(migrated_db, REDIRECT, browser_binding=cookie)


async def test_only_the_hash_of_the_binding_is_stored(
    migrated_db: dualdb.Database, binding: str
) -> None:
    await auth.create_state(migrated_db, REDIRECT, browser_binding=binding)
    assert await migrated_db.fetch_val(BINDINGS) == hashlib.sha256(binding.encode()).hexdigest()


async def test_unknown_state_gets_nothing(migrated_db: dualdb.Database, binding: str) -> None:
    assert await auth.consume_state(migrated_db, auth.new_token(), binding) is None


async def test_concurrent_consumes_exactly_one_wins(
    migrated_db: dualdb.Database, binding: str
) -> None:
    state = await auth.create_state(migrated_db, REDIRECT, "v", browser_binding=binding)
    # Each call takes its own pooled connection: real concurrent statements.
    results = await asyncio.gather(
        auth.consume_state(migrated_db, state, binding),
        auth.consume_state(migrated_db, state, binding),
    )
    assert sorted(r is None for r in results) == [False, True]


async def test_many_concurrent_consumes_exactly_one_wins(
    migrated_db: dualdb.Database, binding: str
) -> None:
    for _ in range(5):
        state = await auth.create_state(migrated_db, REDIRECT, browser_binding=binding)
        results = await asyncio.gather(
            *(auth.consume_state(migrated_db, state, binding) for _ in range(5))
        )
        assert sum(r is not None for r in results) == 1


async def test_purge_expired_states_removes_only_expired_ones(
    migrated_db: dualdb.Database, binding: str, clock: FakeClock
) -> None:
    for _ in range(5):
        await auth.create_state(migrated_db, REDIRECT, browser_binding=binding, clock=clock)
    live = await auth.create_state(
        migrated_db, REDIRECT, browser_binding=binding, ttl=timedelta(hours=1), clock=clock
    )
    clock.advance(timedelta(minutes=30))
    assert await auth.purge_expired_states(migrated_db, batch_size=2, clock=clock) == 5
    assert await auth.consume_state(migrated_db, live, binding, clock=clock) is not None


async def test_code_verifier_is_not_in_the_state_repr(
    migrated_db: dualdb.Database, binding: str
) -> None:
    state = await auth.create_state(
        migrated_db, REDIRECT, "secret-verifier", browser_binding=binding
    )
    consumed = await auth.consume_state(migrated_db, state, binding)
    assert "secret-verifier" not in repr(consumed)
