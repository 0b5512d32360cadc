"""Listing users: page/size with totals, keyset cursors, filters — on both backends."""

from __future__ import annotations

import asyncio

import pytest

import dualdb
from dualdb import auth


async def make_users(db: dualdb.Queryable, count: int, prefix: str = "u") -> list[auth.User]:
    return [await auth.create_user(db, f"{prefix}{i:03}@example.com") for i in range(count)]


async def all_pages(db: dualdb.Queryable, page_size: int, **filters: object) -> list[auth.User]:
    seen: list[auth.User] = []
    cursor: str | None = None
    while True:
        page = await auth.list_users_by_cursor(
            db,
            cursor=cursor,
            page_size=page_size,
            **filters,  # type: ignore[arg-type]
        )
        seen.extend(page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


async def test_page_returns_items_total_and_page_count(migrated_db: dualdb.Database) -> None:
    created = await make_users(migrated_db, 7)
    page = await auth.list_users(migrated_db, page=2, page_size=3)
    assert page.items == created[3:6]
    assert (page.total, page.pages, page.page, page.page_size) == (7, 3, 2, 3)


async def test_last_page_is_partial(migrated_db: dualdb.Database) -> None:
    created = await make_users(migrated_db, 7)
    assert (await auth.list_users(migrated_db, page=3, page_size=3)).items == created[6:]


async def test_page_past_the_end_is_empty_with_the_total(migrated_db: dualdb.Database) -> None:
    await make_users(migrated_db, 2)
    page = await auth.list_users(migrated_db, page=5, page_size=3)
    assert (page.items, page.total, page.pages) == ([], 2, 1)


async def test_empty_table_has_zero_pages(migrated_db: dualdb.Database) -> None:
    page = await auth.list_users(migrated_db)
    assert (page.items, page.total, page.pages) == ([], 0, 0)


async def test_descending_pages_list_newest_first(migrated_db: dualdb.Database) -> None:
    created = await make_users(migrated_db, 4)
    page = await auth.list_users(migrated_db, page_size=10, descending=True)
    assert page.items == created[::-1]


async def test_role_filter_limits_items_and_total(migrated_db: dualdb.Database) -> None:
    await make_users(migrated_db, 3)
    admin = await auth.create_user(migrated_db, "root@example.com", role="admin")
    page = await auth.list_users(migrated_db, role="admin")
    assert (page.items, page.total) == ([admin], 1)


async def test_email_prefix_matches_in_any_case(migrated_db: dualdb.Database) -> None:
    ada = await auth.create_user(migrated_db, "ada@example.com")
    await auth.create_user(migrated_db, "grace@example.com")
    assert (await auth.list_users(migrated_db, email_prefix="AD")).items == [ada]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("a%", ["a%b@x.io"]), ("a_", ["a_b@x.io"]), ("a\\", ["a\\b@x.io"]), ("%", [])],
)
async def test_like_wildcards_in_the_email_prefix_match_literally(
    migrated_db: dualdb.Database, prefix: str, expected: list[str]
) -> None:
    for email in ["a%b@x.io", "a_b@x.io", "a\\b@x.io", "axb@x.io", "abc@x.io"]:
        await auth.create_user(migrated_db, email)
    page = await auth.list_users(migrated_db, email_prefix=prefix)
    assert [u.email for u in page.items] == expected
    assert page.total == len(expected)


async def test_like_wildcards_in_the_name_prefix_match_literally(
    migrated_db: dualdb.Database,
) -> None:
    literal = await auth.create_user(migrated_db, "a@x.io", name="100% Ada")
    await auth.create_user(migrated_db, "b@x.io", name="1000 Ada")
    await auth.create_user(migrated_db, "c@x.io", name="10_ Ada")
    assert (await auth.list_users(migrated_db, name_prefix="100%")).items == [literal]
    assert [u.name for u in (await auth.list_users(migrated_db, name_prefix="10_")).items] == [
        "10_ Ada"
    ]


async def test_name_prefix_is_case_sensitive_on_both_backends(
    migrated_db: dualdb.Database,
) -> None:
    await auth.create_user(migrated_db, "a@x.io", name="Ada")
    assert (await auth.list_users(migrated_db, name_prefix="ada")).total == 0


async def test_filters_combine(migrated_db: dualdb.Database) -> None:
    match = await auth.create_user(migrated_db, "ada@x.io", name="Ada", role="admin")
    await auth.create_user(migrated_db, "ada2@x.io", name="Ada")
    await auth.create_user(migrated_db, "bob@x.io", name="Ada", role="admin")
    page = await auth.list_users(migrated_db, role="admin", email_prefix="ada", name_prefix="A")
    assert (page.items, page.total) == ([match], 1)


@pytest.mark.parametrize(("page", "page_size"), [(0, 10), (1, 0), (1, auth.MAX_PAGE_SIZE + 1)])
async def test_out_of_range_page_arguments_raise_value_error(
    migrated_db: dualdb.Database, page: int, page_size: int
) -> None:
    with pytest.raises(ValueError, match="page"):
        await auth.list_users(migrated_db, page=page, page_size=page_size)


