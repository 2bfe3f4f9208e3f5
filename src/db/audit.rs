//! The audit log: one row per mutation, kept after its user or customer is
//! gone, with the customers it belongs to (`audit_event_customers`).

use std::collections::BTreeSet;

use diesel::prelude::*;
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

use super::schema::{audit_event_customers, audit_events};
use super::DbConnection;
use crate::domain::pagination::Cursor;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
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

/// An audit row with the customers it belongs to (none: the platform's
/// alone), as a transaction stages it (`super::stage`).
pub struct AuditEntry {
    pub row: AuditRow,
    pub customers: BTreeSet<String>,
}

impl super::Staged for AuditEntry {
    /// The rows in a few inserts, then their customers in a few more.
    fn write_all(conn: &mut DbConnection, entries: Vec<Self>) -> QueryResult<()> {
        let (rows, customers): (Vec<AuditRow>, Vec<BTreeSet<String>>) = entries
            .into_iter()
            .map(|entry| (entry.row, entry.customers))
            .unzip();
        insert_in_chunks!(&mut *conn, audit_events::table, rows)?;
        let belongs: Vec<_> = rows
            .iter()
            .zip(&customers)
            .flat_map(|(row, customers)| {
                customers.iter().map(|customer_id| {
                    (
                        audit_event_customers::event_id.eq(&row.id),
                        audit_event_customers::customer_id.eq(customer_id),
                        audit_event_customers::occurred_at.eq(row.occurred_at),
                    )
                })
            })
            .collect();
        insert_in_chunks!(conn, audit_event_customers::table, belongs)
    }
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub action: Option<String>,
    /// Only events that belong to at least one of these customers; `None`
    /// for any event.
    pub belonging_to: Option<BTreeSet<String>>,
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
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(customers) = &filter.belonging_to {
        // One index range per customer ((customer_id, occurred_at, event_id)),
        // joined back to the events by primary key.
        let ids: Vec<String> = customers.iter().cloned().collect();
        let theirs = audit_event_customers::table
            .filter(audit_event_customers::customer_id.eq_any(ids))
            .select(audit_event_customers::event_id);
        query = query.filter(audit_events::id.eq_any(theirs));
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

/// Whose confirmation emails are counted: a person's or an API client's.
pub enum ConfirmationsOf<'a> {
    User(&'a str),
    Client(&'a str),
}

impl ConfirmationsOf<'_> {
    /// A 64-bit name for the caller's PostgreSQL advisory lock.
    fn lock_key(&self) -> i64 {
        let caller = match self {
            ConfirmationsOf::User(id) => format!("roster confirmations user:{id}"),
            ConfirmationsOf::Client(id) => format!("roster confirmations client:{id}"),
        };
        let digest = Sha256::digest(caller.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    }
}

/// Holds the caller's confirmation count still until the transaction ends,
/// so two requests of one caller cannot both take the last confirmation. On
/// PostgreSQL a transaction-scoped advisory lock; SQLite's write transactions
/// already run one at a time.
pub fn lock_confirmations(conn: &mut DbConnection, caller: &ConfirmationsOf) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(caller.lock_key())
            .execute(pg)?;
    }
    Ok(())
}

/// When the caller asked for the `nth` newest of their confirmation emails
/// after `since`, if they asked for that many.
pub fn nth_newest_confirmation(
    conn: &mut DbConnection,
    caller: &ConfirmationsOf,
    since: PrimitiveDateTime,
    nth: i64,
) -> QueryResult<Option<PrimitiveDateTime>> {
    let mut query = audit_events::table
        .filter(audit_events::confirmation_email.is_not_null())
        .filter(audit_events::occurred_at.gt(since))
        .select(audit_events::occurred_at)
        .into_boxed();
    query = match caller {
        ConfirmationsOf::User(id) => query.filter(audit_events::actor_user_id.eq(*id)),
        ConfirmationsOf::Client(id) => query.filter(audit_events::actor_client_id.eq(*id)),
    };
    query
        .order(audit_events::occurred_at.desc())
        .offset(nth.saturating_sub(1))
        .limit(1)
        .first(conn)
        .optional()
}
