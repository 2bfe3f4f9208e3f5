//! Idempotency keys for creating POSTs, per caller: the first request with a
//! key reserves it; a repeat with the same body replays the stored response.
//! `idempotency_key` holds a one-way derivation of the caller's key and
//! `response_body` the sealed answer (`service::idempotency`).

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::idempotency_keys;
use super::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub principal: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub response_status: Option<i32>,
    /// The sealed answer (see `service::idempotency`).
    pub response_body: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub expires_at: PrimitiveDateTime,
}

/// Reserves `(principal, key)`. Returns the existing row when the key is taken.
pub fn reserve(
    conn: &mut DbConnection,
    principal: &str,
    key: &str,
    request_hash: &str,
    now: PrimitiveDateTime,
    expires_at: PrimitiveDateTime,
) -> QueryResult<Option<IdempotencyRow>> {
    // An expired reservation no longer counts.
    diesel::delete(
        idempotency_keys::table
            .find((principal, key))
            .filter(idempotency_keys::expires_at.le(now)),
    )
    .execute(conn)?;
    // A savepoint: on PostgreSQL a failed insert would otherwise abort the
    // surrounding transaction before we can read the existing row.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::principal.eq(principal),
                idempotency_keys::idempotency_key.eq(key),
                idempotency_keys::request_hash.eq(request_hash),
                idempotency_keys::created_at.eq(now),
                idempotency_keys::expires_at.eq(expires_at),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(None),
        Err(err) if super::is_unique_violation(&err) => idempotency_keys::table
            .find((principal, key))
            .select(IdempotencyRow::as_select())
            .first(conn)
            .optional(),
        Err(err) => Err(err),
    }
}

pub fn complete(
    conn: &mut DbConnection,
    principal: &str,
    key: &str,
    status: i32,
    sealed_answer: &str,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((principal, key)))
        .set((
            idempotency_keys::response_status.eq(status),
            idempotency_keys::response_body.eq(sealed_answer),
        ))
        .execute(conn)
        .map(drop)
}

/// Frees a reservation whose request failed, so the client may retry.
pub fn release(conn: &mut DbConnection, principal: &str, key: &str) -> QueryResult<()> {
    diesel::delete(
        idempotency_keys::table
            .find((principal, key))
            .filter(idempotency_keys::response_status.is_null()),
    )
    .execute(conn)
    .map(drop)
}

pub fn purge_expired(conn: &mut DbConnection, now: PrimitiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
        .execute(conn)
}
