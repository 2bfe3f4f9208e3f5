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

/// Memberships whose user is not retired: every membership (an index-only
/// count) minus those of retired users (few, found through the status index).
/// A join over all users instead costs a scan of the users table per call.
pub fn named_users(conn: &mut DbConnection, id: &str) -> QueryResult<i64> {
    let all: i64 = memberships::table
        .filter(memberships::customer_id.eq(id))
        .count()
        .get_result(conn)?;
    let retired: i64 = memberships::table
        .filter(memberships::customer_id.eq(id))
        .filter(memberships::user_id.eq_any(retired_users()))
        .count()
        .get_result(conn)?;
    Ok(all - retired)
}

fn retired_users() -> diesel::dsl::Select<
    diesel::dsl::Filter<users::table, diesel::dsl::Eq<users::status, UserStatus>>,
    users::id,
> {
    users::table
        .filter(users::status.eq(UserStatus::Retired))
        .select(users::id)
}

pub fn named_users_of(
    conn: &mut DbConnection,
    ids: &[String],
) -> QueryResult<HashMap<String, i64>> {
    let count_by_customer =
        |conn: &mut DbConnection, retired_only: bool| -> QueryResult<Vec<(String, i64)>> {
            let mut query = memberships::table
                .filter(memberships::customer_id.eq_any(ids))
                .group_by(memberships::customer_id)
                .select((memberships::customer_id, diesel::dsl::count_star()))
                .into_boxed();
            if retired_only {
                query = query.filter(memberships::user_id.eq_any(retired_users()));
            }
            query.load(conn)
        };
    let mut counts: HashMap<String, i64> = count_by_customer(conn, false)?.into_iter().collect();
    for (customer_id, retired) in count_by_customer(conn, true)? {
        if let Some(count) = counts.get_mut(&customer_id) {
            *count -= retired;
        }
    }
    Ok(counts)
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
