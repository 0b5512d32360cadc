"""The secrets audit: the sign-up, login and OAuth flows, run with every logger at DEBUG,
leave no secret in any log line, ``repr``, message or traceback.

The secrets: the database password (PostgreSQL), session tokens, OAuth access and refresh
tokens, the keys that encrypt them, and the browser binding of an OAuth state. Each
is a distinctive string, so that finding it anywhere is a leak. (The flows bind only
hashes and ciphertexts of them, which this proves too: aiosqlite would log raw ones.)
"""

from __future__ import annotations

import base64
import traceback
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest
from auth_helpers import FakeClock

import dualdb
from dualdb import auth

ACCESS = "ya29.ACCESS-tok3n-audit"
REFRESH = "1//REFRESH-tok3n-audit"
BINDING = "BINDING-cookie-value-audit-0123456789"
KEY = bytes(range(32))
KEY_TEXT = base64.b64encode(KEY).decode()


async def test_no_secret_of_the_auth_flows_appears_in_any_output(
    migrated_db: dualdb.Database,
    migrated_database_url: str,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    cipher = auth.TokenCipher.parse(f"k1:{KEY_TEXT}")
    shown: list[str] = []  # reprs, messages and tracebacks of debug_logs the flows return

    def keep(*values: object) -> None:
        shown.extend(repr(v) for v in values)
        shown.extend(str(v) for v in values if not isinstance(v, str))

    # Sign-up and login.
    user = await auth.create_user(migrated_db, "audit@example.com", name="Audit", clock=clock)
    issued = await auth.create_session(
        migrated_db, user.id, timedelta(hours=1), ip="203.0.113.9", user_agent="ua", clock=clock
    )
    valid = await auth.validate_session(migrated_db, issued.token, clock=clock)
    wrong = await auth.validate_session(migrated_db, issued.token[::-1], clock=clock)
    keep(user, issued, valid, wrong, issued.session)

    # OAuth: state, callback, linked account with encrypted tokens.
    state = await auth.create_state(
        migrated_db,
        "https://app.example/cb",
        "verifier-audit",
        browser_binding=BINDING,
        clock=clock,
    )
    consumed = await auth.consume_state(migrated_db, state, BINDING, clock=clock)
    account = await auth.link_account(
        migrated_db,
        user.id,
        "github",
        "gh-1",
        access_token=ACCESS,
        refresh_token=REFRESH,
        cipher=cipher,
        clock=clock,
    )
    read_back = await auth.get_account(migrated_db, "github", "gh-1", cipher=cipher)
    assert read_back is not None and read_back.access_token == ACCESS
    keep(consumed, account, read_back, cipher)

    # Failures: a second user linking the same account, a token read with the wrong key.
    other = await auth.create_user(migrated_db, "other@example.com", clock=clock)
    failures: list[BaseException] = []
    try:
        await auth.link_account(
            migrated_db, other.id, "github", "gh-1", access_token=ACCESS, cipher=cipher
        )
    except dualdb.DatabaseError as exc:
        failures.append(exc)
    try:
        await auth.get_account(
            migrated_db, "github", "gh-1", cipher=auth.TokenCipher.parse(f"k1:{'A' * 43}=")
        )
    except dualdb.DatabaseError as exc:
        failures.append(exc)
    assert len(failures) == 2
    shown.extend("".join(traceback.format_exception(exc)) for exc in failures)
    assert await auth.revoke_session(migrated_db, issued.token)

    secrets = [issued.token, ACCESS, REFRESH, BINDING, KEY_TEXT, KEY.hex()]
    password = urlsplit(migrated_database_url).password
    if password:
        secrets += [password, unquote(password)]
    output = "\n".join([debug_logs.text, *shown])
    assert debug_logs.text, "the flows logged nothing: the audit would prove nothing"
    for secret in secrets:
        assert secret not in output, f"a secret appeared ({secrets.index(secret)})"
