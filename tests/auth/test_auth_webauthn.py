"""WebAuthn credential storage and the signature-counter rule, on both backends."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import dualdb
from dualdb import auth

CREDENTIAL = b"\x8a\x01credential-id\xff"
PUBLIC_KEY = b"\xa5\x01\x02\x03&public-key-cose\x00\xff"


@pytest.fixture
async def enrolled(migrated_db: dualdb.Database, user: auth.User) -> auth.User:
    assert await auth.set_webauthn_credential(migrated_db, user.id, CREDENTIAL, PUBLIC_KEY, 10)
    found = await auth.get_user_by_webauthn_id(migrated_db, CREDENTIAL)
    assert found is not None
    return found


async def test_stored_credential_round_trips(enrolled: auth.User) -> None:
    assert enrolled.webauthn_public_key == PUBLIC_KEY
    assert enrolled.webauthn_counter == 10
    assert enrolled.webauthn_id == "igFjcmVkZW50aWFsLWlk_w"  # base64url, as browsers send it


async def test_credential_is_found_by_its_base64url_text(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    assert await auth.get_user_by_webauthn_id(migrated_db, "igFjcmVkZW50aWFsLWlk_w") == enrolled


async def test_unknown_credential_finds_nobody(migrated_db: dualdb.Database) -> None:
    assert await auth.get_user_by_webauthn_id(migrated_db, b"nope") is None


async def test_higher_counter_is_accepted_and_stored(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    assert await auth.record_webauthn_use(migrated_db, CREDENTIAL, 11)
    found = await auth.get_user_by_webauthn_id(migrated_db, CREDENTIAL)
    assert found is not None and found.webauthn_counter == 11


async def test_replayed_counter_is_rejected(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    assert await auth.record_webauthn_use(migrated_db, CREDENTIAL, 11)
    assert not await auth.record_webauthn_use(migrated_db, CREDENTIAL, 11)


async def test_lower_counter_of_a_cloned_authenticator_is_rejected(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    assert await auth.record_webauthn_use(migrated_db, CREDENTIAL, 50)
    assert not await auth.record_webauthn_use(migrated_db, CREDENTIAL, 20)
    found = await auth.get_user_by_webauthn_id(migrated_db, CREDENTIAL)
    assert found is not None and found.webauthn_counter == 50


async def test_concurrent_uses_with_one_counter_value_accept_exactly_one(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    results = await asyncio.gather(
        *(auth.record_webauthn_use(migrated_db, CREDENTIAL, 12) for _ in range(4))
    )
    assert results.count(True) == 1


async def test_authenticator_without_counter_is_accepted_while_both_are_zero(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.set_webauthn_credential(migrated_db, user.id, CREDENTIAL, PUBLIC_KEY, 0)
    assert await auth.record_webauthn_use(migrated_db, CREDENTIAL, 0)
    assert await auth.record_webauthn_use(migrated_db, CREDENTIAL, 0)


async def test_zero_after_a_nonzero_counter_is_rejected(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    assert not await auth.record_webauthn_use(migrated_db, CREDENTIAL, 0)


async def test_use_of_a_soft_deleted_users_credential_is_rejected(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    await auth.soft_delete_user(migrated_db, enrolled.id)
    assert not await auth.record_webauthn_use(migrated_db, CREDENTIAL, 99)
    assert await auth.get_user_by_webauthn_id(migrated_db, CREDENTIAL) is None


async def test_use_of_an_unknown_credential_is_rejected(migrated_db: dualdb.Database) -> None:
    assert not await auth.record_webauthn_use(migrated_db, b"unknown", 5)


@pytest.mark.parametrize("count", [-1, 2**32])
async def test_counter_outside_32_bits_raises_value_error(
    migrated_db: dualdb.Database, enrolled: auth.User, count: int
) -> None:
    with pytest.raises(ValueError, match="sign_count"):
        await auth.record_webauthn_use(migrated_db, CREDENTIAL, count)


async def test_credential_of_another_user_is_a_unique_violation(
    migrated_db: dualdb.Database, enrolled: auth.User
) -> None:
    other = await auth.create_user(migrated_db, "grace@example.com")
    with pytest.raises(dualdb.UniqueViolation):
        await auth.set_webauthn_credential(migrated_db, other.id, CREDENTIAL, PUBLIC_KEY)


async def test_setting_a_credential_for_an_unknown_user_reports_false(
    migrated_db: dualdb.Database,
) -> None:
    assert not await auth.set_webauthn_credential(migrated_db, uuid.uuid4(), b"c", PUBLIC_KEY)


async def test_public_key_is_not_in_the_user_repr(enrolled: auth.User) -> None:
    assert repr(PUBLIC_KEY) not in repr(enrolled)
