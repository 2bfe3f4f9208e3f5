//! The generated JWT signing key, shared by every instance on one database.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::signing_keys;
use super::DbConnection;

/// The row the generated key lives in. One fixed key means instances that
/// race to create it on a new database cannot end up with different keys.
const GENERATED: &str = "generated";

pub fn current(conn: &mut DbConnection) -> QueryResult<Option<String>> {
    signing_keys::table
        .find(GENERATED)
        .select(signing_keys::private_key_pem)
        .first(conn)
        .optional()
}

/// Stores `pem` unless another instance already did; returns the stored key.
pub fn get_or_insert(
    conn: &mut DbConnection,
    pem: &str,
    now: PrimitiveDateTime,
) -> QueryResult<String> {
    let inserted = diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(GENERATED),
            signing_keys::private_key_pem.eq(pem),
            signing_keys::created_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(pem.to_string()),
        Err(err) if super::is_unique_violation(&err) => current(conn)?.ok_or(err),
        Err(err) => Err(err),
    }
}
