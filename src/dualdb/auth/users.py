"""Users: create, look up, update, soft/hard delete, list with both kinds of pagination.

Emails are normalised in Python (:func:`normalize_email`) before they reach SQL, because
the databases' own ``lower()`` disagree (PostgreSQL lowercases ``É``, SQLite only ASCII):
the stored value is already normalised, lookups compare with ``=`` on ``users_email_idx``,
and the unique index on ``lower(email)`` stays as the database's own guard.

Soft-deleted users (``deleted_at`` set) are invisible to every lookup and listing here,
their sessions are revoked when they are deleted, and :func:`validate_session` refuses
them, so they cannot sign in. Their address stays taken until they are hard-deleted.

Every query is built once, at import: a call binds values and runs cached SQL.
"""

from __future__ import annotations

import unicodedata
from enum import Enum
from itertools import combinations
from typing import Any, Final, Literal
from uuid import UUID

from dualdb import Order, Param, Queryable, UniqueViolation, escape_like, fn
from dualdb.auth._clock import Clock, now_from, utc_now
from dualdb.auth._pagination import (
    check_page,
    check_page_size,
    decode_cursor,
    encode_cursor,
)
from dualdb.auth._schema import (
    USER_COLUMNS,
    from_,
    into,
    text_param,
    update,
    user_from,
    user_sessions,
    users,
)
from dualdb.auth.ids import uuid7
from dualdb.auth.models import CursorPage, Page, Role, User
from dualdb.errors import EmailTaken, InvalidEmail

__all__ = [
    "KEEP",
    "Keep",
    "create_user",
    "delete_user",
    "get_user",
    "get_user_by_email",
    "list_users",
    "list_users_by_cursor",
    "normalize_email",
    "restore_user",
    "soft_delete_user",
    "update_user",
]

#: The unique index that makes an address one account (migration 0001).
EMAIL_INDEX: Final = "users_email_lower_key"

_MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, in practice the address
_MAX_LOCAL_LENGTH = 64
_NIL = UUID(int=0)
_MAX = UUID(int=(1 << 128) - 1)


def normalize_email(email: str) -> str:
    """The canonical form of an email address: stripped, NFC, lower-cased (Python's rules).

    ``str.lower`` rather than ``casefold``: casefolding also rewrites letters that are
    not case variants (``ß`` → ``ss``, final sigma → sigma), which could merge two
    distinct mailboxes into one account; lower-casing only folds case, as the database's
    ``lower(email)`` index does. NFC is applied before and after so that composed and
    decomposed spellings (``é`` vs ``e`` + U+0301) are one address and the result is
    a fixed point: ``normalize_email(normalize_email(x)) == normalize_email(x)``.

    Raises :class:`InvalidEmail` (a ``ValueError``) for an empty value or one that is
    not ``local@domain`` with both parts present, no whitespace or control characters,
    at most 64 characters before the ``@`` and 254 in all. Deliverability is not checked.
    """
    if not isinstance(email, str):
        raise InvalidEmail(f"email must be a string, got {type(email).__name__}")
    text = _fold(email.strip())
    if not text:
        raise InvalidEmail("email address is empty")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise InvalidEmail("email address must look like name@domain")
    if len(text) > _MAX_EMAIL_LENGTH or len(local) > _MAX_LOCAL_LENGTH:
        raise InvalidEmail(
            f"email address is too long (at most {_MAX_LOCAL_LENGTH} characters before "
            f"the @ and {_MAX_EMAIL_LENGTH} in all)"
        )
    for char in text:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidEmail("email address contains whitespace or a control character")
    return text


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())


# --------------------------------------------------------------------------- queries

_LIVE = users.deleted_at.isnull()

# ON CONFLICT DO NOTHING instead of catching the unique violation: on PostgreSQL a
# violation would abort a caller's enclosing transaction; a conflict (also with a
# concurrent create, which PostgreSQL waits for) just returns no row. The only unique
# key an insert can hit is the email index (ids are fresh UUIDv7s, webauthn_id is NULL).
_INSERT = (
    into(users)
    .columns(users.id, users.email, users.name, users.role, users.created_at, users.updated_at)
    .insert(Param("id"), Param("email"), Param("name"), Param("role"), Param("now"), Param("now"))
    .on_conflict()
    .do_nothing()
    .returning(*USER_COLUMNS)
)
_BY_ID = from_(users).select(*USER_COLUMNS).where(users.id == Param("id")).where(_LIVE)
_BY_ID_ANY = from_(users).select(*USER_COLUMNS).where(users.id == Param("id"))
_BY_EMAIL = from_(users).select(*USER_COLUMNS).where(users.email == Param("email")).where(_LIVE)
_SOFT_DELETE = (
    update(users)
    .set(users.deleted_at, Param("now"))
    .set(users.updated_at, Param("now"))
    .where(users.id == Param("id"))
    .where(_LIVE)
)
_REVOKE_SESSIONS = from_(user_sessions).delete().where(user_sessions.user_id == Param("id"))
_RESTORE = (
    update(users)
    .set(users.deleted_at, None)
    .set(users.updated_at, Param("now"))
    .where(users.id == Param("id"))
    .where(users.deleted_at.notnull())
)
_DELETE = from_(users).delete().where(users.id == Param("id"))

