-- SCIM tokens are customer-scoped API clients of kind 'scim': the audit
-- actor (`actor_client_id`), the creator chain and revocation are theirs.
-- They authenticate with their secret itself (no grant), looked up by hash.
ALTER TABLE api_clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'client';
CREATE UNIQUE INDEX api_clients_scim_secret_idx ON api_clients (secret_hash) WHERE kind = 'scim';

-- What a SCIM client said about a member that roster does not model: a
-- `userName` other than the email (unique in the customer, compared
-- case-insensitively by `user_name_key`) and the `primary` flag of its email.
CREATE TABLE scim_members (
    customer_id   TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    user_name     TEXT,
    user_name_key TEXT,
    email_primary BOOLEAN,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, user_id),
    FOREIGN KEY (customer_id, user_id) REFERENCES memberships (customer_id, user_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX scim_members_user_name_idx ON scim_members (customer_id, user_name_key)
    WHERE user_name_key IS NOT NULL;
