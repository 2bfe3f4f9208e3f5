ALTER TABLE users DROP COLUMN last_active_at;
ALTER TABLE refresh_tokens DROP COLUMN family_started_at;
