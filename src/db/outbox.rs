//! The outbox: written in the same transaction as the change that causes
//! each email; delivered by `crate::email::worker`. It also holds requests
//! ([`RequestKind`]) that the worker resolves into emails, and webhook
//! deliveries ([`WEBHOOK_KIND`]), sent by the same worker under the same leases.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::email_outbox;
use super::DbConnection;
use crate::domain::delivery::{DeliveryStatus, RequestKind, WEBHOOK_KIND};
use crate::domain::pagination::Cursor;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = email_outbox)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: PrimitiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<PrimitiveDateTime>,
    pub last_error: Option<String>,
    pub provider_message_id: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    pub sent_at: Option<PrimitiveDateTime>,
    /// A webhook delivery's event (its `webhook-id`) and the event's order.
    pub event_id: Option<String>,
    pub event_seq: Option<i64>,
    /// A webhook delivery's last answer: its status (none when there was no
    /// answer) and how long it took.
    pub response_status: Option<i32>,
    pub latency_ms: Option<i32>,
}

impl OutboxRow {
    /// A request to resolve, not an email to send.
    pub fn is_request(&self) -> bool {
        RequestKind::parse(&self.kind).is_some()
    }
}

/// Which due rows a claim takes: emails to send, requests to resolve, or
/// webhooks to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Emails,
    Requests,
    Webhooks,
}

impl Lane {
    /// The rows of this lane, as SQL over the claim's `email_outbox`. A
    /// webhook is due only once every earlier event about the same user for
    /// the same endpoint has left the queue, so one user's events arrive in
    /// order (each is the head of its queue at most once at a time, so two
    /// instances cannot race past it either).
    fn condition(self) -> String {
        let requests = RequestKind::names()
            .iter()
            .map(|name| format!("'{name}'"))
            .collect::<Vec<_>>()
            .join(", ");
        match self {
            Lane::Emails => format!("kind NOT IN ({requests}, '{WEBHOOK_KIND}')"),
            Lane::Requests => format!("kind IN ({requests})"),
            Lane::Webhooks => format!(
                "kind = '{WEBHOOK_KIND}' AND NOT EXISTS (\
                 SELECT 1 FROM email_outbox earlier \
                 WHERE earlier.kind = '{WEBHOOK_KIND}' AND earlier.status = 'pending' \
                   AND earlier.recipient = email_outbox.recipient \
                   AND earlier.user_id = email_outbox.user_id \
                   AND earlier.event_seq < email_outbox.event_seq)"
            ),
        }
    }
}

/// The kinds that are not emails (never listed as such).
fn not_emails() -> Vec<&'static str> {
    let mut kinds = RequestKind::names();
    kinds.push(WEBHOOK_KIND);
    kinds
}

pub fn insert(conn: &mut DbConnection, row: &OutboxRow) -> QueryResult<()> {
    diesel::insert_into(email_outbox::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OutboxRow>> {
    email_outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

#[derive(Debug, Default, Clone)]
pub struct OutboxFilter {
    pub status: Option<DeliveryStatus>,
    pub kind: Option<String>,
    pub recipient: Option<String>,
    pub user_id: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &OutboxFilter,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let mut query = email_outbox::table
        .select(OutboxRow::as_select())
        .filter(email_outbox::kind.ne_all(not_emails()))
        .into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(email_outbox::status.eq(*status));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(email_outbox::kind.eq(kind.clone()));
    }
    if let Some(recipient) = &filter.recipient {
        query = query.filter(email_outbox::recipient.eq(recipient.clone()));
    }
    if let Some(user_id) = &filter.user_id {
        query = query.filter(email_outbox::user_id.eq(user_id.clone()));
    }
    newest_first!(
        query,
        email_outbox::created_at,
        email_outbox::id,
        cursor,
        limit
    )
    .load(conn)
}

/// Claims up to `limit` due rows of `lane` for `owner` until `lease_until`,
/// in one statement. A row whose lease ran out (its worker crashed) is due
/// again. On PostgreSQL the candidates are locked with `SKIP LOCKED`, so
/// instances sharing the database claim disjoint rows without waiting on
/// each other; a SQLite write transaction already excludes every other writer.
pub fn claim_due(
    conn: &mut DbConnection,
    owner: &str,
    now: PrimitiveDateTime,
    lease_until: PrimitiveDateTime,
    limit: i64,
    lane: Lane,
) -> QueryResult<Vec<OutboxRow>> {
    let lane = lane.condition();
    let mut claimed = match conn {
        // diesel cannot put a locking clause in a subselect.
        DbConnection::Postgres(pg) => diesel::sql_query(format!(
            "UPDATE email_outbox SET lease_owner = $1, lease_expires_at = $2 \
             WHERE id IN (SELECT id FROM email_outbox \
                          WHERE status = 'pending' AND next_attempt_at <= $3 \
                            AND (lease_expires_at IS NULL OR lease_expires_at < $3) \
                            AND {lane} \
                          ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING *"
        ))
        .bind::<diesel::sql_types::Text, _>(owner)
        .bind::<diesel::sql_types::Timestamp, _>(lease_until)
        .bind::<diesel::sql_types::Timestamp, _>(now)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .load(pg)?,
        DbConnection::Sqlite(lite) => {
            let ids: Vec<String> = email_outbox::table
                .filter(email_outbox::status.eq(DeliveryStatus::Pending))
                .filter(email_outbox::next_attempt_at.le(now))
                .filter(
                    email_outbox::lease_expires_at
                        .is_null()
                        .or(email_outbox::lease_expires_at.lt(now)),
                )
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&lane))
                .order(email_outbox::next_attempt_at.asc())
                .select(email_outbox::id)
                .limit(limit)
                .load(lite)?;
            diesel::update(email_outbox::table.filter(email_outbox::id.eq_any(ids)))
                .set((
                    email_outbox::lease_owner.eq(owner),
                    email_outbox::lease_expires_at.eq(lease_until),
                ))
                .returning(OutboxRow::as_returning())
                .get_results(lite)?
        }
    };
    // RETURNING gives no order; take the oldest first.
    claimed.sort_by_key(|row| row.next_attempt_at);
    Ok(claimed)
}