_UpdatableField = Literal["email", "name", "role"]
_UPDATABLE: Final[tuple[_UpdatableField, ...]] = ("email", "name", "role")


def _update_query(changed: tuple[_UpdatableField, ...]) -> Any:
    query = update(users)
    for name in changed:
        query = query.set(users.field(name), Param(name))
    return (
        query.set(users.updated_at, Param("now"))
        .where(users.id == Param("id"))
        .where(_LIVE)
        .returning(*USER_COLUMNS)
    )


#: One UPDATE per set of changed fields (7 shapes), keyed by the fields in _UPDATABLE order.
_UPDATES: Final = {
    changed: _update_query(changed)
    for size in range(1, len(_UPDATABLE) + 1)
    for changed in combinations(_UPDATABLE, size)
}

# Listing: one prebuilt shape per combination of filters (role, email prefix, name
# prefix), each as a page query (LIMIT/OFFSET), a count, and a keyset query per
# direction. The keyset query always has its "after" bound: the first page passes the
# smallest (ascending) or largest (descending) UUID, which halves the shapes.
_Filters = tuple[bool, bool, bool]


def _filtered(query: Any, filters: _Filters) -> Any:
    by_role, by_email, by_name = filters
    query = query.where(_LIVE)
    if by_role:
        query = query.where(users.role == Param("role"))
    if by_email:
        query = query.where(users.email.like(text_param("email_like")))
    if by_name:
        query = query.where(users.name.like(text_param("name_like")))
    return query


def _list_shapes(filters: _Filters) -> dict[str, Any]:
    select = _filtered(from_(users).select(*USER_COLUMNS), filters)
    shapes: dict[str, Any] = {"count": _filtered(from_(users).select(fn.Count("*")), filters)}
    for descending, order in ((False, Order.asc), (True, Order.desc)):
        key = "desc" if descending else "asc"
        shapes["page_" + key] = (
            select.orderby(users.id, order=order).limit(Param("limit")).offset(Param("offset"))
        )
        after = users.id < Param("after") if descending else users.id > Param("after")
        shapes["keyset_" + key] = (
            select.where(after).orderby(users.id, order=order).limit(Param("limit"))
        )
    return shapes


_LISTS: Final = {
    (role, email, name): _list_shapes((role, email, name))
    for role in (False, True)
    for email in (False, True)
    for name in (False, True)
}


# --------------------------------------------------------------------------- API


async def create_user(
    db: Queryable,
    email: str,
    *,
    name: str | None = None,
    role: Role = "user",
    clock: Clock = utc_now,
) -> User:
    """Create a user with a new UUIDv7 id; the email is stored normalised.

    Raises :class:`InvalidEmail` for a malformed address and :class:`EmailTaken` when
    the normalised address belongs to another user (soft-deleted ones included), also
    when two creates of one address race. ``role`` outside the schema's set raises
    :class:`dualdb.CheckViolation`. ``name`` is stored exactly as given.
    """
    normalized = normalize_email(email)
    now = now_from(clock)
    row = await db.fetch_one(_INSERT, id=uuid7(), email=normalized, name=name, role=role, now=now)
    if row is None:  # ON CONFLICT DO NOTHING: the address is taken
        raise EmailTaken(normalized, dialect=db.backend)
    return user_from(row)


async def get_user(db: Queryable, user_id: UUID, *, include_deleted: bool = False) -> User | None:
    """The user with this id, or None. Soft-deleted users only with ``include_deleted``."""
    row = await db.fetch_one(_BY_ID_ANY if include_deleted else _BY_ID, id=user_id)
    return None if row is None else user_from(row)


async def get_user_by_email(db: Queryable, email: str) -> User | None:
    """The (not deleted) user with this address in any letter case, or None.

    Raises :class:`InvalidEmail` for a value that is not an address at all.
    """
    row = await db.fetch_one(_BY_EMAIL, email=normalize_email(email))
    return None if row is None else user_from(row)


class Keep(Enum):
    """The type of :data:`KEEP`."""

    KEEP = "keep"


#: "Leave this field unchanged" for :func:`update_user` (its default), for callers that build
#: the arguments from a form: ``update_user(db, id, name=form.get("name", KEEP))``.
KEEP: Final = Keep.KEEP
_KEEP: Final = KEEP


async def update_user(
    db: Queryable,
    user_id: UUID,
    *,
    email: str | Keep = _KEEP,
    name: str | Keep | None = _KEEP,
    role: Role | Keep = _KEEP,
    clock: Clock = utc_now,
) -> User | None:
    """Change the given fields of a (not deleted) user and bump ``updated_at``.

    Fields not passed keep their value (``name=None`` clears the name). Returns the
    updated user, or None if there is no such live user. With no field given, nothing
    is written and the current user is returned. Raises :class:`EmailTaken` if the new
    address belongs to another user; inside a transaction on PostgreSQL that error,
    like any constraint violation, aborts the transaction.
    """
    values: dict[str, object] = {}
    if not isinstance(email, Keep):
        values["email"] = normalize_email(email)
    if not isinstance(name, Keep):
        values["name"] = name
    if not isinstance(role, Keep):
        values["role"] = role
    if not values:
        return await get_user(db, user_id)
    changed: tuple[_UpdatableField, ...] = tuple(f for f in _UPDATABLE if f in values)
    try:
        row = await db.fetch_one(_UPDATES[changed], id=user_id, now=now_from(clock), **values)
    except UniqueViolation as exc:
        if exc.constraint == EMAIL_INDEX and "email" in values:
            raise EmailTaken(str(values["email"]), dialect=exc.dialect) from exc
        raise
    return None if row is None else user_from(row)


