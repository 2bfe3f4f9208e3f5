//! Customers and their seat counts.

use std::collections::HashMap;

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::{customers, memberships, users};
use super::users::like_prefix;
use super::DbConnection;
use crate::domain::lifecycle::UserStatus;
use crate::domain::pagination::Cursor;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub name_lower: String,
    pub licensed_seats: Option<i32>,
    pub version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// Seats in use, kept by every membership and status change
    /// (`service::seats`); `roster check` recounts it.
    pub named_users: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = customers)]
pub struct NewCustomer {
    pub id: String,
    pub name: String,
    pub name_lower: String,
    pub licensed_seats: Option<i32>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

pub fn insert(conn: &mut DbConnection, customer: &NewCustomer) -> QueryResult<()> {
    diesel::insert_into(customers::table)
        .values(customer)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()
}

pub fn names(conn: &mut DbConnection, ids: &[String]) -> QueryResult<HashMap<String, String>> {
    Ok(customers::table
        .filter(customers::id.eq_any(ids))
        .select((customers::id, customers::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// Takes the customer's row lock for the rest of the transaction, so two
/// requests racing for its last seat are serialized (PostgreSQL; SQLite's
/// IMMEDIATE transactions already are). Returns false if it does not exist.
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let touched = diesel::update(customers::table.find(id))
        .set(customers::version.eq(customers::version))
        .execute(conn)?;
    Ok(touched == 1)
}

/// Adds `delta` (negative to free seats) to the customer's seats in use.
/// Takes the row lock, like [`lock`].
pub fn add_named_users(conn: &mut DbConnection, id: &str, delta: i64) -> QueryResult<()> {
    diesel::update(customers::table.find(id))
        .set(customers::named_users.eq(customers::named_users + delta))
        .execute(conn)
        .map(drop)
}

/// A customer's stored seats in use beside a fresh count of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatCount {
    pub customer_id: String,
    pub name: String,
    pub stored: i64,
    pub counted: i64,
}

/// Every customer's stored count beside the memberships of its users who
/// are not retired, counted now (a scan of every membership).
pub fn recount_named_users(conn: &mut DbConnection) -> QueryResult<Vec<SeatCount>> {
    let counted: HashMap<String, i64> = memberships::table
        .inner_join(users::table)
        .filter(users::status.ne(UserStatus::Retired))
        .group_by(memberships::customer_id)
        .select((memberships::customer_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let stored = customers::table
        .select((customers::id, customers::name, customers::named_users))
        .order(customers::id.asc())
        .load::<(String, String, i64)>(conn)?;
    Ok(stored
        .into_iter()
        .map(|(customer_id, name, stored)| SeatCount {
            counted: counted.get(&customer_id).copied().unwrap_or(0),
            customer_id,
            name,
            stored,
        })
        .collect())
}

/// Newest first; `only` restricts to the customers a non-platform caller sees.
pub fn list(
    conn: &mut DbConnection,
    only: Option<&[String]>,
    prefix: Option<&str>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<CustomerRow>> {
    let mut query = customers::table
        .select(CustomerRow::as_select())
        .into_boxed();
    if let Some(ids) = only {
        query = query.filter(customers::id.eq_any(ids.to_vec()));
    }
    if let Some(prefix) = prefix {
        query = query.filter(customers::name_lower.like(like_prefix(prefix)).escape('\\'));
    }
    newest_first!(query, customers::created_at, customers::id, cursor, limit).load(conn)
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = customers)]
pub struct CustomerChange {
    pub name: Option<String>,
    pub name_lower: Option<String>,
    pub licensed_seats: Option<Option<i32>>,
}

/// Applies `change` if the row is still at `expected_version`.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: i32,
    change: &CustomerChange,
    now: PrimitiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(
        customers::table
            .filter(customers::id.eq(id))
            .filter(customers::version.eq(expected_version)),
    )
    .set((
        change,
        customers::version.eq(customers::version + 1),
        customers::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}
