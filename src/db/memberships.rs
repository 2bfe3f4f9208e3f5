//! Memberships: a user's place (role, settings) in one customer.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::{customers, memberships, users};
use super::users::{like_prefix, UserFilter, UserRow};
use super::DbConnection;
use crate::domain::pagination::Cursor;
use crate::domain::roles::MembershipRole;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub customer_id: String,
    pub user_id: String,
    pub role: MembershipRole,
    pub settings: String,
    pub added_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

impl MembershipRow {
    /// The stored settings as JSON (an object; `{}` if the text were ever
    /// unreadable).
    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.settings).unwrap_or_else(|_| serde_json::json!({}))
    }

    /// What the membership's ETag is made of: its last change, in
    /// microseconds since 1970 (every change sets `updated_at` anew).
    pub fn stamp(&self) -> i64 {
        let micros = self.updated_at.assume_utc().unix_timestamp_nanos() / 1_000;
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

pub fn insert(conn: &mut DbConnection, membership: &MembershipRow) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values(membership)
        .execute(conn)
        .map(drop)
}

pub fn find(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
) -> QueryResult<Option<MembershipRow>> {
    memberships::table
        .find((customer_id, user_id))
        .select(MembershipRow::as_select())
        .first(conn)
        .optional()
}

/// A user with their memberships and each customer's name (User Info).
pub type UserWithMemberships = (UserRow, Vec<(MembershipRow, String)>);

type MembershipColumns = (
    String,
    String,
    MembershipRole,
    String,
    PrimitiveDateTime,
    PrimitiveDateTime,
    String,
);

/// The user and their memberships, oldest first, in one round trip.
pub fn user_with_memberships(
    conn: &mut DbConnection,
    user_id: &str,
) -> QueryResult<Option<UserWithMemberships>> {
    let rows: Vec<(UserRow, Option<MembershipColumns>)> = users::table
        // Two flat left joins: a nested `LEFT JOIN (memberships JOIN
        // customers)` made SQLite build the whole inner join every time.
        .left_join(memberships::table)
        .left_join(customers::table.on(customers::id.eq(memberships::customer_id)))
        .filter(users::id.eq(user_id))
        .order((memberships::added_at.asc(), memberships::customer_id.asc()))
        .select((
            UserRow::as_select(),
            (
                memberships::customer_id,
                memberships::user_id,
                memberships::role,
                memberships::settings,
                memberships::added_at,
                memberships::updated_at,
                customers::name,
            )
                .nullable(),
        ))
        .load(conn)?;
    Ok(by_user(rows).pop())
}

/// Two users (or one, named twice) with their memberships, oldest first, in
/// one statement: a hot read loads its caller and its target together. The
/// statement is the same for every request (a prepared, cached one).
pub fn two_users_with_memberships(
    conn: &mut DbConnection,
    first: &str,
    second: &str,
) -> QueryResult<Vec<UserWithMemberships>> {
    let rows: Vec<(UserRow, Option<MembershipColumns>)> = users::table
        .left_join(memberships::table)
        .left_join(customers::table.on(customers::id.eq(memberships::customer_id)))
        .filter(users::id.eq(first).or(users::id.eq(second)))
        .order((
            users::id.asc(),
            memberships::added_at.asc(),
            memberships::customer_id.asc(),
        ))
        .select((
            UserRow::as_select(),
            (
                memberships::customer_id,
                memberships::user_id,
                memberships::role,
                memberships::settings,
                memberships::added_at,
                memberships::updated_at,
                customers::name,
            )
                .nullable(),
        ))
        .load(conn)?;
    Ok(by_user(rows))
}

/// Rows of users left-joined to their memberships (ordered by user), one
/// entry per user.
fn by_user(rows: Vec<(UserRow, Option<MembershipColumns>)>) -> Vec<UserWithMemberships> {
    let mut found: Vec<UserWithMemberships> = Vec::new();
    for (user, membership) in rows {
        if found.last().is_none_or(|(last, _)| last.id != user.id) {
            found.push((user, Vec::new()));
        }
        let Some((customer_id, user_id, role, settings, added_at, updated_at, name)) = membership
        else {
            continue;
        };
        let row = MembershipRow {
            customer_id,
            user_id,
            role,
            settings,
            added_at,
            updated_at,
        };
        if let Some((_, memberships)) = found.last_mut() {
            memberships.push((row, name));
        }
    }
    found
}

pub fn customer_ids_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<String>> {
    memberships::table
        .filter(memberships::user_id.eq(user_id))
        .select(memberships::customer_id)
        .order(memberships::customer_id.asc())
        .load(conn)
}

/// One customer's users, newest membership first.
pub fn list_customer_users(
    conn: &mut DbConnection,
    customer_id: &str,
    filter: &UserFilter,
    role: Option<MembershipRole>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<(MembershipRow, UserRow)>> {
    let mut query = memberships::table
        .inner_join(users::table)
        .filter(memberships::customer_id.eq(customer_id.to_string()))
        .select((MembershipRow::as_select(), UserRow::as_select()))
        .into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(users::status.eq(*status));
    }
    if let Some(role) = role {
        query = query.filter(memberships::role.eq(role));
    }
    if let Some(prefix) = &filter.prefix {
        let pattern = like_prefix(prefix);
        query = query.filter(
            users::email_lower
                .like(pattern.clone())
                .escape('\\')
                .or(users::first_name_lower.like(pattern.clone()).escape('\\'))
                .or(users::last_name_lower.like(pattern).escape('\\')),
        );
    }
    newest_first!(
        query,
        memberships::added_at,
        memberships::user_id,
        cursor,
        limit
    )
    .load(conn)
}

pub fn update(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
    role: MembershipRole,
    settings: &str,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(memberships::table.find((customer_id, user_id)))
        .set((
            memberships::role.eq(role),
            memberships::settings.eq(settings),
            memberships::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConnection, customer_id: &str, user_id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(memberships::table.find((customer_id, user_id))).execute(conn)? == 1)
}