/// Removes the request `id` (resolved, or given up); false when it is no
/// longer there (another worker resolved it first).
pub fn take_request(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(
        email_outbox::table
            .find(id)
            .filter(email_outbox::kind.eq_any(RequestKind::names())),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// Removes the requests of `kind` about `recipient` (whoever holds them).
pub fn take_requests_about(
    conn: &mut DbConnection,
    kind: RequestKind,
    recipient: &str,
) -> QueryResult<usize> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::kind.eq(kind.as_str()))
            .filter(email_outbox::recipient.eq(recipient)),
    )
    .execute(conn)
}

pub fn mark_sent(
    conn: &mut DbConnection,
    id: &str,
    owner: &str,
    provider_message_id: Option<&str>,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        email_outbox::table
            .find(id)
            .filter(email_outbox::lease_owner.eq(owner)),
    )
    .set((
        email_outbox::status.eq(DeliveryStatus::Sent),
        email_outbox::attempts.eq(email_outbox::attempts + 1),
        email_outbox::provider_message_id.eq(provider_message_id),
        email_outbox::last_error.eq(None::<String>),
        email_outbox::lease_owner.eq(None::<String>),
        email_outbox::lease_expires_at.eq(None::<PrimitiveDateTime>),
        email_outbox::sent_at.eq(now),
        email_outbox::updated_at.eq(now),
    ))
    .execute(conn)
    .map(drop)
}

/// Records a failed attempt: retried at `retry_at`, or `failed` for good when `None`.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    id: &str,
    owner: &str,
    error: &str,
    retry_at: Option<PrimitiveDateTime>,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    let status = if retry_at.is_some() {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::Failed
    };
    diesel::update(
        email_outbox::table
            .find(id)
            .filter(email_outbox::lease_owner.eq(owner)),
    )
    .set((
        email_outbox::status.eq(status),
        email_outbox::attempts.eq(email_outbox::attempts + 1),
        email_outbox::last_error.eq(error),
        email_outbox::next_attempt_at.eq(retry_at.unwrap_or(now)),
        email_outbox::lease_owner.eq(None::<String>),
        email_outbox::lease_expires_at.eq(None::<PrimitiveDateTime>),
        email_outbox::updated_at.eq(now),
    ))
    .execute(conn)
    .map(drop)
}

