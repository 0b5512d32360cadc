"""The README's auth example ("Users, sessions and OAuth") runs as written, on both backends.

Its Python blocks are executed into one namespace; the flows are then driven with fake
stand-ins for the parts an application supplies (WebAuthn verification, the provider).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import dualdb
from dualdb import auth

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Users, sessions and OAuth"
BROWSER = {"ip": "203.0.113.7", "user_agent": "Firefox/140"}


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    section = README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "no python blocks in the README section"
    module = ModuleType("readme_auth_example")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    try:
        for block in blocks:
            exec(compile(block, str(README), "exec"), module.__dict__)  # noqa: S102 - our docs
        yield module
    finally:
        del sys.modules[module.__name__]


async def test_sign_up_then_current_user_then_log_out(
    migrated_db: dualdb.Database, example: ModuleType
) -> None:
    token = await example.sign_up(
        migrated_db, "Ada@Example.com", "Ada", b"cred", b"public-key", 0, **BROWSER
    )
    cookies = {example.SESSION_COOKIE: token}
    user = await example.current_user(migrated_db, cookies)
    assert user is not None and user.email == "ada@example.com"
    await example.log_out(migrated_db, cookies)
    assert await example.current_user(migrated_db, cookies) is None


async def test_passkey_log_in_rejects_a_replayed_counter(
    migrated_db: dualdb.Database, example: ModuleType
) -> None:
    await example.sign_up(migrated_db, "ada@example.com", "Ada", b"cred", b"pk", 3, **BROWSER)

    def verify(public_key: bytes, stored: int) -> int:
        assert public_key == b"pk"
        return 4  # what the authenticator signed

    assert await example.log_in(migrated_db, b"cred", verify, **BROWSER) is not None
    assert await example.log_in(migrated_db, b"cred", verify, **BROWSER) is None


async def test_github_sign_in_creates_links_and_signs_in(
    migrated_db: dualdb.Database, example: ModuleType
) -> None:
    redirect = await example.start_github_sign_in(migrated_db, {}, "client-1")
    state = re.search(r"state=([^&]+)", redirect.url).group(1)  # type: ignore[union-attr]
    seen: dict[str, Any] = {}

    async def exchange_code(code: str, verifier: str | None, redirect_uri: str) -> Any:
        seen.update(code=code, verifier=verifier, redirect_uri=redirect_uri)
        return example.ProviderTokens("gho_access", "ghr_refresh", None, "read:user")

    async def fetch_identity(access_token: str) -> Any:
        return example.ProviderIdentity("583231", "octocat@github.com", "The Octocat")

    token = await example.github_callback(
        migrated_db,
        {"state": state, "code": "c0de"},
        redirect.set_cookies,
        exchange_code,
        fetch_identity,
        **BROWSER,
    )
    assert token is not None
    assert seen["code"] == "c0de" and seen["redirect_uri"] == example.CALLBACK_URL
    user = await example.current_user(migrated_db, {example.SESSION_COOKIE: token})
    assert user == await auth.find_user_by_account(migrated_db, "github", "583231")
    # The same callback URL cannot be used twice, nor from another browser.
    again = await example.github_callback(
        migrated_db,
        {"state": state, "code": "c0de"},
        redirect.set_cookies,
        exchange_code,
        fetch_identity,
        **BROWSER,
    )
    assert again is None


async def test_github_callback_from_another_browser_is_refused(
    migrated_db: dualdb.Database, example: ModuleType
) -> None:
    redirect = await example.start_github_sign_in(migrated_db, {}, "client-1")
    state = re.search(r"state=([^&]+)", redirect.url).group(1)  # type: ignore[union-attr]

    async def never(*args: Any) -> Any:
        raise AssertionError("the provider must not be called")

    victim_cookies = {example.BINDING_COOKIE: auth.new_token()}
    result = await example.github_callback(
        migrated_db, {"state": state, "code": "c"}, victim_cookies, never, never, **BROWSER
    )
    assert result is None


async def test_purge_runs(migrated_db: dualdb.Database, example: ModuleType) -> None:
    assert await example.purge(migrated_db) == 0
