"""Linked OAuth accounts: upsert, lookup, unlink, tokens encrypted at rest."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from auth_helpers import FakeClock, key_entry

import dualdb
from dualdb import auth

_accounts = dualdb.Table("oauth_providers")
STORED_TOKENS = (
    dualdb.Query.from_(_accounts)
    .select(_accounts.provider_id, _accounts.access_token, _accounts.refresh_token)
    .orderby(_accounts.provider_id)
)
SET_ACCESS_TOKEN = (
    dualdb.Query.update(_accounts)
    .set(_accounts.access_token, dualdb.Param("token"))
    .where(_accounts.provider_id == dualdb.Param("provider_id"))
)


async def test_link_account_returns_the_link(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher, clock: FakeClock
) -> None:
    expires = clock.now + timedelta(hours=1)
    account = await auth.link_account(
        migrated_db,
        user.id,
        "github",
        "1234",
        access_token="gho_a",
        refresh_token="ghr_r",
        token_expires_at=expires,
        scope="read:user",
        cipher=cipher,
        clock=clock,
    )
    assert (account.user_id, account.provider, account.provider_id) == (user.id, "github", "1234")
    assert (account.access_token, account.refresh_token) == ("gho_a", "ghr_r")
    assert (account.token_expires_at, account.scope) == (expires, "read:user")
    assert account.created_at == account.updated_at == clock.now


async def test_relinking_updates_tokens_in_place(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher, clock: FakeClock
) -> None:
    first = await auth.link_account(
        migrated_db, user.id, "github", "1", access_token="old", cipher=cipher, clock=clock
    )
    clock.advance(timedelta(hours=1))
    again = await auth.link_account(
        migrated_db,
        user.id,
        "github",
        "1",
        access_token="new",
        scope="s",
        cipher=cipher,
        clock=clock,
    )
    assert (again.id, again.created_at) == (first.id, first.created_at)
    assert (again.access_token, again.scope, again.updated_at) == ("new", "s", clock.now)
    assert len(await auth.list_accounts(migrated_db, user.id, cipher=cipher)) == 1


async def test_relinking_without_a_refresh_token_keeps_the_stored_one(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    await auth.link_account(
        migrated_db, user.id, "google", "1", access_token="a1", refresh_token="r1", cipher=cipher
    )
    again = await auth.link_account(
        migrated_db, user.id, "google", "1", access_token="a2", cipher=cipher
    )
    assert (again.access_token, again.refresh_token) == ("a2", "r1")


async def test_linking_an_identity_of_another_user_raises_and_changes_nothing(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="a", cipher=cipher)
    intruder = await auth.create_user(migrated_db, "mallory@example.com")
    with pytest.raises(auth.AccountLinkedElsewhere):
        await auth.link_account(
            migrated_db, intruder.id, "github", "1", access_token="evil", cipher=cipher
        )
    account = await auth.get_account(migrated_db, "github", "1", cipher=cipher)
    assert account is not None and (account.user_id, account.access_token) == (user.id, "a")


async def test_find_user_by_account_returns_the_linked_user(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1")
    assert await auth.find_user_by_account(migrated_db, "github", "1") == user


async def test_find_user_by_account_distinguishes_providers(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1")
    assert await auth.find_user_by_account(migrated_db, "gitlab", "1") is None


async def test_find_user_by_account_hides_soft_deleted_users(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1")
    await auth.soft_delete_user(migrated_db, user.id)
    assert await auth.find_user_by_account(migrated_db, "github", "1") is None


async def test_list_accounts_orders_by_provider(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    for provider in ("google", "github", "apple"):
        await auth.link_account(migrated_db, user.id, provider, "x", cipher=cipher)
    accounts = await auth.list_accounts(migrated_db, user.id, cipher=cipher)
    assert [a.provider for a in accounts] == ["apple", "github", "google"]


async def test_unlink_removes_only_that_link(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1", cipher=cipher)
    await auth.link_account(migrated_db, user.id, "google", "2", cipher=cipher)
    assert await auth.unlink_account(migrated_db, user.id, "github", "1")
    accounts = await auth.list_accounts(migrated_db, user.id, cipher=cipher)
    assert [a.provider for a in accounts] == ["google"]


async def test_unlink_of_another_users_identity_reports_false(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1")
    assert not await auth.unlink_account(migrated_db, uuid.uuid4(), "github", "1")
    assert await auth.find_user_by_account(migrated_db, "github", "1") == user


async def test_tokens_are_not_stored_in_plaintext_when_a_key_is_set(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    await auth.link_account(
        migrated_db,
        user.id,
        "github",
        "1",
        access_token="gho_A",
        refresh_token="ghr_R",
        cipher=cipher,
    )
    rows = await migrated_db.fetch_all(dualdb.raw("SELECT * FROM oauth_providers"))
    stored = " ".join(str(value) for row in rows for value in row)
    assert "gho_A" not in stored and "ghr_R" not in stored
    row = await migrated_db.fetch_one(STORED_TOKENS)
    assert row is not None
    assert row["access_token"].startswith("v1:k1:") and row["refresh_token"].startswith("v1:k1:")


async def test_tokens_are_stored_as_given_without_a_key(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    plain = auth.TokenCipher()
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="gho_A", cipher=plain)
    row = await migrated_db.fetch_one(STORED_TOKENS)
    assert row is not None and row["access_token"] == "gho_A"


async def test_ciphertext_copied_to_another_row_fails_to_decrypt(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="A", cipher=cipher)
    await auth.link_account(migrated_db, user.id, "github", "2", access_token="B", cipher=cipher)
    rows = await migrated_db.fetch_all(STORED_TOKENS)
    await migrated_db.execute(SET_ACCESS_TOKEN, token=rows[0]["access_token"], provider_id="2")
    with pytest.raises(auth.TokenDecryptionError):
        await auth.get_account(migrated_db, "github", "2", cipher=cipher)


async def test_tokens_written_with_an_old_key_read_after_rotation(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    old = auth.TokenCipher.parse(key_entry("2024", 1))
    rotated = auth.TokenCipher.parse(f"{key_entry('2025', 2)},{key_entry('2024', 1)}")
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="A", cipher=old)
    account = await auth.get_account(migrated_db, "github", "1", cipher=rotated)
    assert account is not None and account.access_token == "A"


async def test_relinking_reencrypts_with_the_current_key(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    old = auth.TokenCipher.parse(key_entry("2024", 1))
    rotated = auth.TokenCipher.parse(f"{key_entry('2025', 2)},{key_entry('2024', 1)}")
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="A", cipher=old)
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="B", cipher=rotated)
    row = await migrated_db.fetch_one(STORED_TOKENS)
    assert row is not None and row["access_token"].startswith("v1:2025:")


async def test_missing_key_raises_token_decryption_error(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="A", cipher=cipher)
    with pytest.raises(auth.TokenDecryptionError, match="k1"):
        await auth.list_accounts(migrated_db, user.id, cipher=auth.TokenCipher())


async def test_plaintext_warning_is_logged_once_on_postgresql_only(
    migrated_db: dualdb.Database, user: auth.User, caplog: pytest.LogCaptureFixture
) -> None:
    plain = auth.TokenCipher()
    caplog.set_level(logging.WARNING, logger="dualdb.auth")
    for provider_id in ("1", "2", "3"):
        await auth.link_account(
            migrated_db, user.id, "github", provider_id, access_token="A", cipher=plain
        )
    warnings = [r for r in caplog.records if r.name == "dualdb.auth"]
    assert len(warnings) == (1 if migrated_db.backend == "postgresql" else 0)
    assert all("DUALDB_TOKEN_KEYS" in r.getMessage() for r in warnings)


async def test_default_cipher_uses_dualdb_token_keys_from_the_environment(
    migrated_db: dualdb.Database, user: auth.User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUALDB_TOKEN_KEYS", key_entry("fromenv", 9))
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="gho_A")
    row = await migrated_db.fetch_one(STORED_TOKENS)
    assert row is not None and row["access_token"].startswith("v1:fromenv:")
    account = await auth.get_account(migrated_db, "github", "1")
    assert account is not None and account.access_token == "gho_A"


async def test_tokens_are_not_in_the_account_repr(
    migrated_db: dualdb.Database, user: auth.User, cipher: auth.TokenCipher
) -> None:
    account = await auth.link_account(
        migrated_db, user.id, "github", "1", access_token="gho_A", refresh_token="R", cipher=cipher
    )
    assert "gho_A" not in repr(account)
