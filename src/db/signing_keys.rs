//! The generated JWT signing keys, shared by every instance on one database.
//! The newest signs; `roster keys rotate` adds one (see `auth::jwt`).

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::signing_keys;
use super::DbConnection;

/// The row of the first key. One fixed id means instances that race to
/// create it on a new database cannot end up with different keys; later
/// keys are named by their thumbprint.
const GENERATED: &str = "generated";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key_pem: String,
    pub created_at: PrimitiveDateTime,
}

/// Every stored key, newest first (ties broken by id, so every instance
/// orders them alike).
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .select(SigningKeyRow::as_select())
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .load(conn)
}

/// Stores the first key unless another instance already did.
pub fn insert_first(conn: &mut DbConnection, pem: &str, now: PrimitiveDateTime) -> QueryResult<()> {
    let inserted = insert(conn, GENERATED, pem, now);
    match inserted {
        Err(err) if super::is_unique_violation(&err) => Ok(()),
        other => other,
    }
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

pub fn delete(conn: &mut DbConnection, kids: &[String]) -> QueryResult<usize> {
    diesel::delete(signing_keys::table.filter(signing_keys::kid.eq_any(kids))).execute(conn)
}