async def soft_delete_user(db: Queryable, user_id: UUID, *, clock: Clock = utc_now) -> bool:
    """Mark a user deleted and revoke all their sessions, atomically.

    Returns False if there is no such live user. The row, its OAuth links and its
    address stay (see :func:`restore_user`); use :func:`delete_user` to erase them.
    """
    now = now_from(clock)
    async with db.transaction() as tx:
        if await tx.execute(_SOFT_DELETE, id=user_id, now=now) == 0:
            return False
        await tx.execute(_REVOKE_SESSIONS, id=user_id)
    return True


async def restore_user(db: Queryable, user_id: UUID, *, clock: Clock = utc_now) -> bool:
    """Undo a soft delete (bumps ``updated_at``). False if the user is not soft-deleted.

    Sessions revoked by the delete stay revoked: the user signs in again.
    """
    return await db.execute(_RESTORE, id=user_id, now=now_from(clock)) > 0


async def delete_user(db: Queryable, user_id: UUID) -> bool:
    """Erase a user, live or soft-deleted; their sessions and OAuth links go with it.

    The foreign keys cascade (``ON DELETE CASCADE``; dualdb enables SQLite's
    ``foreign_keys`` on every connection). Returns False if there was no such user.
    """
    return await db.execute(_DELETE, id=user_id) > 0


def _filter_values(
    role: Role | None, email_prefix: str | None, name_prefix: str | None
) -> tuple[_Filters, dict[str, object]]:
    values: dict[str, object] = {}
    if role is not None:
        values["role"] = role
    if email_prefix is not None:
        # Same folding as stored addresses, so the prefix matches in any letter case.
        values["email_like"] = escape_like(_fold(email_prefix)) + "%"
    if name_prefix is not None:
        values["name_like"] = escape_like(name_prefix) + "%"
    filters = (role is not None, email_prefix is not None, name_prefix is not None)
    return filters, values


async def list_users(
    db: Queryable,
    *,
    page: int = 1,
    page_size: int = 50,
    role: Role | None = None,
    email_prefix: str | None = None,
    name_prefix: str | None = None,
    descending: bool = False,
) -> Page[User]:
    """One page of live users ordered by id (= creation order), with the total count.

    Filters combine with AND. ``email_prefix`` matches in any letter case (addresses are
    stored lower-cased); ``name_prefix`` is case-sensitive, as LIKE is on both backends.
    ``%``, ``_`` and ``\\`` in a prefix match themselves. Offsets shift when rows are
    inserted or deleted between calls; use :func:`list_users_by_cursor` where that matters.
    """
    check_page(page)
    check_page_size(page_size)
    filters, values = _filter_values(role, email_prefix, name_prefix)
    shapes = _LISTS[filters]
    rows = await db.fetch_all(
        shapes["page_desc" if descending else "page_asc"],
        limit=page_size,
        offset=(page - 1) * page_size,
        **values,
    )
    total = await db.fetch_val(shapes["count"], **values)
    return Page([user_from(r) for r in rows], int(total), page, page_size)


async def list_users_by_cursor(
    db: Queryable,
    *,
    cursor: str | None = None,
    page_size: int = 50,
    role: Role | None = None,
    email_prefix: str | None = None,
    name_prefix: str | None = None,
    descending: bool = False,
) -> CursorPage[User]:
    """One page of live users after ``cursor`` (keyset pagination on the primary key).

    Start with ``cursor=None``; pass the returned ``next_cursor`` for the next page
    (None on the last). Each page is an index range scan from the cursor, as fast on page
    1000 as on page 1, and rows inserted or deleted between calls never cause a row to
    be skipped or repeated. Filters as in :func:`list_users`; keep them (and
    ``descending``) the same for every page. Raises :class:`InvalidCursor` for a cursor
    this function did not return.
    """
    check_page_size(page_size)
    filters, values = _filter_values(role, email_prefix, name_prefix)
    if cursor is None:
        after = _MAX if descending else _NIL
    else:
        after = decode_cursor(cursor, descending=descending)
    rows = await db.fetch_all(
        _LISTS[filters]["keyset_desc" if descending else "keyset_asc"],
        after=after,
        limit=page_size + 1,  # one more than asked: is there a next page?
        **values,
    )
    items = [user_from(r) for r in rows[:page_size]]
    more = len(rows) > page_size
    next_cursor = encode_cursor(items[-1].id, descending=descending) if more else None
    return CursorPage(items, next_cursor)
