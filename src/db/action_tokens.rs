//! Activation and password-reset tokens: stored hashed, one purpose each,
//! single use, superseded by a newer token of the same purpose.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::action_tokens;
use super::DbConnection;
pub use crate::domain::links::Purpose;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = action_tokens)]
pub struct ActionTokenRow {
    pub id: String,
    pub user_id: String,
    pub purpose: Purpose,
    pub token_hash: String,
    pub created_at: PrimitiveDateTime,
    pub expires_at: PrimitiveDateTime,
    pub used_at: Option<PrimitiveDateTime>,
    pub revoked_at: Option<PrimitiveDateTime>,
}

impl ActionTokenRow {
    /// Usable: not used, not superseded or voided, not expired.
    pub fn is_live(&self, now: PrimitiveDateTime) -> bool {
        self.used_at.is_none() && self.revoked_at.is_none() && now < self.expires_at
    }
}

/// Stores a new token and voids the user's earlier live tokens of that purpose.
pub fn issue(
    conn: &mut DbConnection,
    user_id: &str,
    purpose: Purpose,
    token_hash: &str,
    now: PrimitiveDateTime,
    expires_at: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        action_tokens::table
            .filter(action_tokens::user_id.eq(user_id))
            .filter(action_tokens::purpose.eq(purpose.as_str()))
            .filter(action_tokens::used_at.is_null())
            .filter(action_tokens::revoked_at.is_null()),
    )
    .set(action_tokens::revoked_at.eq(now))
    .execute(conn)?;
    diesel::insert_into(action_tokens::table)
        .values((
            action_tokens::id.eq(super::new_id()),
            action_tokens::user_id.eq(user_id),
            action_tokens::purpose.eq(purpose.as_str()),
            action_tokens::token_hash.eq(token_hash),
            action_tokens::created_at.eq(now),
            action_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn find_by_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<ActionTokenRow>> {
    action_tokens::table
        .filter(action_tokens::token_hash.eq(token_hash))
        .select(ActionTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks the token used if it still is live; false when another request won.
pub fn consume(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        action_tokens::table
            .find(id)
            .filter(action_tokens::used_at.is_null())
            .filter(action_tokens::revoked_at.is_null())
            .filter(action_tokens::expires_at.gt(now)),
    )
    .set(action_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Whether the user was issued a token of `purpose` after `since` (used,
/// voided or live).
pub fn issued_since(
    conn: &mut DbConnection,
    user_id: &str,
    purpose: Purpose,
    since: PrimitiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        action_tokens::table
            .filter(action_tokens::user_id.eq(user_id))
            .filter(action_tokens::purpose.eq(purpose.as_str()))
            .filter(action_tokens::created_at.gt(since)),
    ))
    .get_result(conn)
}

/// Voids every live token of the user (a password set, an email change, a
/// status change, expiry).
pub fn void_all(conn: &mut DbConnection, user_id: &str, now: PrimitiveDateTime) -> QueryResult<()> {
    diesel::update(
        action_tokens::table
            .filter(action_tokens::user_id.eq(user_id))
            .filter(action_tokens::used_at.is_null())
            .filter(action_tokens::revoked_at.is_null()),
    )
    .set(action_tokens::revoked_at.eq(now))
    .execute(conn)
    .map(drop)
}
