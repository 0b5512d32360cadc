-- OAuth: accounts a user linked at external providers, and the sign-in state kept between
-- the redirect to the provider and its callback (PKCE code verifier included).
-- depends: 0001_users

CREATE TABLE oauth_providers (
    id UUID PRIMARY KEY NOT NULL,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    access_token TEXT,
    refresh_token TEXT,
    token_expires_at TIMESTAMPTZ,
    scope TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX oauth_providers_provider_provider_id_key
    ON oauth_providers (provider, provider_id);

CREATE INDEX oauth_providers_user_id_idx ON oauth_providers (user_id);

CREATE TABLE oauth_sessions (
    id UUID PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    code_verifier TEXT,
    redirect_uri TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX oauth_sessions_state_key ON oauth_sessions (state);

CREATE INDEX oauth_sessions_expires_at_idx ON oauth_sessions (expires_at);
