//! Recording admin actions: the audit row, and the optional confirmation email.

use std::net::IpAddr;

use serde_json::{json, Value};
use time::PrimitiveDateTime;

use crate::db::audit::{self, AuditRow};
use crate::db::DbConnection;
use crate::domain::permissions::Actor;
use crate::email::{self, EmailKind, EmailTemplates, Message};
use crate::error::ApiError;

/// Who acted, on whose request, and where to confirm it.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub actor_user_id: Option<String>,
    pub actor_client_id: Option<String>,
    pub actor_label: String,
    pub request_id: Option<String>,
    pub requester_name: Option<String>,
    pub confirmation_email: Option<String>,
    /// The client's address (see `client_ip`); none for the service itself.
    pub client_ip: Option<IpAddr>,
}

impl AuditContext {
    pub fn for_actor(actor: &Actor, request_id: &str) -> Self {
        AuditContext {
            actor_user_id: actor.user_id().map(str::to_string),
            actor_client_id: actor.client_id().map(str::to_string),
            actor_label: actor.principal_key(),
            request_id: Some(request_id.to_string()),
            ..Default::default()
        }
    }

    /// A user acting on their own account (activation, password change).
    pub fn for_self(user_id: &str, request_id: &str) -> Self {
        AuditContext {
            actor_user_id: Some(user_id.to_string()),
            actor_label: format!("user:{user_id}"),
            request_id: Some(request_id.to_string()),
            ..Default::default()
        }
    }

    /// The service itself (dormancy job, lockout).
    pub fn system() -> Self {
        AuditContext {
            actor_label: "system".into(),
            ..Default::default()
        }
    }

    pub fn with_client_ip(mut self, client_ip: Option<IpAddr>) -> Self {
        self.client_ip = client_ip;
        self
    }

    pub fn with_request(
        mut self,
        requester_name: Option<String>,
        confirmation_email: Option<String>,
    ) -> Self {
        self.requester_name = requester_name;
        self.confirmation_email = confirmation_email;
        self
    }
}

/// One audited action.
pub struct Event<'a> {
    pub action: &'a str,
    pub customer_id: Option<&'a str>,
    pub target_user_id: Option<&'a str>,
    /// `{"field": {"before": …, "after": …}}`.
    pub changes: Value,
    /// A sentence for the confirmation email, e.g. "Jane Doe was inactivated".
    pub summary: String,
    pub customer_name: Option<&'a str>,
}

pub fn record(
    conn: &mut DbConnection,
    templates: &EmailTemplates,
    context: &AuditContext,
    event: Event,
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    audit::insert(
        conn,
        &AuditRow {
            id: crate::db::new_id(),
            occurred_at: now,
            action: event.action.to_string(),
            actor_user_id: context.actor_user_id.clone(),
            actor_client_id: context.actor_client_id.clone(),
            customer_id: event.customer_id.map(str::to_string),
            target_user_id: event.target_user_id.map(str::to_string),
            requester_name: context.requester_name.clone(),
            confirmation_email: context.confirmation_email.clone(),
            request_id: context.request_id.clone(),
            changes: event.changes.to_string(),
            client_ip: context.client_ip.map(|ip| ip.to_string()),
        },
    )?;
    if let Some(address) = &context.confirmation_email {
        email::enqueue(
            conn,
            templates,
            Message {
                kind: EmailKind::ActionConfirmation,
                to: address.clone(),
                context: json!({
                    "summary": event.summary,
                    "action": event.action,
                    "actor": context.actor_label,
                    "requester_name": context.requester_name,
                    "customer_name": event.customer_name,
                    "occurred_at": crate::clock::from_db(now)
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                }),
                user_id: event.target_user_id.map(str::to_string),
                customer_id: event.customer_id.map(str::to_string),
            },
            now,
        )?;
    }
    Ok(())
}

/// `{"field": {"before": b, "after": a}}` for each pair that differs.
pub fn diff(pairs: &[(&str, Value, Value)]) -> Value {
    let mut changes = serde_json::Map::new();
    for (field, before, after) in pairs {
        if before != after {
            changes.insert(field.to_string(), json!({"before": before, "after": after}));
        }
    }
    Value::Object(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_keeps_only_changed_fields() {
        let changes = diff(&[
            ("first_name", json!("Jane"), json!("Janet")),
            ("last_name", json!("Doe"), json!("Doe")),
        ]);
        assert_eq!(
            changes,
            json!({"first_name": {"before": "Jane", "after": "Janet"}})
        );
    }
}
