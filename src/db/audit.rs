//! The audit log: one row per mutation, kept after its user or customer is gone.

use std::collections::BTreeSet;

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::{audit_events, memberships};
use super::DbConnection;
use crate::domain::pagination::Cursor;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub id: String,
    pub occurred_at: PrimitiveDateTime,
    pub action: String,
    pub actor_user_id: Option<String>,
    pub actor_client_id: Option<String>,
    pub customer_id: Option<String>,
    pub target_user_id: Option<String>,
    pub requester_name: Option<String>,
    pub confirmation_email: Option<String>,
    pub request_id: Option<String>,
    /// `{"field": {"before": …, "after": …}}` as JSON text.
    pub changes: String,
    pub client_ip: Option<String>,
}

pub fn insert(conn: &mut DbConnection, event: &AuditRow) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)
        .map(drop)
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
    pub action: Option<String>,
    /// Restricts to a customer admin's view: events in these customers, and
    /// user-level events (no customer) about users who belong to one of them.
    pub only_customers: Option<BTreeSet<String>>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_events::table
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(user_id) = &filter.user_id {
        query = query.filter(audit_events::target_user_id.eq(user_id.clone()));
    }
    if let Some(customer_id) = &filter.customer_id {
        query = query.filter(audit_events::customer_id.eq(customer_id.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(only) = &filter.only_customers {
        let ids: Vec<String> = only.iter().cloned().collect();
        let their_users = memberships::table
            .filter(memberships::customer_id.eq_any(ids.clone()))
            .select(memberships::user_id);
        query = query.filter(
            audit_events::customer_id
                .eq_any(ids)
                .or(audit_events::customer_id
                    .is_null()
                    .and(audit_events::target_user_id.eq_any(their_users.nullable()))),
        );
    }
    if let Some(cursor) = cursor {
        query = query.filter(
            audit_events::occurred_at.le(cursor.at).and(
                audit_events::occurred_at
                    .lt(cursor.at)
                    .or(audit_events::id.lt(cursor.id.clone())),
            ),
        );
    }
    query
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit + 1)
        .load(conn)
}

/// Rewrites one event's changes (used to redact a deleted user's personal data).
pub fn set_changes(conn: &mut DbConnection, event_id: &str, changes: &str) -> QueryResult<()> {
    diesel::update(audit_events::table.find(event_id))
        .set(audit_events::changes.eq(changes))
        .execute(conn)
        .map(drop)
}

/// `(id, changes)` of every event about the user.
pub fn changes_about(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<(String, String)>> {
    audit_events::table
        .filter(audit_events::target_user_id.eq(user_id))
        .select((audit_events::id, audit_events::changes))
        .load(conn)
}
