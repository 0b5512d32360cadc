-- Bind each OAuth sign-in state to the browser that started the flow.
-- depends: 0002_user_sessions 0003_oauth

-- A state that any browser can consume lets an attacker finish their own sign-in in the
-- victim's browser (login CSRF, CVE-2025-68481). dualdb.auth stores the SHA-256 (hex) of a
-- random value the application keeps in the user's cookie, and consumes a state only with
-- the same hash, in the one DELETE ... RETURNING statement.
-- NOT NULL with a default because SQLite can only add a NOT NULL column that has one; the
-- empty string is never a SHA-256, so a state stored before this migration cannot be
-- consumed (they expire within minutes anyway).

ALTER TABLE oauth_sessions ADD COLUMN browser_binding TEXT NOT NULL DEFAULT '';
