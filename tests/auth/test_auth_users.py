"""Users: create, look up, update, soft delete, restore, hard delete — on both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from auth_helpers import FakeClock

import dualdb
from dualdb import auth


async def test_create_user_stores_the_normalised_email(migrated_db: dualdb.Database) -> None:
    user = await auth.create_user(migrated_db, "  Ada@Example.COM ", name="Ada")
    assert user.email == "ada@example.com"
    assert (user.name, user.role, user.deleted_at, user.webauthn_counter) == (
        "Ada",
        "user",
        None,
        0,
    )


async def test_create_user_assigns_a_uuid7_id(migrated_db: dualdb.Database) -> None:
    user = await auth.create_user(migrated_db, "ada@example.com")
    assert user.id.version == 7


async def test_create_user_sets_both_timestamps_from_the_clock(
    migrated_db: dualdb.Database, clock: FakeClock
) -> None:
    user = await auth.create_user(migrated_db, "ada@example.com", clock=clock)
    assert user.created_at == user.updated_at == clock.now


async def test_get_user_returns_the_stored_user(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    assert await auth.get_user(migrated_db, user.id) == user


async def test_get_user_of_unknown_id_is_none(migrated_db: dualdb.Database) -> None:
    assert await auth.get_user(migrated_db, uuid.uuid4()) is None


async def test_get_user_by_email_ignores_letter_case(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    assert await auth.get_user_by_email(migrated_db, " ADA@example.Com") == user


async def test_get_user_by_email_matches_non_ascii_case_on_both_backends(
    migrated_db: dualdb.Database,
) -> None:
    created = await auth.create_user(migrated_db, "émile@exemple.fr")
    assert await auth.get_user_by_email(migrated_db, "ÉMILE@EXEMPLE.FR") == created


async def test_get_user_by_email_of_unknown_address_is_none(migrated_db: dualdb.Database) -> None:
    assert await auth.get_user_by_email(migrated_db, "nobody@example.com") is None


async def test_duplicate_email_in_another_case_raises_email_taken(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    with pytest.raises(auth.EmailTaken) as caught:
        await auth.create_user(migrated_db, "ADA@EXAMPLE.COM")
    assert caught.value.email == "ada@example.com"


async def test_duplicate_non_ascii_email_in_another_case_raises_email_taken(
    migrated_db: dualdb.Database,
) -> None:
    # SQLite's lower() would not fold É; normalising in Python makes both backends agree.
    await auth.create_user(migrated_db, "émile@exemple.fr")
    with pytest.raises(auth.EmailTaken):
        await auth.create_user(migrated_db, "ÉMILE@exemple.fr")


async def test_email_taken_is_a_unique_violation(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    with pytest.raises(dualdb.UniqueViolation):
        await auth.create_user(migrated_db, user.email)


async def test_racing_creates_of_one_address_give_one_user_and_one_email_taken(
    migrated_db: dualdb.Database,
) -> None:
    results = await asyncio.gather(
        *(auth.create_user(migrated_db, f"{case}@example.com") for case in ("ada", "ADA", "Ada")),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, auth.User)]
    refused = [r for r in results if isinstance(r, auth.EmailTaken)]
    assert (len(created), len(refused)) == (1, 2)


async def test_email_taken_inside_a_transaction_leaves_it_usable(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    async with migrated_db.transaction() as tx:
        with pytest.raises(auth.EmailTaken):
            await auth.create_user(tx, user.email)
        other = await auth.create_user(tx, "grace@example.com")
    assert await auth.get_user(migrated_db, other.id) == other


async def test_create_user_with_invalid_email_raises_invalid_email(
    migrated_db: dualdb.Database,
) -> None:
    with pytest.raises(auth.InvalidEmail):
        await auth.create_user(migrated_db, "not an address")


async def test_create_user_with_unknown_role_is_a_check_violation(
    migrated_db: dualdb.Database,
) -> None:
    with pytest.raises(dualdb.CheckViolation):
        await auth.create_user(migrated_db, "ada@example.com", role="root")  # type: ignore[arg-type]


async def test_update_user_changes_fields_and_bumps_updated_at(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    clock.advance(timedelta(minutes=5))
    updated = await auth.update_user(migrated_db, user.id, name="Ada L.", role="admin", clock=clock)
    assert updated is not None
    assert (updated.name, updated.role, updated.email) == ("Ada L.", "admin", user.email)
    assert updated.updated_at == clock.now
    assert updated.created_at == user.created_at
    assert await auth.get_user(migrated_db, user.id) == updated


async def test_update_user_name_none_clears_the_name(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    updated = await auth.update_user(migrated_db, user.id, name=None)
    assert updated is not None and updated.name is None


async def test_update_user_normalises_a_new_email(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    updated = await auth.update_user(migrated_db, user.id, email="Countess@Example.COM")
    assert updated is not None and updated.email == "countess@example.com"


async def test_update_user_to_a_taken_email_raises_email_taken(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    other = await auth.create_user(migrated_db, "grace@example.com")
    with pytest.raises(auth.EmailTaken):
        await auth.update_user(migrated_db, other.id, email="ADA@example.com")


async def test_update_user_without_changes_writes_nothing(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    clock.advance(timedelta(minutes=5))
    assert await auth.update_user(migrated_db, user.id, clock=clock) == user


async def test_update_of_a_soft_deleted_user_is_none(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.soft_delete_user(migrated_db, user.id)
    assert await auth.update_user(migrated_db, user.id, name="x") is None


async def test_soft_deleted_user_is_invisible_to_lookups(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    assert await auth.soft_delete_user(migrated_db, user.id)
    assert await auth.get_user(migrated_db, user.id) is None
    assert await auth.get_user_by_email(migrated_db, user.email) is None
    assert (await auth.list_users(migrated_db)).total == 0


async def test_soft_deleted_user_is_visible_with_include_deleted(
    migrated_db: dualdb.Database, user: auth.User, clock: FakeClock
) -> None:
    clock.advance(timedelta(hours=1))
    await auth.soft_delete_user(migrated_db, user.id, clock=clock)
    found = await auth.get_user(migrated_db, user.id, include_deleted=True)
    assert found is not None and found.is_deleted and found.deleted_at == clock.now


async def test_soft_deleted_user_keeps_the_address_taken(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.soft_delete_user(migrated_db, user.id)
    with pytest.raises(auth.EmailTaken):
        await auth.create_user(migrated_db, user.email)


async def test_soft_delete_twice_reports_false(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    assert await auth.soft_delete_user(migrated_db, user.id)
    assert not await auth.soft_delete_user(migrated_db, user.id)


async def test_soft_delete_revokes_the_users_sessions(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, timedelta(days=1))
    await auth.soft_delete_user(migrated_db, user.id)
    await auth.restore_user(migrated_db, user.id)
    assert await auth.validate_session(migrated_db, issued.token) is None


async def test_restore_makes_the_user_visible_again(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    await auth.soft_delete_user(migrated_db, user.id)
    assert await auth.restore_user(migrated_db, user.id)
    restored = await auth.get_user(migrated_db, user.id)
    assert restored is not None and restored.deleted_at is None


async def test_restore_of_a_live_user_reports_false(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    assert not await auth.restore_user(migrated_db, user.id)


async def test_hard_delete_removes_sessions_and_oauth_links(
    migrated_db: dualdb.Database, user: auth.User
) -> None:
    issued = await auth.create_session(migrated_db, user.id, timedelta(days=1))
    await auth.link_account(migrated_db, user.id, "github", "1", access_token="t")
    assert await auth.delete_user(migrated_db, user.id)
    assert await auth.get_user(migrated_db, user.id, include_deleted=True) is None
    assert await auth.validate_session(migrated_db, issued.token) is None
    assert await auth.list_accounts(migrated_db, user.id) == []
    assert await migrated_db.fetch_val("SELECT count(*) FROM user_sessions") == 0
    assert await migrated_db.fetch_val("SELECT count(*) FROM oauth_providers") == 0


async def test_hard_delete_frees_the_address(migrated_db: dualdb.Database, user: auth.User) -> None:
    await auth.delete_user(migrated_db, user.id)
    assert (await auth.create_user(migrated_db, user.email)).email == user.email


async def test_hard_delete_of_unknown_user_reports_false(migrated_db: dualdb.Database) -> None:
    assert not await auth.delete_user(migrated_db, uuid.uuid4())


async def test_create_user_and_link_account_roll_back_together(
    migrated_db: dualdb.Database,
) -> None:
    with pytest.raises(RuntimeError):
        async with migrated_db.transaction() as tx:
            created = await auth.create_user(tx, "ada@example.com")
            await auth.link_account(tx, created.id, "github", "1")
            raise RuntimeError("callback failed")
    assert await auth.get_user_by_email(migrated_db, "ada@example.com") is None
    assert await auth.find_user_by_account(migrated_db, "github", "1") is None


# ------------------------------------------------------- the building blocks of own queries


async def test_update_user_with_keep_leaves_that_field_unchanged(
    migrated_db: dualdb.Database,
) -> None:
    user = await auth.create_user(migrated_db, "ada@example.com", name="Ada")

    updated = await auth.update_user(migrated_db, user.id, name=auth.KEEP, role="admin")

    assert updated is not None
    assert (updated.name, updated.role) == ("Ada", "admin")


async def test_user_from_row_reads_a_user_from_an_own_query_with_more_columns(
    migrated_db: dualdb.Database,
) -> None:
    user = await auth.create_user(migrated_db, "ada@example.com", name="Ada")
    users = auth.USERS_TABLE
    query = (
        dualdb.Query.from_(users)
        .select(*auth.USER_COLUMNS, users.email.as_("login"))
        .where(users.id == dualdb.Param("id"))
    )

    row = await migrated_db.fetch_one(query, id=user.id)

    assert row is not None
    assert auth.user_from_row(row) == user
    assert row["login"] == "ada@example.com"


async def test_user_from_row_refuses_a_row_without_the_user_columns(
    migrated_db: dualdb.Database,
) -> None:
    await auth.create_user(migrated_db, "ada@example.com")
    row = await migrated_db.fetch_one(
        dualdb.Query.from_(auth.USERS_TABLE).select(auth.USERS_TABLE.id).limit(1)
    )
    assert row is not None

    with pytest.raises(dualdb.ProgrammingError, match=r"select \*USER_COLUMNS first"):
        auth.user_from_row(row)
