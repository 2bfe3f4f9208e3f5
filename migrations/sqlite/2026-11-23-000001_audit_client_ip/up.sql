-- The client's address (the peer, or the forwarded one behind a trusted proxy)
-- of the request that caused the event; NULL for the service's own actions.
ALTER TABLE audit_events ADD COLUMN client_ip TEXT;
