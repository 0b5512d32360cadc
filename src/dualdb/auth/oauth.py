"""OAuth: accounts linked at external providers, and the sign-in state of a redirect.

Linked accounts (table ``oauth_providers``) keep the provider's access and refresh
tokens encrypted with :class:`~dualdb.auth.TokenCipher` when ``DUALDB_TOKEN_KEYS`` is set.

Sign-in state (table ``oauth_sessions``) lives from the redirect to the provider until
its callback. It is bound to the browser that started the flow — the application keeps a
random value in that browser's cookie and passes it to both calls; only its SHA-256 is
stored — and consumed by one ``DELETE … RETURNING`` that checks state, expiry and
binding together. A second consume, a late one or one from another browser gets None;
two concurrent consumes cannot both succeed, because only one DELETE can remove the row.
Without the binding, an attacker could have a victim's browser complete the attacker's
own sign-in (login CSRF; CVE-2025-68481 in a popular Python auth library).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from dualdb import Param, Queryable, Record, Table, fn
from dualdb.auth._batches import DEFAULT_BATCH_SIZE, purge_query, run_purge
from dualdb.auth._clock import Clock, now_from, utc_now
from dualdb.auth._schema import (
    OAUTH_ACCOUNT_COLUMNS,
    OAUTH_STATE_COLUMNS,
    USER_COLUMNS,
    from_,
    into,
    oauth_providers,
    oauth_sessions,
    user_from,
    users,
)
from dualdb.auth.crypto import TokenCipher, default_token_cipher, hash_token, new_token
from dualdb.auth.ids import uuid7
from dualdb.auth.models import OAuthAccount, OAuthState, User
from dualdb.errors import AccountLinkedElsewhere

__all__ = [
    "DEFAULT_STATE_TTL",
    "MIN_BINDING_LENGTH",
    "consume_state",
    "create_state",
    "find_user_by_account",
    "get_account",
    "link_account",
    "list_accounts",
    "purge_expired_states",
    "unlink_account",
]

DEFAULT_STATE_TTL: Final = timedelta(minutes=10)
#: A browser binding must be a random value of at least this many characters
#: (:func:`~dualdb.auth.new_token` makes 43): a short or empty one could be guessed or
#: reproduced by an attacker, which would defeat the binding.
MIN_BINDING_LENGTH: Final = 16

# The row being inserted, in ON CONFLICT … DO UPDATE (both backends call it "excluded").
_excluded = Table("excluded")
_op = oauth_providers

# Relinking the same identity to the same user refreshes its tokens; a refresh token
# left out keeps the stored one (providers such as Google send it only at first consent).
# The WHERE stops the upsert from touching an identity linked to another user: then no
# row is returned and link_account raises AccountLinkedElsewhere.
_LINK = (
    into(_op)
    .columns(
        _op.id,
        _op.user_id,
        _op.provider,
        _op.provider_id,
        _op.access_token,
        _op.refresh_token,
        _op.token_expires_at,
        _op.scope,
        _op.created_at,
        _op.updated_at,
    )
    .insert(
        Param("id"),
        Param("user_id"),
        Param("provider"),
        Param("provider_id"),
        Param("access_token"),
        Param("refresh_token"),
        Param("token_expires_at"),
        Param("scope"),
        Param("now"),
        Param("now"),
    )
    .on_conflict(_op.provider, _op.provider_id)
    .do_update(_op.access_token)
    .do_update(
        _op.refresh_token,
        fn.Coalesce(_excluded.refresh_token, _op.refresh_token),  # type: ignore[no-untyped-call]
    )
    .do_update(_op.token_expires_at)
    .do_update(_op.scope)
    .do_update(_op.updated_at)
    .where(_op.user_id == _excluded.user_id)
    .returning(*OAUTH_ACCOUNT_COLUMNS)
)
_ACCOUNT = (
    from_(_op)
    .select(*OAUTH_ACCOUNT_COLUMNS)
    .where(_op.provider == Param("provider"))
    .where(_op.provider_id == Param("provider_id"))
)
_USER_BY_ACCOUNT = (
    from_(_op)
    .join(users)
    .on(users.id == _op.user_id)
    .select(*USER_COLUMNS)
    .where(_op.provider == Param("provider"))
    .where(_op.provider_id == Param("provider_id"))
    .where(users.deleted_at.isnull())
)
_ACCOUNTS_OF_USER = (
    from_(_op)
    .select(*OAUTH_ACCOUNT_COLUMNS)
    .where(_op.user_id == Param("user_id"))
    .orderby(_op.provider)
    .orderby(_op.id)
)
_UNLINK = (
    from_(_op)
    .delete()
    .where(_op.user_id == Param("user_id"))
    .where(_op.provider == Param("provider"))
    .where(_op.provider_id == Param("provider_id"))
)

_INSERT_STATE = (
    into(oauth_sessions)
    .columns(
        oauth_sessions.id,
        oauth_sessions.state,
        oauth_sessions.code_verifier,
        oauth_sessions.redirect_uri,
        oauth_sessions.browser_binding,
        oauth_sessions.created_at,
        oauth_sessions.expires_at,
    )
    .insert(
        Param("id"),
        Param("state"),
        Param("code_verifier"),
        Param("redirect_uri"),
        Param("binding_hash"),
        Param("now"),
        Param("expires_at"),
    )
)
# One statement: the row is returned only to the one DELETE that removed it.
_CONSUME_STATE = (
    from_(oauth_sessions)
    .delete()
    .where(oauth_sessions.state == Param("state"))
    .where(oauth_sessions.expires_at > Param("now"))
    .where(oauth_sessions.browser_binding == Param("binding_hash"))
    .returning(*OAUTH_STATE_COLUMNS)
)
_PURGE_STATES = purge_query(oauth_sessions)


def _context(provider: str, provider_id: str, column: str) -> tuple[str, str, str]:
    # What a ciphertext is bound to: copying it to another row or column breaks it.
    return (provider, provider_id, column)


def _account_from(row: Record, cipher: TokenCipher) -> OAuthAccount:
    provider, provider_id = row["provider"], row["provider_id"]
    return OAuthAccount(
        id=row["id"],
        user_id=row["user_id"],
        provider=provider,
        provider_id=provider_id,
        access_token=cipher.decrypt(
            row["access_token"], _context(provider, provider_id, "access_token")
        ),
        refresh_token=cipher.decrypt(
            row["refresh_token"], _context(provider, provider_id, "refresh_token")
        ),
        token_expires_at=row["token_expires_at"],
        scope=row["scope"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def link_account(
    db: Queryable,
    user_id: UUID,
    provider: str,
    provider_id: str,
    *,
    access_token: str | None = None,
    refresh_token: str | None = None,
    token_expires_at: datetime | None = None,
    scope: str | None = None,
    cipher: TokenCipher | None = None,
    clock: Clock = utc_now,
) -> OAuthAccount:
    """Link the provider identity ``(provider, provider_id)`` to a user, or refresh it.

    An identity already linked to this user is updated in place (tokens, expiry, scope,
    ``updated_at``; a ``refresh_token`` of None keeps the stored one). One linked to
    another user raises :class:`AccountLinkedElsewhere` and changes nothing. Tokens are
    encrypted with ``cipher`` (default: :func:`default_token_cipher`, from
    ``DUALDB_TOKEN_KEYS``); with no key they are stored as given, and on PostgreSQL a
    warning is logged once.
    """
    cipher = default_token_cipher() if cipher is None else cipher
    if access_token is not None or refresh_token is not None:
        cipher.warn_if_disabled(db.backend)
    row = await db.fetch_one(
        _LINK,
        id=uuid7(),
        user_id=user_id,
        provider=provider,
        provider_id=provider_id,
        access_token=cipher.encrypt(access_token, _context(provider, provider_id, "access_token")),
        refresh_token=cipher.encrypt(
            refresh_token, _context(provider, provider_id, "refresh_token")
        ),
        token_expires_at=token_expires_at,
        scope=scope,
        now=now_from(clock),
    )
    if row is None:
        raise AccountLinkedElsewhere(provider, dialect=db.backend)
    return _account_from(row, cipher)


async def get_account(
    db: Queryable, provider: str, provider_id: str, *, cipher: TokenCipher | None = None
) -> OAuthAccount | None:
    """The link of this provider identity, tokens decrypted, or None.

    Raises :class:`TokenDecryptionError` if a stored token cannot be decrypted.
    """
    row = await db.fetch_one(_ACCOUNT, provider=provider, provider_id=provider_id)
    if row is None:
        return None
    return _account_from(row, default_token_cipher() if cipher is None else cipher)


async def find_user_by_account(db: Queryable, provider: str, provider_id: str) -> User | None:
    """The (not deleted) user this provider identity signs in as, or None."""
    row = await db.fetch_one(_USER_BY_ACCOUNT, provider=provider, provider_id=provider_id)
    return None if row is None else user_from(row)


async def list_accounts(
    db: Queryable, user_id: UUID, *, cipher: TokenCipher | None = None
) -> list[OAuthAccount]:
    """Every identity linked to a user, by provider then link time, tokens decrypted."""
    rows = await db.fetch_all(_ACCOUNTS_OF_USER, user_id=user_id)
    cipher = default_token_cipher() if cipher is None else cipher
    return [_account_from(row, cipher) for row in rows]


async def unlink_account(db: Queryable, user_id: UUID, provider: str, provider_id: str) -> bool:
    """Remove this user's link to the identity; False if the user had no such link."""
    return (
        await db.execute(_UNLINK, user_id=user_id, provider=provider, provider_id=provider_id) > 0
    )


