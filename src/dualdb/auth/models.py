"""The typed values the auth functions return: frozen dataclasses, no database handles.

Secrets (session tokens, OAuth tokens, PKCE verifiers, WebAuthn public keys) are
excluded from ``repr`` so that logging a value never writes a credential to a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, TypeVar
from uuid import UUID

__all__ = [
    "CursorPage",
    "IssuedSession",
    "OAuthAccount",
    "OAuthState",
    "Page",
    "Role",
    "Session",
    "User",
    "ValidSession",
]

#: The roles the schema allows (a CHECK constraint enforces them).
Role = Literal["user", "admin"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class User:
    """A user row. ``email`` is the normalised address (see ``normalize_email``)."""

    id: UUID
    email: str
    name: str | None
    role: Role
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    webauthn_id: str | None
    webauthn_public_key: bytes | None = field(repr=False)
    webauthn_counter: int

    @property
    def is_deleted(self) -> bool:
        """Soft-deleted: invisible to normal lookups and unable to sign in."""
        return self.deleted_at is not None


@dataclass(frozen=True, slots=True)
class Session:
    """A login session. Its token is not here: only its hash is stored."""

    id: UUID
    user_id: UUID
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    ip_address: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """What ``create_session`` returns: the raw token (only this once) and the session.

    Send ``token`` to the client (e.g. in an HttpOnly cookie); it cannot be recovered later.
    """

    token: str = field(repr=False)
    session: Session


@dataclass(frozen=True, slots=True)
class ValidSession:
    """What ``validate_session`` returns for a live token: the session and its user."""

    session: Session
    user: User


@dataclass(frozen=True, slots=True)
class OAuthAccount:
    """An external account linked to a user, with its tokens decrypted."""

    id: UUID
    user_id: UUID
    provider: str
    provider_id: str
    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    token_expires_at: datetime | None
    scope: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OAuthState:
    """A consumed sign-in state: what the callback needs to finish the flow."""

    state: str
    redirect_uri: str
    code_verifier: str | None = field(repr=False)
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a page/size listing, with the total over all pages."""

    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (0 when there are no rows)."""
        return -(-self.total // self.page_size)


@dataclass(frozen=True, slots=True)
class CursorPage(Generic[T]):
    """One page of a keyset listing; pass ``next_cursor`` back for the next page.

    ``next_cursor`` is None on the last page.
    """

    items: list[T]
    next_cursor: str | None
