"""Secrets of the auth layer: random tokens, their hashes, and OAuth tokens encrypted at rest.

* :func:`new_token` — 32 random bytes (256 bits) from :mod:`secrets`, URL-safe text.
* :func:`hash_token` — SHA-256, hex. Session tokens and browser bindings are stored only
  as this hash: a leaked table does not let anyone sign in. A fast hash is right here
  (unlike for passwords) because the input is 256 random bits, not guessable.
* :class:`TokenCipher` — AES-256-GCM (``cryptography``'s ``AESGCM``) for OAuth access and
  refresh tokens, which must be read back and so cannot be hashed. ``cryptography`` comes
  with ``pip install 'dualdb[crypto]'`` and is imported only when keys are configured, so
  an install without it runs everything else (and refuses keys with a clear error).

Key configuration, ``DUALDB_TOKEN_KEYS`` (environment, or ``.env`` like every dualdb
setting)::

    DUALDB_TOKEN_KEYS="2025b:<base64 of 32 bytes>,2025a:<base64 of 32 bytes>"

The first key encrypts; every listed key decrypts, so rotation is: put the new key first,
keep the old ones until no stored value uses them (a value is re-encrypted with the
current key whenever the account is linked again). Each stored value is
``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``; the associated data binds it to
its key id, provider, provider account id and column, so a ciphertext copied to another
row or column fails to decrypt instead of being accepted.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from dualdb._extras import require
from dualdb.dialects import get_dialect
from dualdb.errors import ConfigurationError, TokenDecryptionError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "TOKEN_KEYS_VARIABLE",
    "TokenCipher",
    "default_token_cipher",
    "hash_token",
    "load_token_cipher",
    "new_token",
]

logger = logging.getLogger("dualdb.auth")

TOKEN_KEYS_VARIABLE = "DUALDB_TOKEN_KEYS"  # noqa: S105 - a variable name, not a secret

_TOKEN_BYTES = 32
_KEY_BYTES = 32
_NONCE_BYTES = 12
_FORMAT = "v1"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_AD_LABEL = "dualdb.auth/oauth-token/v1"


def new_token() -> str:
    """A new random token: 256 bits from the OS's CSPRNG, as 43 URL-safe characters."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 of the token's UTF-8 bytes, as 64 lowercase hex digits (what is stored)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenCipher:
    """Encrypts and decrypts OAuth tokens with the configured keys (AES-256-GCM).

    Built by :func:`load_token_cipher` from ``DUALDB_TOKEN_KEYS``, or directly from
    ``(key_id, key)`` pairs, the first being the current key. With no keys it is
    *disabled*: values are stored and returned as given (and, on PostgreSQL, a warning
    is logged once per cipher, see :meth:`warn_if_disabled`). Its ``repr`` shows key ids,
    never key material.
    """

    __slots__ = ("_current", "_keys", "_warned")

    def __init__(self, keys: Sequence[tuple[str, bytes]] = ()) -> None:
        parsed: dict[str, AESGCM] = {}
        for position, (key_id, key) in enumerate(keys, 1):
            _check_key(position, key_id, key)
            if key_id in parsed:
                raise ConfigurationError(
                    f"{TOKEN_KEYS_VARIABLE}: key id {key_id!r} appears twice",
                    variable=TOKEN_KEYS_VARIABLE,
                )
            parsed[key_id] = _aesgcm(key)
        self._keys = parsed
        self._current = keys[0][0] if keys else None
        self._warned = False

    @classmethod
    def parse(cls, value: str | None) -> TokenCipher:
        """Parse ``"kid:base64key,kid2:base64key"``; empty or None gives a disabled cipher.

        Raises :class:`dualdb.ConfigurationError` naming ``DUALDB_TOKEN_KEYS`` and the
        offending entry's position or key id, never the key itself.
        """
        if value is None or not value.strip():
            return cls()
        pairs: list[tuple[str, bytes]] = []
        for position, entry in enumerate(value.split(","), 1):
            key_id, sep, encoded = entry.strip().partition(":")
            if not sep or not key_id or not encoded:
                raise ConfigurationError(
                    f"{TOKEN_KEYS_VARIABLE}: entry {position} must look like "
                    "<key id>:<base64 of 32 random bytes>",
                    variable=TOKEN_KEYS_VARIABLE,
                )
            pairs.append((key_id.strip(), _decode_key(position, key_id.strip(), encoded)))
        return cls(pairs)

    @property
    def enabled(self) -> bool:
        """True when at least one key is configured (tokens are encrypted)."""
        return self._current is not None

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The configured key ids, the current (encrypting) one first."""
        return tuple(self._keys)

    def encrypt(self, value: str | None, context: Sequence[str]) -> str | None:
        """The value to store for ``value``: encrypted with the current key, or as given.

        ``context`` (e.g. provider, provider account id, column) is authenticated with
        the ciphertext: :meth:`decrypt` must be given the same context.
        """
        if value is None or self._current is None:
            return value
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(
            nonce, value.encode("utf-8"), _associated(self._current, context)
        )
        encoded = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{_FORMAT}:{self._current}:{encoded}"

    def decrypt(self, stored: str | None, context: Sequence[str]) -> str | None:
        """The original value of a stored one.

        A value without the ``v1:`` prefix was stored before encryption was configured
        and is returned as is (so a plaintext token that itself began with ``v1:`` would
        be taken for a ciphertext; no major provider's tokens do). Raises
        :class:`TokenDecryptionError` if the key id is not configured or the value fails
        authentication.
        """
        if stored is None or not stored.startswith(_FORMAT + ":"):
            return stored
        key_id, _, encoded = stored[len(_FORMAT) + 1 :].partition(":")
        aead = self._keys.get(key_id)
        if aead is None:
            raise TokenDecryptionError(
                f"stored OAuth token uses key id {key_id!r}, which {TOKEN_KEYS_VARIABLE} "
                "does not list" + ("" if self.enabled else " (no keys are configured)")
            )
        from cryptography.exceptions import InvalidTag  # (installed: a key was configured)

        try:
            raw = base64.urlsafe_b64decode(encoded.encode("ascii"))
            if len(raw) < _NONCE_BYTES + 16:
                raise ValueError("too short")
            plain = aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(key_id, context)
            )
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise TokenDecryptionError(
                f"stored OAuth token failed authentication with key {key_id!r}: it was "
                "altered, moved from another row or column, or the key changed"
            ) from exc
        return plain.decode("utf-8")

    def warn_if_disabled(self, backend: str) -> None:
        """Log a warning (once per cipher) when storing tokens unencrypted on a server.

        An embedded database (SQLite) is for development, where plaintext tokens are
        expected; a production database without a key is worth one line in the log.
        """
        if self._current is None and not self._warned and not get_dialect(backend).is_embedded:
            self._warned = True
            logger.warning(
                "%s is not set: OAuth access and refresh tokens are stored unencrypted. "
                "Set it to '<key id>:<base64 of 32 random bytes>' to encrypt them at rest.",
                TOKEN_KEYS_VARIABLE,
            )

    def __repr__(self) -> str:
        if self._current is None:
            return "<TokenCipher disabled>"
        return f"<TokenCipher AES-256-GCM keys={list(self._keys)!r} current={self._current!r}>"


def _aesgcm(key: bytes) -> AESGCM:
    aead = require(
        "cryptography.hazmat.primitives.ciphers.aead",
        extra="crypto",
        needed_for=f"Encrypting OAuth tokens ({TOKEN_KEYS_VARIABLE})",
        variable=TOKEN_KEYS_VARIABLE,
    )
    cipher: AESGCM = aead.AESGCM(key)
    return cipher


def _associated(key_id: str, context: Sequence[str]) -> bytes:
    # JSON makes the encoding unambiguous whatever characters the parts contain.
    return json.dumps([_AD_LABEL, key_id, *context], ensure_ascii=False).encode("utf-8")


def _check_key(position: int, key_id: str, key: bytes) -> None:
    if not _KEY_ID.match(key_id):
        raise ConfigurationError(
            f"{TOKEN_KEYS_VARIABLE}: entry {position} has an invalid key id; use 1-64 "
            "characters from A-Z a-z 0-9 _ . -",
            variable=TOKEN_KEYS_VARIABLE,
        )
    if len(key) != _KEY_BYTES:
        raise ConfigurationError(
            f"{TOKEN_KEYS_VARIABLE}: key {key_id!r} must be {_KEY_BYTES} bytes "
            f"(AES-256), got {len(key)}",
            variable=TOKEN_KEYS_VARIABLE,
        )


def _decode_key(position: int, key_id: str, encoded: str) -> bytes:
    text = encoded.strip()
    try:
        # Accept standard and URL-safe alphabets, with or without padding.
        return base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"{TOKEN_KEYS_VARIABLE}: key {key_id!r} (entry {position}) is not valid base64",
            variable=TOKEN_KEYS_VARIABLE,
        ) from None


def load_token_cipher(
    environ: Mapping[str, str] | None = None, *, env_file: str | os.PathLike[str] | None = ".env"
) -> TokenCipher:
    """A cipher from ``DUALDB_TOKEN_KEYS`` in ``environ`` (default ``os.environ``) over ``.env``.

    Same precedence as :func:`dualdb.load_settings`: a real environment variable wins
    over the ``.env`` file. Raises :class:`dualdb.ConfigurationError` for a bad value.
    """
    return _cipher_for(_read_keys(environ, env_file))


def default_token_cipher() -> TokenCipher:
    """The cipher the OAuth functions use when given none: :func:`load_token_cipher`.

    One instance per distinct configuration value, so the plaintext warning is logged
    once per process and keys are parsed once.
    """
    return _cipher_for(_read_keys(None, ".env"))


def _read_keys(
    environ: Mapping[str, str] | None, env_file: str | os.PathLike[str] | None
) -> str | None:
    env = os.environ if environ is None else environ
    value = env.get(TOKEN_KEYS_VARIABLE)
    if value is None and env_file is not None and Path(env_file).is_file():
        value = dotenv_values(env_file).get(TOKEN_KEYS_VARIABLE)
    return value


@functools.lru_cache(maxsize=8)
def _cipher_for(value: str | None) -> TokenCipher:
    return TokenCipher.parse(value)