async def create_state(
    db: Queryable,
    redirect_uri: str,
    code_verifier: str | None = None,
    *,
    browser_binding: str,
    ttl: timedelta = DEFAULT_STATE_TTL,
    clock: Clock = utc_now,
) -> str:
    """Store the state of a sign-in redirect; returns the random ``state`` to send.

    ``browser_binding`` is the random value the application has put in this browser's
    cookie (e.g. :func:`~dualdb.auth.new_token`, at least :data:`MIN_BINDING_LENGTH`
    characters); only its SHA-256 is stored. ``code_verifier`` is the PKCE verifier.
    """
    if not isinstance(browser_binding, str) or len(browser_binding) < MIN_BINDING_LENGTH:
        raise ValueError(
            f"browser_binding must be a random value of at least {MIN_BINDING_LENGTH} "
            "characters kept in the user's cookie (e.g. dualdb.auth.new_token())"
        )
    if ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    now = now_from(clock)
    state = new_token()
    await db.execute(
        _INSERT_STATE,
        id=uuid7(),
        state=state,
        code_verifier=code_verifier,
        redirect_uri=redirect_uri,
        binding_hash=hash_token(browser_binding),
        now=now,
        expires_at=now + ttl,
    )
    return state


async def consume_state(
    db: Queryable, state: str, browser_binding: str | None, *, clock: Clock = utc_now
) -> OAuthState | None:
    """Take the state back, once: the stored state, deleted in the same statement, or None.

    None if the state is unknown, already consumed, expired, or ``browser_binding`` (the
    value from this browser's cookie; None when the cookie is missing) is not the one it
    was created with. A state consumed from the wrong browser is not deleted, so the
    browser that started the flow can still finish it.
    """
    if not browser_binding or len(browser_binding) < MIN_BINDING_LENGTH:
        return None  # no cookie: this browser did not start a flow (create_state refuses it)
    row = await db.fetch_one(
        _CONSUME_STATE,
        state=state,
        now=now_from(clock),
        binding_hash=hash_token(browser_binding),
    )
    if row is None:
        return None
    return OAuthState(
        state=row["state"],
        redirect_uri=row["redirect_uri"],
        code_verifier=row["code_verifier"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


async def purge_expired_states(
    db: Queryable, *, batch_size: int = DEFAULT_BATCH_SIZE, clock: Clock = utc_now
) -> int:
    """Delete expired sign-in states in batches of ``batch_size``; the number deleted."""
    return await run_purge(db, _PURGE_STATES, now_from(clock), batch_size)
