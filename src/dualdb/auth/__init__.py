"""dualdb.auth: users, login sessions and OAuth on the dualdb schema, on both backends.

The ready query layer for the tables of ``migrations/`` (``users``, ``user_sessions``,
``oauth_providers``, ``oauth_sessions``). Every function takes a ``db`` — a
:class:`dualdb.Database` or an open :class:`dualdb.Transaction` — so calls combine
atomically::

    async with db.transaction() as tx:
        user = await create_user(tx, "ada@example.com", name="Ada")
        await link_account(tx, user.id, "github", "1234", access_token=token)

Every query is a PyPika query built once at import and run through dualdb's compile
path (bound parameters, SQL cached per dialect). Time-dependent functions take a
``clock`` (default: real UTC time) so expiry can be tested without sleeping.

Security defaults: session tokens are 256 random bits and only their SHA-256 is stored;
OAuth tokens are encrypted with AES-256-GCM when ``DUALDB_TOKEN_KEYS`` is set; OAuth
sign-in state is single-use and bound to the browser; WebAuthn counters only move up.
Errors live in the one tree of :mod:`dualdb.errors` and are re-exported here.
"""

from __future__ import annotations

from dualdb.auth._clock import Clock, utc_now
from dualdb.auth._pagination import MAX_PAGE_SIZE
from dualdb.auth._schema import USER_COLUMNS, user_from_row
from dualdb.auth._schema import users as USERS_TABLE
from dualdb.auth.crypto import (
    TOKEN_KEYS_VARIABLE,
    TokenCipher,
    default_token_cipher,
    hash_token,
    load_token_cipher,
    new_token,
)
from dualdb.auth.ids import uuid7
from dualdb.auth.models import (
    CursorPage,
    IssuedSession,
    OAuthAccount,
    OAuthState,
    Page,
    Role,
    Session,
    User,
    ValidSession,
)
from dualdb.auth.oauth import (
    DEFAULT_STATE_TTL,
    MIN_BINDING_LENGTH,
    consume_state,
    create_state,
    find_user_by_account,
    get_account,
    link_account,
    list_accounts,
    purge_expired_states,
    unlink_account,
)
from dualdb.auth.retention import RetentionReport, TableRetention, run_retention
from dualdb.auth.sessions import (
    MAX_USER_AGENT_LENGTH,
    create_session,
    purge_expired_sessions,
    revoke_all_sessions,
    revoke_session,
    validate_session,
)
from dualdb.auth.users import (
    KEEP,
    Keep,
    create_user,
    delete_user,
    get_user,
    get_user_by_email,
    list_users,
    list_users_by_cursor,
    normalize_email,
    restore_user,
    soft_delete_user,
    update_user,
)
from dualdb.auth.webauthn import (
    get_user_by_webauthn_id,
    record_webauthn_use,
    set_webauthn_credential,
)
from dualdb.errors import (
    AccountLinkedElsewhere,
    AuthError,
    EmailTaken,
    InvalidCursor,
    InvalidEmail,
    TokenDecryptionError,
)

__all__ = [
    "DEFAULT_STATE_TTL",
    "KEEP",
    "MAX_PAGE_SIZE",
    "MAX_USER_AGENT_LENGTH",
    "MIN_BINDING_LENGTH",
    "TOKEN_KEYS_VARIABLE",
    "USERS_TABLE",
    "USER_COLUMNS",
    "AccountLinkedElsewhere",
    "AuthError",
    "Clock",
    "CursorPage",
    "EmailTaken",
    "InvalidCursor",
    "InvalidEmail",
    "IssuedSession",
    "Keep",
    "OAuthAccount",
    "OAuthState",
    "Page",
    "RetentionReport",
    "Role",
    "Session",
    "TableRetention",
    "TokenCipher",
    "TokenDecryptionError",
    "User",
    "ValidSession",
    "consume_state",
    "create_session",
    "create_state",
    "create_user",
    "default_token_cipher",
    "delete_user",
    "find_user_by_account",
    "get_account",
    "get_user",
    "get_user_by_email",
    "get_user_by_webauthn_id",
    "hash_token",
    "link_account",
    "list_accounts",
    "list_users",
    "list_users_by_cursor",
    "load_token_cipher",
    "new_token",
    "normalize_email",
    "purge_expired_sessions",
    "purge_expired_states",
    "record_webauthn_use",
    "restore_user",
    "revoke_all_sessions",
    "revoke_session",
    "run_retention",
    "set_webauthn_credential",
    "soft_delete_user",
    "unlink_account",
    "update_user",
    "user_from_row",
    "utc_now",
    "uuid7",
    "validate_session",
]
