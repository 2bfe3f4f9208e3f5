-- The API client that made this one through the API, if one did: a client
-- holds no more than its creator's rights (docs/api.md, "API clients").
ALTER TABLE api_clients ADD COLUMN created_by_client TEXT;

-- Clients that a client made before: their creation event names it.
UPDATE api_clients SET created_by_client = (
    SELECT e.actor_client_id FROM audit_events e
    WHERE e.action = 'api_client.created'
      AND e.actor_client_id IS NOT NULL
      AND e.changes LIKE '%"after":"' || api_clients.id || '"%'
    ORDER BY e.occurred_at
    LIMIT 1
)
WHERE created_by IS NULL;
