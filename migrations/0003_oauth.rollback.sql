-- Undo 0003_oauth, statement for statement in reverse order.

DROP INDEX oauth_sessions_expires_at_idx;

DROP INDEX oauth_sessions_state_key;

DROP TABLE oauth_sessions;

DROP INDEX oauth_providers_user_id_idx;

DROP INDEX oauth_providers_provider_provider_id_key;

DROP TABLE oauth_providers;
