-- Undo 0002_user_sessions, statement for statement in reverse order.

DROP INDEX user_sessions_expires_at_idx;

DROP INDEX user_sessions_user_id_idx;

DROP INDEX user_sessions_token_hash_key;

DROP TABLE user_sessions;
