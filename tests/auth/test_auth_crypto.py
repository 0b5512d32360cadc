"""Tokens, token hashes and the OAuth token cipher (no database involved)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from auth_helpers import key_entry

import dualdb
from dualdb.auth import TokenCipher, TokenDecryptionError, hash_token, load_token_cipher, new_token

CONTEXT = ("github", "1234", "access_token")


def test_new_token_has_256_bits_of_url_safe_randomness() -> None:
    token = new_token()
    raw = base64.urlsafe_b64decode(token + "=")
    assert len(raw) == 32
    assert len({new_token() for _ in range(1000)}) == 1000


def test_hash_token_is_hex_sha256() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_cipher_round_trips_a_token(cipher: TokenCipher) -> None:
    stored = cipher.encrypt("gho_secret", CONTEXT)
    assert cipher.decrypt(stored, CONTEXT) == "gho_secret"


def test_ciphertext_names_format_and_key_id_and_hides_the_value(cipher: TokenCipher) -> None:
    stored = cipher.encrypt("gho_secret", CONTEXT)
    assert stored is not None
    assert stored.startswith("v1:k1:")
    assert "gho_secret" not in stored


def test_same_value_encrypts_differently_each_time(cipher: TokenCipher) -> None:
    assert cipher.encrypt("x", CONTEXT) != cipher.encrypt("x", CONTEXT)


@pytest.mark.parametrize(
    "other",
    [
        ("github", "9999", "access_token"),  # another account's row
        ("gitlab", "1234", "access_token"),  # another provider
        ("github", "1234", "refresh_token"),  # another column
    ],
)
def test_ciphertext_moved_to_another_row_or_column_fails(
    cipher: TokenCipher, other: tuple[str, str, str]
) -> None:
    stored = cipher.encrypt("gho_secret", CONTEXT)
    with pytest.raises(TokenDecryptionError):
        cipher.decrypt(stored, other)


def test_tampered_ciphertext_fails(cipher: TokenCipher) -> None:
    stored = cipher.encrypt("gho_secret", CONTEXT)
    assert stored is not None
    flipped = stored[:-3] + ("A" if stored[-3] != "A" else "B") + stored[-2:]
    with pytest.raises(TokenDecryptionError):
        cipher.decrypt(flipped, CONTEXT)


def test_old_key_still_decrypts_after_rotation() -> None:
    old = TokenCipher.parse(key_entry("2024", 1))
    rotated = TokenCipher.parse(f"{key_entry('2025', 2)},{key_entry('2024', 1)}")
    stored = old.encrypt("gho_secret", CONTEXT)
    assert rotated.decrypt(stored, CONTEXT) == "gho_secret"
    new = rotated.encrypt("gho_secret", CONTEXT)
    assert new is not None and new.startswith("v1:2025:")


def test_value_of_a_removed_key_fails_with_its_key_id() -> None:
    stored = TokenCipher.parse(key_entry("2024", 1)).encrypt("gho_secret", CONTEXT)
    with pytest.raises(TokenDecryptionError, match="2024"):
        TokenCipher.parse(key_entry("2025", 2)).decrypt(stored, CONTEXT)


def test_same_key_id_with_another_key_fails() -> None:
    stored = TokenCipher.parse(key_entry("k", 1)).encrypt("gho_secret", CONTEXT)
    with pytest.raises(TokenDecryptionError):
        TokenCipher.parse(key_entry("k", 2)).decrypt(stored, CONTEXT)


def test_disabled_cipher_stores_and_returns_values_as_given() -> None:
    cipher = TokenCipher.parse(None)
    assert not cipher.enabled
    assert cipher.encrypt("gho_secret", CONTEXT) == "gho_secret"
    assert cipher.decrypt("gho_secret", CONTEXT) == "gho_secret"


def test_values_stored_before_a_key_was_set_still_read(cipher: TokenCipher) -> None:
    assert cipher.decrypt("gho_plain", CONTEXT) == "gho_plain"


def test_none_stays_none(cipher: TokenCipher) -> None:
    assert cipher.encrypt(None, CONTEXT) is None
    assert cipher.decrypt(None, CONTEXT) is None


@pytest.mark.parametrize(
    "value",
    [
        "k1",  # no key
        "k1:",  # empty key
        ":" + base64.b64encode(b"\x01" * 32).decode(),  # no key id
        "k1:not base64!",
        "k1:" + base64.b64encode(b"\x01" * 16).decode(),  # AES-128 size: refused
        f"{key_entry('k1', 1)},{key_entry('k1', 2)}",  # duplicate key id
        "bad id:" + base64.b64encode(b"\x01" * 32).decode(),
    ],
)
def test_bad_key_configuration_is_a_configuration_error_naming_the_variable(value: str) -> None:
    with pytest.raises(dualdb.ConfigurationError) as caught:
        TokenCipher.parse(value)
    assert caught.value.variable == "DUALDB_TOKEN_KEYS"
    assert "DUALDB_TOKEN_KEYS" in str(caught.value)


def test_configuration_error_never_shows_key_material() -> None:
    material = base64.b64encode(b"\x07" * 31).decode()  # one byte short
    with pytest.raises(dualdb.ConfigurationError) as caught:
        TokenCipher.parse(f"k1:{material}")
    assert material not in str(caught.value)
    assert material[:8] not in str(caught.value)


def test_repr_shows_key_ids_but_no_key_material() -> None:
    entry = key_entry("k1", 3)
    text = repr(TokenCipher.parse(entry))
    assert "k1" in text
    assert entry.split(":", 1)[1] not in text


def test_url_safe_base64_keys_without_padding_are_accepted() -> None:
    key = bytes(range(200, 232))
    encoded = base64.urlsafe_b64encode(key).decode().rstrip("=")
    cipher = TokenCipher.parse(f"k:{encoded}")
    assert cipher.decrypt(cipher.encrypt("t", CONTEXT), CONTEXT) == "t"


def test_keys_load_from_the_environment() -> None:
    cipher = load_token_cipher({"DUALDB_TOKEN_KEYS": key_entry("env", 4)}, env_file=None)
    assert cipher.key_ids == ("env",)


def test_keys_load_from_dotenv_when_not_in_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DUALDB_TOKEN_KEYS={key_entry('file', 5)}\n")
    assert load_token_cipher({}, env_file=env_file).key_ids == ("file",)


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DUALDB_TOKEN_KEYS={key_entry('file', 5)}\n")
    environ = {"DUALDB_TOKEN_KEYS": key_entry("env", 4)}
    assert load_token_cipher(environ, env_file=env_file).key_ids == ("env",)


def test_no_configuration_gives_a_disabled_cipher() -> None:
    assert not load_token_cipher({}, env_file=None).enabled
