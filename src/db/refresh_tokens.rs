//! Rotating refresh tokens. Each belongs to a family (one sign-in); using a
//! token rotates it, and presenting an already-rotated one revokes the family.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::refresh_tokens;
use super::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub token_hash: String,
    pub created_at: PrimitiveDateTime,
    pub expires_at: PrimitiveDateTime,
    pub rotated_at: Option<PrimitiveDateTime>,
    pub revoked_at: Option<PrimitiveDateTime>,
    /// The sign-in that started the family (its session).
    pub family_started_at: PrimitiveDateTime,
}

/// The family a new token joins: its id and when its sign-in was.
#[derive(Debug, Clone)]
pub struct Family {
    pub id: String,
    pub started_at: PrimitiveDateTime,
}

pub fn insert(
    conn: &mut DbConnection,
    family: &Family,
    user_id: &str,
    token_hash: &str,
    now: PrimitiveDateTime,
    expires_at: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(super::new_id()),
            refresh_tokens::family_id.eq(&family.id),
            refresh_tokens::family_started_at.eq(family.started_at),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn find_by_hash(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks the token rotated if nobody has yet; false means it was reused.
pub fn rotate(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::rotated_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .map(drop)
}

/// Revokes every refresh token of the user, except one family when given.
pub fn revoke_user(
    conn: &mut DbConnection,
    user_id: &str,
    keep_family: Option<&str>,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    let mut query = diesel::update(refresh_tokens::table)
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .into_boxed();
    if let Some(family) = keep_family {
        query = query.filter(refresh_tokens::family_id.ne(family));
    }
    query
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)
        .map(drop)
}
