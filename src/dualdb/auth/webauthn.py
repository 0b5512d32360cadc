"""WebAuthn: a user's passkey credential and its signature counter.

The schema keeps one credential per user (``users.webauthn_id`` unique,
``webauthn_public_key``, ``webauthn_counter``). Verifying an assertion's signature is
the job of a WebAuthn library (e.g. ``webauthn``); this module stores what it needs and
enforces the counter rule of WebAuthn §6.1.1 atomically in the database:

* a use is recorded only if its signature counter is greater than the stored one, in one
  ``UPDATE … WHERE webauthn_counter < $new``: a replayed assertion, or a cloned
  authenticator racing the original, has a counter that is not greater, and of two
  concurrent uses with the same counter exactly one succeeds;
* authenticators that do not implement a counter always report 0. While both the stored
  and the reported counter are 0 the check is skipped (as the spec says) and the use is
  accepted; once a non-zero counter has been stored, a 0 is rejected like any counter
  that went backwards.
"""

from __future__ import annotations

import base64
from typing import Final
from uuid import UUID

from dualdb import Param, Queryable
from dualdb.auth._clock import Clock, now_from, utc_now
from dualdb.auth._schema import USER_COLUMNS, from_, update, user_from, users
from dualdb.auth.models import User

__all__ = [
    "get_user_by_webauthn_id",
    "record_webauthn_use",
    "set_webauthn_credential",
]

_MAX_COUNTER: Final = 2**32 - 1  # the authenticator data's signCount is 32 bits

_LIVE = users.deleted_at.isnull()

_SET = (
    update(users)
    .set(users.webauthn_id, Param("credential_id"))
    .set(users.webauthn_public_key, Param("public_key"))
    .set(users.webauthn_counter, Param("sign_count"))
    .set(users.updated_at, Param("now"))
    .where(users.id == Param("user_id"))
    .where(_LIVE)
)
_BY_CREDENTIAL = (
    from_(users)
    .select(*USER_COLUMNS)
    .where(users.webauthn_id == Param("credential_id"))
    .where(_LIVE)
)
_USE = (
    update(users)
    .set(users.webauthn_counter, Param("sign_count"))
    .where(users.webauthn_id == Param("credential_id"))
    .where(_LIVE)
    .where(users.webauthn_counter < Param("sign_count"))
)
_USE_WITHOUT_COUNTER = (
    from_(users)
    .select(users.id)
    .where(users.webauthn_id == Param("credential_id"))
    .where(_LIVE)
    .where(users.webauthn_counter == 0)
)


def credential_text(credential_id: str | bytes) -> str:
    """The stored form of a credential id: base64url without padding, as browsers send it.

    Accepts the raw bytes (``rawId``) or the base64url text (``id``).
    """
    if isinstance(credential_id, bytes | bytearray | memoryview):
        return base64.urlsafe_b64encode(bytes(credential_id)).rstrip(b"=").decode("ascii")
    if not credential_id:
        raise ValueError("credential_id is empty")
    return credential_id


def _check_counter(sign_count: int) -> None:
    if not 0 <= sign_count <= _MAX_COUNTER:
        raise ValueError(f"sign_count must be from 0 to {_MAX_COUNTER}, got {sign_count}")


async def set_webauthn_credential(
    db: Queryable,
    user_id: UUID,
    credential_id: str | bytes,
    public_key: bytes,
    sign_count: int = 0,
    *,
    clock: Clock = utc_now,
) -> bool:
    """Store (or replace) a live user's credential after registration; bumps ``updated_at``.

    ``sign_count`` is the counter from the registration's authenticator data. Returns
    False if there is no such live user. A credential id already stored for another
    user raises :class:`dualdb.UniqueViolation`.
    """
    _check_counter(sign_count)
    written = await db.execute(
        _SET,
        user_id=user_id,
        credential_id=credential_text(credential_id),
        public_key=bytes(public_key),
        sign_count=sign_count,
        now=now_from(clock),
    )
    return written > 0


async def get_user_by_webauthn_id(db: Queryable, credential_id: str | bytes) -> User | None:
    """The live user owning this credential (with its public key and counter), or None."""
    row = await db.fetch_one(_BY_CREDENTIAL, credential_id=credential_text(credential_id))
    return None if row is None else user_from(row)


async def record_webauthn_use(db: Queryable, credential_id: str | bytes, sign_count: int) -> bool:
    """Record a verified assertion's counter; False means reject the sign-in.

    True if the counter is greater than the stored one (now stored), or both are 0 (an
    authenticator without a counter). False for a replayed or cloned authenticator's
    counter, an unknown credential or a deleted user. Call it after verifying the
    signature, and sign the user in only on True.
    """
    _check_counter(sign_count)
    credential = credential_text(credential_id)
    if sign_count == 0:
        return await db.fetch_one(_USE_WITHOUT_COUNTER, credential_id=credential) is not None
    return await db.execute(_USE, credential_id=credential, sign_count=sign_count) > 0
