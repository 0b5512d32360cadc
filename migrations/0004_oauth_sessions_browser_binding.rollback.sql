-- Rollback of 0004_oauth_sessions_browser_binding: drop the column it added
-- (SQLite >= 3.35 drops a column that no index or constraint uses).

ALTER TABLE oauth_sessions DROP COLUMN browser_binding;
