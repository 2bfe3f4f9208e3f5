//! Webhook endpoints (`service::webhooks`) and the keys that seal their
//! signing secrets when none is configured.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::{sealing_keys, webhook_endpoints};
use super::DbConnection;
use crate::domain::pagination::Cursor;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub customer_id: Option<String>,
    /// A JSON array of event types; empty for every type.
    pub event_types: String,
    /// The signing secret, sealed (`service::webhooks`).
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<PrimitiveDateTime>,
    pub disabled_at: Option<PrimitiveDateTime>,
    pub disabled_reason: Option<String>,
    pub version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

impl EndpointRow {
    /// The event types it asked for; empty for every type.
    pub fn types(&self) -> Vec<String> {
        serde_json::from_str(&self.event_types).unwrap_or_default()
    }

    pub fn wants(&self, event_type: &str) -> bool {
        let types = self.types();
        types.is_empty() || types.iter().any(|t| t == event_type)
    }
}

pub fn insert(conn: &mut DbConnection, row: &EndpointRow) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()
}

/// Writes every field of `row` (the caller read it in this transaction).
pub fn update(conn: &mut DbConnection, row: &EndpointRow) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(&row.id))
        .set(row)
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 1)
}

/// Endpoints, newest first; `only_customers` narrows to those customers' endpoints.
pub fn list(
    conn: &mut DbConnection,
    only_customers: Option<&[String]>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<EndpointRow>> {
    let mut query = webhook_endpoints::table
        .select(EndpointRow::as_select())
        .into_boxed();
    if let Some(ids) = only_customers {
        query = query.filter(webhook_endpoints::customer_id.eq_any(ids.to_vec()));
    }
    newest_first!(
        query,
        webhook_endpoints::created_at,
        webhook_endpoints::id,
        cursor,
        limit
    )
    .load(conn)
}

/// Enabled endpoints that may receive an event of `customers`: the
/// platform's (no customer) and those of the event's customers.
pub fn receivers(conn: &mut DbConnection, customers: &[String]) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::disabled_at.is_null())
        .filter(
            webhook_endpoints::customer_id
                .is_null()
                .or(webhook_endpoints::customer_id.eq_any(customers.to_vec())),
        )
        .order(webhook_endpoints::id.asc())
        .select(EndpointRow::as_select())
        .load(conn)
}

/// Disables an endpoint with a reason; false when it already was (or is gone).
pub fn disable(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    now: PrimitiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::disabled_at.is_null()),
    )
    .set((
        webhook_endpoints::disabled_at.eq(now),
        webhook_endpoints::disabled_reason.eq(reason),
        webhook_endpoints::version.eq(webhook_endpoints::version + 1),
        webhook_endpoints::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// The key stored under `name`, made from `fresh` the first time (the first
/// of concurrent makers wins; every caller gets the stored one).
pub fn sealing_key(
    conn: &mut DbConnection,
    name: &str,
    fresh: &str,
    now: PrimitiveDateTime,
) -> QueryResult<String> {
    let row = (
        sealing_keys::name.eq(name),
        sealing_keys::key.eq(fresh),
        sealing_keys::created_at.eq(now),
    );
    let insert = diesel::insert_into(sealing_keys::table).values(row);
    match conn {
        DbConnection::Postgres(pg) => insert.on_conflict_do_nothing().execute(pg)?,
        DbConnection::Sqlite(lite) => insert.on_conflict_do_nothing().execute(lite)?,
    };
    sealing_keys::table
        .find(name)
        .select(sealing_keys::key)
        .first(conn)
}
