-- A stored answer is now sealed under a key derived from the caller's
-- Idempotency-Key, and the key is kept only as a one-way derivation
-- (docs/api.md, "Idempotency-Key"). Rows written before held their answers,
-- API-client secrets among them, in plain text: they go. Location and ETag
-- travel inside the sealed answer.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys DROP COLUMN response_headers;
