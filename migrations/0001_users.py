"""Users: application-generated time-ordered UUIDs, one account per email, WebAuthn, soft delete.

A Python migration because ``webauthn_public_key`` is ``BYTEA`` on PostgreSQL and ``BLOB`` on
SQLite; ``typed_sql`` fills in each backend's declared type for ``{bytes}`` and the others.

The application stores email already normalised (NFC, lower-cased); the unique index on
``lower(email)`` makes two ASCII spellings of one address collide in the database itself,
even for writes that bypass the application. ``users_email_idx`` serves ``email = ?`` lookups.
``id`` is declared NOT NULL because SQLite lets a non-INTEGER primary key hold NULL otherwise.
"""

from yoyo import step

from dualdb.migrate.steps import typed_sql

__depends__: set[str] = set()

steps = [
    step(
        typed_sql(
            """
            CREATE TABLE users (
                id {uuid} PRIMARY KEY NOT NULL,
                email {text} NOT NULL,
                name {text},
                role {text} NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
                webauthn_id {text},
                webauthn_public_key {bytes},
                webauthn_counter {bigint} NOT NULL DEFAULT 0,
                created_at {timestamptz} NOT NULL,
                updated_at {timestamptz} NOT NULL,
                deleted_at {timestamptz}
            )
            """
        ),
        "DROP TABLE users",
    ),
    step(
        "CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))",
        "DROP INDEX users_email_lower_key",
    ),
    step(
        "CREATE INDEX users_email_idx ON users (email)",
        "DROP INDEX users_email_idx",
    ),
    step(
        # NULLs never collide in a unique index, on either backend: unique when set.
        "CREATE UNIQUE INDEX users_webauthn_id_key ON users (webauthn_id)",
        "DROP INDEX users_webauthn_id_key",
    ),
]
