"""normalize_email: the one place an address gets its canonical form."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dualdb.auth import InvalidEmail, normalize_email


def test_strips_and_lowercases() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM\n") == "ada.lovelace@example.com"


def test_lowercases_non_ascii_letters_unlike_sqlite_lower() -> None:
    assert normalize_email("ÉMILE@Exemple.FR") == "émile@exemple.fr"


def test_composed_and_decomposed_spellings_are_one_address() -> None:
    decomposed = "e\u0301mile@exemple.fr"
    assert normalize_email(decomposed) == normalize_email("émile@exemple.fr") == "émile@exemple.fr"


def test_lowercases_but_does_not_casefold() -> None:
    # casefold would turn ß into ss and merge two distinct mailboxes.
    assert normalize_email("Straße@Example.de") == "straße@example.de"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "no-at-sign",
        "@example.com",
        "ada@",
        "ada lovelace@example.com",
        "ada@exa\tmple.com",
        "ada\x00@example.com",
        "a" * 65 + "@example.com",
        "ada@" + "d" * 250 + ".com",
    ],
)
def test_rejects_empty_or_invalid_values(value: str) -> None:
    with pytest.raises(InvalidEmail):
        normalize_email(value)


def test_invalid_email_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        normalize_email("")


@given(st.text(min_size=1, max_size=80))
def test_normalizing_twice_changes_nothing(text: str) -> None:
    try:
        once = normalize_email(text)
    except InvalidEmail:
        return
    assert normalize_email(once) == once
    assert unicodedata.is_normalized("NFC", once)
