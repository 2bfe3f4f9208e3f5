-- ROSTER_CONFIRMATION_EMAILS_PER_HOUR counts the confirmation emails a caller
-- asked for in the last hour: their audit events with a confirmation address.
CREATE INDEX audit_events_user_confirmations_idx
    ON audit_events (actor_user_id, occurred_at) WHERE confirmation_email IS NOT NULL;
CREATE INDEX audit_events_client_confirmations_idx
    ON audit_events (actor_client_id, occurred_at) WHERE confirmation_email IS NOT NULL;
