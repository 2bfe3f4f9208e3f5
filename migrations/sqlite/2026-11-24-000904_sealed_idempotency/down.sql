-- Sealed answers mean nothing to the code before this migration.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD COLUMN response_headers TEXT;
