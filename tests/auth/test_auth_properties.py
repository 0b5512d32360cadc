"""Hypothesis: arbitrary Unicode round-trips exactly through the auth layer, on both backends.

Each example runs inside a transaction that is rolled back (by raising a sentinel), so
examples neither see nor collide with each other's rows.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dualdb
from dualdb import auth

# Everything both backends can store as text: UTF-8 encodable (no lone surrogates) and
# no NUL (PostgreSQL cannot store it).
any_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))


def _email_char(char: str) -> bool:
    return char != "@" and not char.isspace() and unicodedata.category(char) != "Cc"


email_part = st.text(st.characters(codec="utf-8").filter(_email_char), min_size=1, max_size=20)
emails = st.builds(lambda local, domain: f"{local}@{domain}", email_part, email_part)


class Rollback(Exception):
    """Raised at the end of an example to roll its transaction back."""


@given(
    email=emails,
    name=st.none() | any_text,
    user_agent=any_text.filter(lambda s: len(s) <= auth.MAX_USER_AGENT_LENGTH),
)
async def test_unicode_user_fields_round_trip_exactly(
    migrated_db: dualdb.Database, email: str, name: str | None, user_agent: str
) -> None:
    with pytest.raises(Rollback):
        async with migrated_db.transaction() as tx:
            created = await auth.create_user(tx, email, name=name)
            assert created.email == auth.normalize_email(email)
            assert created.name == name
            assert await auth.get_user(tx, created.id) == created
            assert await auth.get_user_by_email(tx, email) == created

            issued = await auth.create_session(tx, created.id, timedelta(hours=1), None, user_agent)
            found = await auth.validate_session(tx, issued.token)
            assert found is not None
            assert found.session.user_agent == user_agent
            assert found.user == created
            raise Rollback


@given(provider_id=any_text, access_token=any_text, scope=st.none() | any_text)
async def test_unicode_oauth_fields_round_trip_exactly_through_encryption(
    migrated_db: dualdb.Database,
    user: auth.User,
    cipher: auth.TokenCipher,
    provider_id: str,
    access_token: str,
    scope: str | None,
) -> None:
    with pytest.raises(Rollback):
        async with migrated_db.transaction() as tx:
            await auth.link_account(
                tx,
                user.id,
                "provider",
                provider_id,
                access_token=access_token,
                scope=scope,
                cipher=cipher,
            )
            account = await auth.get_account(tx, "provider", provider_id, cipher=cipher)
            assert account is not None
            assert (account.provider_id, account.access_token, account.scope) == (
                provider_id,
                access_token,
                scope,
            )
            assert await auth.find_user_by_account(tx, "provider", provider_id) == user
            raise Rollback
