//! Recording admin actions: the audit row, and the optional confirmation email.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{json, Map, Value};
use time::PrimitiveDateTime;

use crate::db::audit::{self, AuditEntry, AuditFilter, AuditRow, ConfirmationsOf};
use crate::db::groups::GroupRow;
use crate::db::memberships::MembershipRow;
use crate::db::users::UserRow;
use crate::db::{memberships, DbConnection, Staged};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::{event_customers, Actor, AuditScope};
use crate::email::{self, EmailKind, Message};
use crate::error::ApiError;
use crate::service::events::{self, Audited, Shown};
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
    /// The customers a customer admin or customer client acts for; `None`
    /// for the platform, the user themself and the system (see
    /// [`Actor::acts_for`]).
    pub acting_for: Option<BTreeSet<String>>,
}

impl AuditContext {
    pub fn for_actor(actor: &Actor, request_id: &str) -> Self {
        AuditContext {
            actor_user_id: actor.user_id().map(str::to_string),
            actor_client_id: actor.client_id().map(str::to_string),
            actor_label: actor.principal_key(),
            request_id: Some(request_id.to_string()),
            acting_for: actor.acts_for(),
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
    /// The target's customers at the time of the action, when the database
    /// no longer says so by the time the event is recorded.
    users_customers: Option<Vec<String>>,
    /// `{"field": {"before": …, "after": …}}`.
    changes: Map<String, Value>,
    /// What the event shows, when the caller has it in hand as it now is.
    shown: Shown,
}

impl Event {
    pub fn new(action: &'static str, summary: impl Into<String>) -> Self {
        Event {
            action,
            summary: summary.into(),
            target_user_id: None,
            customer_id: None,
            customer_name: None,
            users_customers: None,
            changes: Map::new(),
            shown: Shown::default(),
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

    /// The customers the user was in when the action happened, for an
    /// event recorded after they changed (a deletion, recorded once the
    /// memberships are gone). Otherwise they are read when recording.
    pub fn while_in(mut self, customer_ids: &[String]) -> Self {
        self.users_customers = Some(customer_ids.to_vec());
        self
    }

    /// The user as they now are, just written or read by the caller: the
    /// event's body shows it without reading it again.
    pub fn showing_user(mut self, user: &UserRow) -> Self {
        self.shown.user = Some(user.clone());
        self
    }

    /// The membership and its groups as they now are (see [`Self::showing_user`]).
    pub fn showing_membership(mut self, membership: &MembershipRow, groups: &[GroupRow]) -> Self {
        let mut groups = groups.to_vec();
        groups.sort_by(|a, b| a.name_key.cmp(&b.name_key));
        groups.dedup_by(|a, b| a.id == b.id);
        self.shown.membership = Some((membership.clone(), groups));
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

    /// Writes the audit row with the customers it belongs to, its event for
    /// webhooks and the feed (`service::events`) and, when the request asked
    /// for one, queues the confirmation email, in the caller's transaction. Beyond the caller's hourly cap of confirmations this is
    /// a 429 instead, and the caller's transaction commits nothing.
    pub fn record(
        self,
        conn: &mut DbConnection,
        state: &AppState,
        context: &AuditContext,
        now: PrimitiveDateTime,
    ) -> Result<(), ApiError> {
        if context.confirmation_email.is_some() {
            take_confirmation(conn, state, context, now)?;
        }
        let users_customers = match (&self.users_customers, &self.target_user_id) {
            (Some(ids), _) => ids.clone(),
            (None, Some(user_id)) if self.customer_id.is_none() => {
                memberships::customer_ids_of(conn, user_id)?
            }
            _ => Vec::new(),
        };
        let customers = event_customers(
            self.customer_id.as_deref(),
            &users_customers,
            context.acting_for.as_ref(),
        );
        let id = crate::db::new_id();
        let changes = Value::Object(self.changes);
        let entry = AuditEntry {
            row: AuditRow {
                id,
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
            customers: customers.clone(),
        };
        // The hourly cap counts rows with a confirmation address, so those
        // are written at once; the rest at the end of the transaction.
        if context.confirmation_email.is_some() {
            AuditEntry::write_all(conn, vec![entry])?;
        } else {
            crate::db::stage(conn, entry)?;
        }
        let audited = Audited {
            action: self.action,
            user_id: self.target_user_id.as_deref(),
            customer_id: self.customer_id.as_deref(),
            changes: &changes,
            shown: &self.shown,
        };
        events::publish(conn, &audited, context, &customers, now)?;
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

const HOUR: time::Duration = time::Duration::hours(1);

/// Counts one confirmation email against the caller's hourly cap
/// (`ROSTER_CONFIRMATION_EMAILS_PER_HOUR`), or refuses it with the seconds
/// until one is free. The count is the caller's audit events with a
/// confirmation address in the last hour, read under a lock on the caller,
/// so neither concurrent requests nor several instances can overshoot it.
fn take_confirmation(
    conn: &mut DbConnection,
    state: &AppState,
    context: &AuditContext,
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    let caller = match (&context.actor_user_id, &context.actor_client_id) {
        (Some(user_id), _) => ConfirmationsOf::User(user_id),
        (None, Some(client_id)) => ConfirmationsOf::Client(client_id),
        // The service itself never asks for confirmations.
        (None, None) => return Ok(()),
    };
    let cap = state.settings.confirmation_emails_per_hour;
    audit::lock_confirmations(conn, &caller)?;
    let Some(oldest_counted) =
        audit::nth_newest_confirmation(conn, &caller, now - HOUR, i64::from(cap))?
    else {
        return Ok(());
    };
    // A confirmation is free again once the cap-th newest is an hour old.
    let wait = oldest_counted + HOUR - now;
    let seconds = (wait.whole_microseconds() + 999_999) / 1_000_000;
    Err(ApiError::Limited {
        code: crate::error::ErrorCode::ConfirmationLimitReached,
        detail: format!(
            "You have asked for {cap} confirmation emails in the last hour, the most allowed; retry without confirmation_email, or in {} s.",
            seconds.clamp(1, 3600)
        ),
        retry_after_secs: u64::try_from(seconds.clamp(1, 3600)).unwrap_or(3600),
    })
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
    /// Events that belong to this customer (see [`event_customers`]).
    pub customer_id: Option<String>,
    pub action: Option<String>,
}

/// One page of the audit log, newest first: everything for platform admins,
/// the events of the customers they administer for customer admins.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    search: AuditSearch,
    page: PageRequest,
) -> Result<Page<AuditRow>, ApiError> {
    let asked: Option<BTreeSet<String>> = search.customer_id.map(|id| BTreeSet::from([id]));
    let belonging_to = match (actor.audit_scope(), asked) {
        (None, _) => {
            return Err(ApiError::Forbidden(
                "Only admins can read the audit log.".into(),
            ))
        }
        (Some(AuditScope::All), asked) => asked,
        (Some(AuditScope::Customers(mine)), None) => Some(mine),
        // Another customer's id narrows to nothing rather than answering 404.
        (Some(AuditScope::Customers(mine)), Some(asked)) => {
            Some(mine.intersection(&asked).cloned().collect())
        }
    };
    let filter = AuditFilter {
        user_id: search.user_id,
        action: search.action,
        belonging_to,
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
