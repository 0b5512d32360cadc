"""Development data: an admin, a regular user, and a GitHub account linked to the user.

Run by ``dualdb seed`` (which refuses PostgreSQL unless given ``--allow-production``).
Idempotent: every row has a fixed id and is written with ``INSERT … ON CONFLICT (id) DO
UPDATE`` to the same values, so a second run leaves exactly the same rows. Values are what
the application itself writes: lower-case hyphenated UUIDv7 text, timestamps as UTC text
``YYYY-MM-DD HH:MM:SS.ffffff+00:00`` (PostgreSQL reads that as ``timestamptz``), emails
already normalised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ADMIN_ID = "01890000-0000-7000-8000-000000000001"
USER_ID = "01890000-0000-7000-8000-000000000002"
GITHUB_ACCOUNT_ID = "01890000-0000-7000-8000-000000000003"
SEEDED_AT = "2024-01-01 00:00:00.000000+00:00"

USERS: tuple[Mapping[str, Any], ...] = (
    {"id": ADMIN_ID, "email": "admin@example.com", "name": "Dev Admin", "role": "admin"},
    {"id": USER_ID, "email": "user@example.com", "name": "Dev User", "role": "user"},
)

OAUTH_ACCOUNTS: tuple[Mapping[str, Any], ...] = (
    {
        "id": GITHUB_ACCOUNT_ID,
        "user_id": USER_ID,
        "provider": "github",
        "provider_id": "1000001",
        "access_token": "dev-access-token-not-a-secret",
        "refresh_token": None,
        "token_expires_at": None,
        "scope": "read:user user:email",
    },
)


def _placeholder(backend: str) -> Callable[[str], str]:
    # Both drivers take a dict of named parameters, each in its own spelling.
    return (lambda name: f":{name}") if backend == "sqlite" else (lambda name: f"%({name})s")


def _upsert(conn: Any, backend: str, table: str, row: Mapping[str, Any]) -> None:
    p = _placeholder(backend)
    columns = list(row)
    updates = ", ".join(f"{col} = excluded.{col}" for col in columns if col != "id")
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(p(col) for col in columns)}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )
    cursor = conn.cursor()
    try:
        cursor.execute(sql, dict(row))
    finally:
        cursor.close()


def seed(conn: Any, backend: str) -> list[str]:
    """Write the development rows; return one line per row ensured."""
    lines = []
    for user in USERS:
        row = {
            **user,
            "webauthn_counter": 0,
            "created_at": SEEDED_AT,
            "updated_at": SEEDED_AT,
            "deleted_at": None,
        }
        _upsert(conn, backend, "users", row)
        lines.append(f"user {user['email']} ({user['role']})")
    emails = {user["id"]: user["email"] for user in USERS}
    for account in OAUTH_ACCOUNTS:
        _upsert(
            conn,
            backend,
            "oauth_providers",
            {**account, "created_at": SEEDED_AT, "updated_at": SEEDED_AT},
        )
        lines.append(
            f"{account['provider']} account {account['provider_id']} linked to "
            f"{emails[account['user_id']]}"
        )
    return lines
