-- A refresh-token family's sign-in: no token of the family rotates once it is
-- ROSTER_SESSION_MAX_AGE old. Existing families date from their first token.
-- SQLite adds a NOT NULL column only with a default; the epoch is the safe
-- one (a row written without the column would already be too old to rotate).
ALTER TABLE refresh_tokens ADD COLUMN family_started_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE refresh_tokens SET family_started_at = (
    SELECT MIN(first.created_at) FROM refresh_tokens first
    WHERE first.family_id = refresh_tokens.family_id
);

-- The user's last sign-in or session refresh: what dormancy measures, so a
-- user who stays signed in does not expire.
ALTER TABLE users ADD COLUMN last_active_at TIMESTAMP;
UPDATE users SET last_active_at = last_login_at;
