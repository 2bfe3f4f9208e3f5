//! API clients for provisioning scripts: client-credentials grants, secret
//! stored hashed, scoped to the platform or one customer.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::api_clients;
use super::DbConnection;
use crate::domain::pagination::Cursor;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_clients)]
pub struct ApiClientRow {
    pub id: String,
    pub name: String,
    pub customer_id: Option<String>,
    pub secret_hash: String,
    /// The person who made it through the API; see `created_by_client`.
    pub created_by: Option<String>,
    pub created_at: PrimitiveDateTime,
    pub last_used_at: Option<PrimitiveDateTime>,
    pub revoked_at: Option<PrimitiveDateTime>,
    /// The API client that made it through the API. Neither this nor
    /// `created_by`: made with the command line, the platform's.
    pub created_by_client: Option<String>,
    /// [`KIND_CLIENT`] (client-credentials grant) or [`KIND_SCIM`] (a SCIM
    /// bearer token: its secret is presented as is).
    pub kind: String,
}

pub const KIND_CLIENT: &str = "client";
pub const KIND_SCIM: &str = "scim";

pub fn insert(conn: &mut DbConnection, client: &ApiClientRow) -> QueryResult<()> {
    diesel::insert_into(api_clients::table)
        .values(client)
        .execute(conn)
        .map(drop)
}

/// A client that has not been revoked.
pub fn find_live(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiClientRow>> {
    api_clients::table
        .find(id)
        .filter(api_clients::revoked_at.is_null())
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()
}

/// A live client of `kind`.
pub fn find_live_of(
    conn: &mut DbConnection,
    id: &str,
    kind: &str,
) -> QueryResult<Option<ApiClientRow>> {
    Ok(find_live(conn, id)?.filter(|client| client.kind == kind))
}

/// The live SCIM token whose secret hashes to `secret_hash`.
pub fn find_live_scim_token(
    conn: &mut DbConnection,
    secret_hash: &str,
) -> QueryResult<Option<ApiClientRow>> {
    api_clients::table
        .filter(api_clients::kind.eq(KIND_SCIM))
        .filter(api_clients::secret_hash.eq(secret_hash))
        .filter(api_clients::revoked_at.is_null())
        .select(ApiClientRow::as_select())
        .first(conn)
        .optional()
}

pub fn list(
    conn: &mut DbConnection,
    kind: &str,
    only_customers: Option<&[String]>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<ApiClientRow>> {
    let mut query = api_clients::table
        .filter(api_clients::revoked_at.is_null())
        .filter(api_clients::kind.eq(kind.to_string()))
        .select(ApiClientRow::as_select())
        .into_boxed();
    if let Some(ids) = only_customers {
        query = query.filter(api_clients::customer_id.eq_any(ids.to_vec()));
    }
    newest_first!(
        query,
        api_clients::created_at,
        api_clients::id,
        cursor,
        limit
    )
    .load(conn)
}

pub fn revoke(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(
        api_clients::table
            .find(id)
            .filter(api_clients::revoked_at.is_null()),
    )
    .set(api_clients::revoked_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn touch(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<()> {
    diesel::update(api_clients::table.find(id))
        .set(api_clients::last_used_at.eq(now))
        .execute(conn)
        .map(drop)
}
