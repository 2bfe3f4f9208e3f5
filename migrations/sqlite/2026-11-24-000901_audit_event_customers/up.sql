-- The customers each audit event belongs to (docs/api.md, "Audit"). A
-- customer admin reads the events of the customers they administer, and no
-- others. `occurred_at` is the event's, copied so that one customer's events
-- are one index range, newest first.
CREATE TABLE audit_event_customers (
    event_id    TEXT NOT NULL REFERENCES audit_events (id) ON DELETE CASCADE,
    customer_id TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, customer_id)
);
CREATE INDEX audit_event_customers_customer_idx
    ON audit_event_customers (customer_id, occurred_at DESC, event_id DESC);

-- An event in a customer belongs to that customer.
INSERT INTO audit_event_customers (event_id, customer_id, occurred_at)
SELECT id, customer_id, occurred_at FROM audit_events WHERE customer_id IS NOT NULL;

-- An earlier event about a user that names no customer belongs to the
-- customers the user had already joined when it happened and still belongs
-- to (a membership removed since is not on record); an event by a customer
-- admin or a customer client only to those of them its actor administers.
INSERT INTO audit_event_customers (event_id, customer_id, occurred_at)
SELECT e.id, m.customer_id, e.occurred_at
FROM audit_events e
JOIN memberships m ON m.user_id = e.target_user_id AND m.added_at <= e.occurred_at
WHERE e.customer_id IS NULL
  AND (
    (e.actor_client_id IS NULL AND (
        e.actor_user_id IS NULL
        OR e.actor_user_id = e.target_user_id
        OR EXISTS (SELECT 1 FROM users p
                   WHERE p.id = e.actor_user_id AND p.platform_role = 'admin')
        OR EXISTS (SELECT 1 FROM memberships a
                   WHERE a.user_id = e.actor_user_id AND a.customer_id = m.customer_id
                     AND a.role = 'admin')))
    OR EXISTS (SELECT 1 FROM api_clients c
               WHERE c.id = e.actor_client_id
                 AND (c.customer_id IS NULL OR c.customer_id = m.customer_id))
  );
