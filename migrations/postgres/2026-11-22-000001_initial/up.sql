-- roster schema (PostgreSQL). Ids, enums and JSON are TEXT; timestamps are UTC.
-- Every list in the API is keyset-paginated newest first, so each has a
-- (filter..., sort_time DESC, id DESC) index.

CREATE TABLE customers (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    name_lower     TEXT NOT NULL,
    licensed_seats INTEGER CHECK (licensed_seats IS NULL OR licensed_seats >= 0),
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX customers_created_idx ON customers (created_at DESC, id DESC);
CREATE INDEX customers_name_idx ON customers (name_lower);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    email_lower         TEXT NOT NULL UNIQUE,
    first_name          TEXT NOT NULL,
    first_name_lower    TEXT NOT NULL,
    last_name           TEXT NOT NULL,
    last_name_lower     TEXT NOT NULL,
    job_title           TEXT,
    status              TEXT NOT NULL CHECK (status IN ('invited', 'active', 'inactive', 'expired', 'retired')),
    platform_role       TEXT NOT NULL DEFAULT 'none' CHECK (platform_role IN ('none', 'admin')),
    password_hash       TEXT,
    password_changed_at TIMESTAMP,
    session_version     INTEGER NOT NULL DEFAULT 0,
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    locked_at           TIMESTAMP,
    invited_at          TIMESTAMP,
    activated_at        TIMESTAMP,
    last_login_at       TIMESTAMP,
    retired_at          TIMESTAMP,
    status_changed_at   TIMESTAMP NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);
CREATE INDEX users_status_created_idx ON users (status, created_at DESC, id DESC);
CREATE INDEX users_first_name_idx ON users (first_name_lower);
CREATE INDEX users_last_name_idx ON users (last_name_lower);
CREATE INDEX users_dormancy_idx ON users (status, status_changed_at);
CREATE INDEX users_platform_role_idx ON users (platform_role);

CREATE TABLE memberships (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('standard_user', 'full_access', 'admin')),
    settings    TEXT NOT NULL DEFAULT '{}',
    added_at    TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, user_id)
);
CREATE INDEX memberships_customer_added_idx ON memberships (customer_id, added_at DESC, user_id DESC);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE action_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('activation', 'password_reset')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX action_tokens_user_idx ON action_tokens (user_id, purpose);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE api_clients (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    customer_id  TEXT REFERENCES customers (id) ON DELETE CASCADE,
    secret_hash  TEXT NOT NULL,
    created_by   TEXT,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_clients_created_idx ON api_clients (created_at DESC, id DESC);
CREATE INDEX api_clients_customer_idx ON api_clients (customer_id, created_at DESC, id DESC);

-- Audit events outlive the users and customers they mention: no foreign keys.
CREATE TABLE audit_events (
    id                 TEXT PRIMARY KEY NOT NULL,
    occurred_at        TIMESTAMP NOT NULL,
    action             TEXT NOT NULL,
    actor_user_id      TEXT,
    actor_client_id    TEXT,
    customer_id        TEXT,
    target_user_id     TEXT,
    requester_name     TEXT,
    confirmation_email TEXT,
    request_id         TEXT,
    changes            TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_customer_idx ON audit_events (customer_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_target_idx ON audit_events (target_user_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_action_idx ON audit_events (action, occurred_at DESC, id DESC);

CREATE TABLE email_outbox (
    id                  TEXT PRIMARY KEY NOT NULL,
    kind                TEXT NOT NULL,
    recipient           TEXT NOT NULL,
    subject             TEXT NOT NULL,
    text_body           TEXT NOT NULL,
    html_body           TEXT NOT NULL,
    user_id             TEXT,
    customer_id         TEXT,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMP NOT NULL,
    lease_owner         TEXT,
    lease_expires_at    TIMESTAMP,
    last_error          TEXT,
    provider_message_id TEXT,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    sent_at             TIMESTAMP
);
CREATE INDEX email_outbox_due_idx ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_created_idx ON email_outbox (created_at DESC, id DESC);
CREATE INDEX email_outbox_recipient_idx ON email_outbox (recipient, created_at DESC);

CREATE TABLE idempotency_keys (
    principal        TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    response_headers TEXT,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    private_key_pem TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);

-- Prefix search (`q`) uses LIKE 'prefix%'; text_pattern_ops makes it indexable
-- whatever the database collation.
CREATE INDEX users_email_prefix_idx ON users (email_lower text_pattern_ops);
CREATE INDEX users_first_name_prefix_idx ON users (first_name_lower text_pattern_ops);
CREATE INDEX users_last_name_prefix_idx ON users (last_name_lower text_pattern_ops);
CREATE INDEX customers_name_prefix_idx ON customers (name_lower text_pattern_ops);
