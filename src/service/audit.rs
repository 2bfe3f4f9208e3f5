//! Recording admin actions: the audit row, and the optional confirmation email.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{json, Map, Value};
use time::PrimitiveDateTime;

use crate::db::audit::{self, AuditFilter, AuditRow};
use crate::db::users::UserRow;
use crate::db::DbConnection;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::{Actor, AuditScope};
use crate::email::{self, EmailKind, Message};
use crate::error::ApiError;
use crate::state::AppState;

/// Where a request came from: its id and the client's address.
#[derive(Debug, Clone)]
pub struct Origin {
    pub request_id: String,
    pub client_ip: Option<IpAddr>,
}

/// Who acted, on whose request, and where to confirm it.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub actor_user_id: Option<String>,
    pub actor_client_id: Option<String>,
    pub actor_label: String,
    pub request_id: Option<String>,
    /// The client's address (see `client_ip`); none for the service itself.
    pub client_ip: Option<IpAddr>,
    pub requester_name: Option<String>,
    pub confirmation_email: Option<String>,
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
    pub fn for_self(user_id: &str, origin: &Origin) -> Self {
        AuditContext {
            actor_user_id: Some(user_id.to_string()),
            actor_label: format!("user:{user_id}"),
            request_id: Some(origin.request_id.clone()),
            client_ip: origin.client_ip,
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

/// One audited action, built up and then recorded:
///
/// ```ignore
/// Event::new("user.status_changed", format!("{} is now inactive", describe(&user)))
///     .about(&user.id)
///     .change("status", "active", "inactive")
///     .record(conn, state, &context, now)?;
/// ```
#[derive(Debug)]
pub struct Event {
    action: &'static str,
    /// A sentence for the confirmation email, e.g. "Jane Doe was inactivated".
    summary: String,
    target_user_id: Option<String>,
    customer_id: Option<String>,
    customer_name: Option<String>,
    /// `{"field": {"before": …, "after": …}}`.
    changes: Map<String, Value>,
}

impl Event {
    pub fn new(action: &'static str, summary: impl Into<String>) -> Self {
        Event {
            action,
            summary: summary.into(),
            target_user_id: None,
            customer_id: None,
            customer_name: None,
            changes: Map::new(),
        }
    }

    /// The user the action was about.
    pub fn about(mut self, user_id: &str) -> Self {
        self.target_user_id = Some(user_id.to_string());
        self
    }

    /// The customer the action happened in (named in the confirmation).
    pub fn in_customer(mut self, customer_id: &str, name: &str) -> Self {
        self.customer_id = Some(customer_id.to_string());
        self.customer_name = Some(name.to_string());
        self
    }

    /// The customer the action happened in, if any, without its name.
    pub fn in_customer_id(mut self, customer_id: Option<&str>) -> Self {
        self.customer_id = customer_id.map(str::to_string);
        self
    }

    /// Records `field` going from `before` to `after`.
    pub fn change(mut self, field: &str, before: impl Serialize, after: impl Serialize) -> Self {
        self.changes.insert(
            field.to_string(),
            json!({"before": to_value(before), "after": to_value(after)}),
        );
        self
    }

    /// Records `field` only when `before` and `after` differ.
    pub fn changed(self, field: &str, before: impl Serialize, after: impl Serialize) -> Self {
        let (before, after) = (to_value(before), to_value(after));
        if before == after {
            self
        } else {
            self.change(field, before, after)
        }
    }

    /// Writes the audit row and, when the request asked for one, queues the
    /// confirmation email, in the caller's transaction.
    pub fn record(
        self,
        conn: &mut DbConnection,
        state: &AppState,
        context: &AuditContext,
        now: PrimitiveDateTime,
    ) -> Result<(), ApiError> {
        let changes = Value::Object(self.changes);
        audit::insert(
            conn,
            &AuditRow {
                id: crate::db::new_id(),
                occurred_at: now,
                action: self.action.to_string(),
                actor_user_id: context.actor_user_id.clone(),
                actor_client_id: context.actor_client_id.clone(),
                customer_id: self.customer_id.clone(),
                target_user_id: self.target_user_id.clone(),
                requester_name: context.requester_name.clone(),
                confirmation_email: context.confirmation_email.clone(),
                request_id: context.request_id.clone(),
                client_ip: context.client_ip.map(|ip| ip.to_string()),
                changes: changes.to_string(),
            },
        )?;
        let Some(address) = &context.confirmation_email else {
            return Ok(());
        };
        email::enqueue(
            conn,
            &state.templates,
            Message {
                kind: EmailKind::ActionConfirmation,
                to: address.clone(),
                context: json!({
                    "summary": self.summary,
                    "action": self.action,
                    "actor": context.actor_label,
                    "requester_name": context.requester_name,
                    "customer_name": self.customer_name,
                    "occurred_at": crate::clock::from_db(now)
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                }),
                user_id: self.target_user_id,
                customer_id: self.customer_id,
            },
            now,
        )?;
        Ok(())
    }
}

fn to_value(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// "Jane Doe (jane@example.com)": how audit summaries name a user.
pub fn describe(user: &UserRow) -> String {
    format!("{} {} ({})", user.first_name, user.last_name, user.email)
}

/// What the audit log is searched for.
pub struct AuditSearch {
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
    pub action: Option<String>,
}

/// One page of the audit log, newest first: everything for platform admins,
/// their customers' events for customer admins.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    search: AuditSearch,
    page: PageRequest,
) -> Result<Page<AuditRow>, ApiError> {
    let only_customers = match actor.audit_scope() {
        None => {
            return Err(ApiError::Forbidden(
                "Only admins can read the audit log.".into(),
            ))
        }
        Some(AuditScope::All) => None,
        Some(AuditScope::Customers(ids)) => Some(ids),
    };
    let filter = AuditFilter {
        user_id: search.user_id,
        customer_id: search.customer_id,
        action: search.action,
        only_customers,
    };
    state
        .read(move |conn, _| {
            let rows = audit::list(conn, &filter, page.cursor.as_ref(), page.limit)?;
            Ok(page.cut(rows, |row| Cursor {
                at: row.occurred_at,
                id: row.id.clone(),
            }))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_keeps_only_the_fields_that_changed() {
        let event = Event::new("user.updated", "Jane Doe was edited")
            .changed("first_name", "Jane", "Janet")
            .changed("last_name", "Doe", "Doe")
            .change("locked", true, false);
        assert_eq!(
            Value::Object(event.changes),
            json!({
                "first_name": {"before": "Jane", "after": "Janet"},
                "locked": {"before": true, "after": false},
            })
        );
    }
}
