-- Login sessions. Only a hash of the session token is stored, never the token itself.
-- depends: 0001_users

CREATE TABLE user_sessions (
    id UUID PRIMARY KEY NOT NULL,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    ip_address TEXT,
    user_agent TEXT
);

CREATE UNIQUE INDEX user_sessions_token_hash_key ON user_sessions (token_hash);

CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);

CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);
