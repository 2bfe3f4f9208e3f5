//! The generated JWT signing key, shared by every instance on one database.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::signing_keys;
use super::DbConnection;

/// The oldest stored key: every instance that races to create one agrees on it.
pub fn current(conn: &mut DbConnection) -> QueryResult<Option<String>> {
    signing_keys::table
        .select(signing_keys::private_key_pem)
        .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
        .first(conn)
        .optional()
}

pub fn insert(
    conn: &mut DbConnection,
    kid: &str,
    pem: &str,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(kid),
            signing_keys::private_key_pem.eq(pem),
            signing_keys::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}
