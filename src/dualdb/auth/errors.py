"""Errors of the auth layer, all inside dualdb's one exception tree.

Every auth error is an :class:`AuthError`, itself a :class:`dualdb.DatabaseError`, so
``except dualdb.DatabaseError`` still catches everything dualdb raises. Where an auth
error *is* a more general condition it also subclasses that, so generic handlers keep
working: :class:`EmailTaken` is a :class:`dualdb.UniqueViolation`, input errors are
``ValueError``\\s::

    DatabaseError
    └── AuthError
        ├── EmailTaken            (also UniqueViolation) the normalised email is in use
        ├── AccountLinkedElsewhere  (also IntegrityError) this provider identity belongs
        │                         to another user
        ├── InvalidEmail          (also ValueError) empty or not an address
        ├── InvalidCursor         (also ValueError) a pagination cursor we did not make
        └── TokenDecryptionError  a stored OAuth token cannot be decrypted (unknown key
                                  id, wrong key, tampered or moved between rows)

Messages never contain tokens, keys or ciphertexts.
"""

from __future__ import annotations

from dualdb.errors import DatabaseError, IntegrityError, UniqueViolation

__all__ = [
    "AccountLinkedElsewhere",
    "AuthError",
    "EmailTaken",
    "InvalidCursor",
    "InvalidEmail",
    "TokenDecryptionError",
]


class AuthError(DatabaseError):
    """Base of the errors raised by :mod:`dualdb.auth`."""


class EmailTaken(AuthError, UniqueViolation):
    """Another user (possibly soft-deleted) already has this email address.

    Raised by create and update, also when two creates of one address race: the
    database's unique index decides, and its violation is translated into this error.
    ``email`` is the normalised address.
    """

    def __init__(self, email: str, *, dialect: str | None = None) -> None:
        super().__init__(
            "a user with this email address already exists",
            dialect=dialect,
            constraint="users_email_lower_key",
            table="users",
            column="email",
        )
        self.email = email


class AccountLinkedElsewhere(AuthError, IntegrityError):
    """The external identity (provider, provider_id) is already linked to another user.

    Linking never moves an identity between users silently: that would hand one user's
    sign-in to another. Unlink it from the first user to move it.
    """

    def __init__(self, provider: str, *, dialect: str | None = None) -> None:
        super().__init__(
            f"this {provider} account is already linked to another user",
            dialect=dialect,
            table="oauth_providers",
        )
        self.provider = provider


class InvalidEmail(AuthError, ValueError):
    """The value is empty or not shaped like an email address."""


class InvalidCursor(AuthError, ValueError):
    """A keyset pagination cursor that this module did not produce (or was altered)."""


class TokenDecryptionError(AuthError):
    """A stored OAuth token could not be decrypted.

    Its key id is not configured in ``DUALDB_TOKEN_KEYS`` (a key was removed too early),
    the key under that id changed, or the stored value was altered or copied from another
    row or column (the ciphertext is bound to its provider identity and column).
    """
