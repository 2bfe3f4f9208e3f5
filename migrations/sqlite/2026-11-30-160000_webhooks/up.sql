-- Events (docs/webhooks.md): written in the transaction of the change that
-- causes them; delivered to webhook endpoints through the outbox and read
-- by polling consumers at /v1/events. `seq` orders them as they committed
-- (on PostgreSQL the writers take a lock before inserting an event).
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    user_id     TEXT,
    -- A ping is for this endpoint alone, and never in the feed.
    endpoint_id TEXT,
    payload     TEXT NOT NULL
);
CREATE INDEX events_occurred_idx ON events (occurred_at);

-- The customers an event belongs to: the customers of its audit event.
CREATE TABLE event_customers (
    event_seq   BIGINT NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (customer_id, event_seq)
);
CREATE INDEX event_customers_event_idx ON event_customers (event_seq);

CREATE TABLE webhook_endpoints (
    id                     TEXT PRIMARY KEY NOT NULL,
    url                    TEXT NOT NULL,
    description            TEXT,
    customer_id            TEXT REFERENCES customers (id) ON DELETE CASCADE,
    -- A JSON array of event types; empty for every type.
    event_types            TEXT NOT NULL DEFAULT '[]',
    -- The signing secret, sealed (see auth::sealing).
    secret                 TEXT NOT NULL,
    previous_secret        TEXT,
    previous_secret_until  TIMESTAMP,
    disabled_at            TIMESTAMP,
    disabled_reason        TEXT,
    version                INTEGER NOT NULL DEFAULT 1,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_customer_idx ON webhook_endpoints (customer_id);

-- Keys made at first use, for what roster seals when no key is configured.
CREATE TABLE sealing_keys (
    name       TEXT PRIMARY KEY NOT NULL,
    key        TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- A webhook delivery is an outbox row of kind 'webhook': recipient is the
-- endpoint id, text_body the signed body, user_id the user the event is
-- about (one user's events reach an endpoint in event order).
ALTER TABLE email_outbox ADD COLUMN event_id TEXT;
ALTER TABLE email_outbox ADD COLUMN event_seq BIGINT;
ALTER TABLE email_outbox ADD COLUMN response_status INTEGER;
ALTER TABLE email_outbox ADD COLUMN latency_ms INTEGER;
CREATE INDEX email_outbox_webhook_order_idx ON email_outbox (recipient, user_id, event_seq);