async def test_cursor_pages_visit_every_user_once_in_order(migrated_db: dualdb.Database) -> None:
    created = await make_users(migrated_db, 10)
    assert await all_pages(migrated_db, 3) == created


async def test_cursor_pages_descending_visit_newest_first(migrated_db: dualdb.Database) -> None:
    created = await make_users(migrated_db, 10)
    assert await all_pages(migrated_db, 4, descending=True) == created[::-1]


async def test_last_cursor_page_has_no_next_cursor(migrated_db: dualdb.Database) -> None:
    await make_users(migrated_db, 3)
    page = await auth.list_users_by_cursor(migrated_db, page_size=3)
    assert len(page.items) == 3 and page.next_cursor is None


async def test_cursor_pages_skip_and_repeat_nothing_while_rows_are_inserted(
    migrated_db: dualdb.Database,
) -> None:
    created = await make_users(migrated_db, 9)
    seen: list[auth.User] = []
    page = await auth.list_users_by_cursor(migrated_db, page_size=4)
    inserted: list[auth.User] = []
    while True:
        seen.extend(page.items)
        # Another client signs up between every two pages.
        inserted += await make_users(migrated_db, 2, prefix=f"new{len(seen)}-")
        if page.next_cursor is None:
            break
        page = await auth.list_users_by_cursor(migrated_db, cursor=page.next_cursor, page_size=4)
    ids = [u.id for u in seen]
    assert len(ids) == len(set(ids))  # nothing repeated
    assert seen[: len(created)] == created  # nothing skipped, in order
    assert seen[len(created) :] == inserted[: len(seen) - len(created)]  # newcomers at the end


async def test_offset_pages_would_repeat_rows_where_cursor_pages_do_not(
    migrated_db: dualdb.Database,
) -> None:
    await make_users(migrated_db, 6)
    first = await auth.list_users(migrated_db, page_size=3, descending=True)
    cursor_first = await auth.list_users_by_cursor(migrated_db, page_size=3, descending=True)
    await make_users(migrated_db, 1, prefix="late")  # newest: shifts every offset by one
    second = await auth.list_users(migrated_db, page=2, page_size=3, descending=True)
    cursor_second = await auth.list_users_by_cursor(
        migrated_db, cursor=cursor_first.next_cursor, page_size=3, descending=True
    )
    assert second.items[0] == first.items[-1]  # the offset page repeats a row
    assert not {u.id for u in cursor_second.items} & {u.id for u in cursor_first.items}


async def test_cursor_pages_survive_deletion_of_the_cursor_row(
    migrated_db: dualdb.Database,
) -> None:
    created = await make_users(migrated_db, 6)
    page = await auth.list_users_by_cursor(migrated_db, page_size=3)
    await auth.delete_user(migrated_db, created[2].id)  # the row the cursor points after
    rest = await auth.list_users_by_cursor(migrated_db, cursor=page.next_cursor, page_size=3)
    assert rest.items == created[3:]


async def test_cursor_pages_apply_filters(migrated_db: dualdb.Database) -> None:
    admins = []
    for i in range(5):
        await auth.create_user(migrated_db, f"user{i}@x.io")
        admins.append(await auth.create_user(migrated_db, f"admin{i}@x.io", role="admin"))
    assert await all_pages(migrated_db, 2, role="admin") == admins


async def test_made_up_cursor_raises_invalid_cursor(migrated_db: dualdb.Database) -> None:
    with pytest.raises(auth.InvalidCursor):
        await auth.list_users_by_cursor(migrated_db, cursor="not-a-cursor!")


async def test_cursor_of_the_other_direction_raises_invalid_cursor(
    migrated_db: dualdb.Database,
) -> None:
    await make_users(migrated_db, 3)
    page = await auth.list_users_by_cursor(migrated_db, page_size=1)
    with pytest.raises(auth.InvalidCursor, match="direction"):
        await auth.list_users_by_cursor(
            migrated_db, cursor=page.next_cursor, page_size=1, descending=True
        )


async def test_cursor_pages_stay_correct_beside_a_concurrent_writer(
    migrated_db: dualdb.Database,
) -> None:
    created = await make_users(migrated_db, 20)
    stop, started = asyncio.Event(), asyncio.Event()
    inserted: list[auth.User] = []

    async def sign_ups() -> None:
        while not stop.is_set():
            inserted.append(await auth.create_user(migrated_db, f"c{len(inserted)}@example.com"))
            started.set()

    writer = asyncio.create_task(sign_ups())
    try:
        await started.wait()  # the writer is running before the first page is read
        seen = await all_pages(migrated_db, 5)
    finally:
        stop.set()
        await writer
    assert seen[: len(created)] == created
    assert len({u.id for u in seen}) == len(seen)
    assert seen[len(created) :] == inserted[: len(seen) - len(created)]