/// Makes a request due again at once, whoever holds it (a job that runs in
/// turns: `service::user_imports`).
pub fn due_again(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::lease_owner.eq(None::<String>),
            email_outbox::lease_expires_at.eq(None::<PrimitiveDateTime>),
            email_outbox::next_attempt_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Gives back a claimed row untouched (graceful shutdown).
pub fn release(conn: &mut DbConnection, id: &str, owner: &str) -> QueryResult<()> {
    diesel::update(
        email_outbox::table
            .find(id)
            .filter(email_outbox::lease_owner.eq(owner)),
    )
    .set((
        email_outbox::lease_owner.eq(None::<String>),
        email_outbox::lease_expires_at.eq(None::<PrimitiveDateTime>),
    ))
    .execute(conn)
    .map(drop)
}

/// Puts a failed row back in the queue; false unless it was `failed`.
pub fn retry(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        email_outbox::table
            .find(id)
            .filter(email_outbox::status.eq(DeliveryStatus::Failed)),
    )
    .set((
        email_outbox::status.eq(DeliveryStatus::Pending),
        email_outbox::attempts.eq(0),
        email_outbox::next_attempt_at.eq(now),
        email_outbox::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Replaces the bodies of a delivered email (links carry live tokens).
pub fn redact_bodies(conn: &mut DbConnection, id: &str, text: &str, html: &str) -> QueryResult<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::text_body.eq(text),
            email_outbox::html_body.eq(html),
        ))
        .execute(conn)
        .map(drop)
}

/// The pending count and the creation time of the oldest pending email
/// (webhooks have their own lag, [`oldest_pending_webhook`]).
pub fn backlog(conn: &mut DbConnection) -> QueryResult<(i64, Option<PrimitiveDateTime>)> {
    let count = email_outbox::table
        .filter(email_outbox::status.eq(DeliveryStatus::Pending))
        .filter(email_outbox::kind.ne(WEBHOOK_KIND))
        .count()
        .get_result(conn)?;
    let oldest = email_outbox::table
        .filter(email_outbox::status.eq(DeliveryStatus::Pending))
        .filter(email_outbox::kind.ne(WEBHOOK_KIND))
        .select(diesel::dsl::min(email_outbox::created_at))
        .first(conn)?;
    Ok((count, oldest))
}

/// Removes every email about the user (platform deletion). Webhook
/// deliveries stay: they carry the deletion itself to the endpoints.
pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::user_id.eq(user_id))
            .filter(email_outbox::kind.ne(WEBHOOK_KIND)),
    )
    .execute(conn)
}

/// Records a webhook delivery's answer (status, none without an answer) and latency.
pub fn record_response(
    conn: &mut DbConnection,
    id: &str,
    status: Option<i32>,
    latency_ms: i32,
) -> QueryResult<()> {
    diesel::update(email_outbox::table.find(id))
        .set((
            email_outbox::response_status.eq(status),
            email_outbox::latency_ms.eq(latency_ms),
        ))
        .execute(conn)
        .map(drop)
}

/// An endpoint's webhook deliveries, newest first.
pub fn list_webhooks(
    conn: &mut DbConnection,
    endpoint_id: &str,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let query = email_outbox::table
        .select(OutboxRow::as_select())
        .filter(email_outbox::kind.eq(WEBHOOK_KIND))
        .filter(email_outbox::recipient.eq(endpoint_id.to_string()))
        .into_boxed();
    newest_first!(
        query,
        email_outbox::created_at,
        email_outbox::id,
        cursor,
        limit
    )
    .load(conn)
}

/// Gives up every webhook still queued for an endpoint (it was disabled).
pub fn fail_pending_webhooks(
    conn: &mut DbConnection,
    endpoint_id: &str,
    reason: &str,
    now: PrimitiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        email_outbox::table
            .filter(email_outbox::kind.eq(WEBHOOK_KIND))
            .filter(email_outbox::recipient.eq(endpoint_id))
            .filter(email_outbox::status.eq(DeliveryStatus::Pending)),
    )
    .set((
        email_outbox::status.eq(DeliveryStatus::Failed),
        email_outbox::last_error.eq(reason),
        email_outbox::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Removes an endpoint's webhook deliveries (the endpoint was deleted).
pub fn delete_webhooks(conn: &mut DbConnection, endpoint_id: &str) -> QueryResult<usize> {
    diesel::delete(
        email_outbox::table
            .filter(email_outbox::kind.eq(WEBHOOK_KIND))
            .filter(email_outbox::recipient.eq(endpoint_id)),
    )
    .execute(conn)
}

/// Age of the oldest pending webhook delivery (the lag), if any.
pub fn oldest_pending_webhook(conn: &mut DbConnection) -> QueryResult<Option<PrimitiveDateTime>> {
    email_outbox::table
        .filter(email_outbox::kind.eq(WEBHOOK_KIND))
        .filter(email_outbox::status.eq(DeliveryStatus::Pending))
        .select(diesel::dsl::min(email_outbox::created_at))
        .first(conn)
}
