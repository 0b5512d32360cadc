"""Typed user code: checked with pyright (strict) and mypy --strict by ``scripts/test``.

A function that takes ``db: dualdb.Queryable`` accepts a :class:`dualdb.Database` and a
:class:`dualdb.Transaction` alike, and so do the ``dualdb.auth`` functions.
"""

# PyPika annotates its builders' **kwargs without a type.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict
from uuid import UUID

import dualdb
from dualdb import Param, Query, Table, auth

users = Table("users")
COUNT_USERS = Query.from_(users).select(dualdb.fn.Count("*"))
RENAME = Query.update(users).set(users.name, Param("name")).where(users.id == Param("id"))
MEMBERS = Query.from_(users).select(users.id, users.email, users.name).orderby(users.email)
MEMBER_BY_EMAIL = (
    Query.from_(users)
    .select(users.id, users.email, users.name)
    .where(users.email == Param("email"))
)
ROLES = Query.from_(users).select(users.role, dualdb.fn.Count("*").as_("total")).groupby(users.role)
# An upsert whose RETURNING row comes back as a Member: the whole chain is typed.
RENAME_BY_ID = (
    Query.into(users)
    .columns(users.id, users.email, users.name, users.created_at, users.updated_at)
    .insert(Param("id"), Param("email"), Param("name"), Param("now"), Param("now"))
    .on_conflict(users.id)
    .do_update(users.name)
    .returning(users.id, users.email, users.name)
)


@dataclass(frozen=True, slots=True)
class Member:
    """A row of MEMBERS: ``fetch_all(MEMBERS, as_=Member)`` is a ``list[Member]``."""

    id: UUID
    email: str
    name: str | None


class RoleCount(TypedDict):
    role: auth.Role
    total: int


async def members(db: dualdb.Queryable) -> list[Member]:
    return await db.fetch_all(MEMBERS, as_=Member)


async def member(db: dualdb.Queryable, email: str) -> Member | None:
    return await db.fetch_one(MEMBER_BY_EMAIL, email=email, as_=Member)


async def role_counts(db: dualdb.Queryable) -> dict[auth.Role, int]:
    return {row["role"]: row["total"] async for row in db.iterate(ROLES, as_=RoleCount)}


async def user_count(db: dualdb.Queryable) -> int:
    count = await db.fetch_val(COUNT_USERS, as_=int)  # int | None, checked at run time
    return count or 0


async def upsert_name(db: dualdb.Queryable, member: Member, now: datetime) -> Member:
    row = await db.fetch_one(
        RENAME_BY_ID, id=member.id, email=member.email, name=member.name, now=now, as_=Member
    )
    assert row is not None  # an upsert returns its row
    return row


async def rename(db: dualdb.Queryable, user_id: UUID, name: str) -> bool:
    return await db.execute(RENAME, id=user_id, name=name) == 1


async def sign_up(tx: dualdb.Transaction, email: str) -> str:
    user = await auth.create_user(tx, email, name="New")
    issued = await auth.create_session(tx, user.id, timedelta(days=1))
    await rename(tx, user.id, "Renamed")
    return issued.token


def can_administer(user: auth.User) -> bool:
    role: auth.Role = user.role  # a Literal, not a str: a typo in a comparison is caught
    return role == "admin"


async def main(url: str) -> None:
    async with dualdb.connect(url) as db:
        token = await dualdb.run_in_transaction(db, lambda tx: sign_up(tx, "a@example.com"))
        valid = await auth.validate_session(db, token)
        found = await auth.get_user_by_email(db, "a@example.com")
        async with db.transaction() as tx:
            rows: list[dualdb.Record] = await tx.fetch_all(Query.from_(users).select(users.id))
            first = await tx.fetch_one(Query.from_(users).select(users.id).limit(1))
            total = await user_count(tx)
        print(valid is not None, found, len(rows), first, total, await user_count(db))
        if found is not None:
            print(can_administer(found))
        everyone = await members(db)
        print([m.email for m in everyone], await member(db, "a@example.com") == everyone[0])
        print(await role_counts(db))
        renamed = await upsert_name(
            db, Member(everyone[0].id, everyone[0].email, "Ada"), datetime.now(UTC)
        )
        print(renamed.name, renamed.id == everyone[0].id)
