//! Memberships: a user's place (role, settings) in one customer.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::groups::GroupRef;
use super::schema::{customer_groups, customers, group_members, memberships, users};
use super::users::{like_prefix, UserFilter, UserRow};
use super::DbConnection;
use crate::domain::pagination::Cursor;
use crate::domain::roles::MembershipRole;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships, treat_none_as_default_value = false)]
pub struct MembershipRow {
    pub customer_id: String,
    pub user_id: String,
    pub role: MembershipRole,
    pub settings: String,
    pub added_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// The customer's own id for the member (HR system, identity provider),
    /// unique in the customer.
    pub external_id: Option<String>,
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

/// Inserts many memberships in a few statements (a thousand a statement).
pub fn insert_all(conn: &mut DbConnection, rows: &[MembershipRow]) -> QueryResult<()> {
    insert_in_chunks!(conn, memberships::table, rows)
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

pub fn find_by_external_id(
    conn: &mut DbConnection,
    customer_id: &str,
    external_id: &str,
) -> QueryResult<Option<MembershipRow>> {
    memberships::table
        .filter(memberships::customer_id.eq(customer_id))
        .filter(memberships::external_id.eq(external_id))
        .select(MembershipRow::as_select())
        .first(conn)
        .optional()
}

/// A membership with its customer's name and the member's groups there.
#[derive(Debug, Clone)]
pub struct MembershipInfo {
    pub membership: MembershipRow,
    pub customer_name: String,
    pub groups: Vec<GroupRef>,
}

/// A user with their memberships (User Info).
pub type UserWithMemberships = (UserRow, Vec<MembershipInfo>);

type MembershipColumns = (
    String,
    String,
    MembershipRole,
    String,
    PrimitiveDateTime,
    PrimitiveDateTime,
    Option<String>,
    String,
);

type Joined = (UserRow, Option<MembershipColumns>, Option<(String, String)>);

/// The rows of users left-joined to their memberships, customers and
/// groups, in one statement: `users` narrowed by `$filter`, ordered by
/// user, then membership, then group name.
macro_rules! users_with_memberships {
    ($filter:expr) => {
        users::table
            // Flat left joins: a nested `LEFT JOIN (memberships JOIN
            // customers)` made SQLite build the whole inner join every time.
            .left_join(memberships::table)
            .left_join(customers::table.on(customers::id.eq(memberships::customer_id)))
            .left_join(
                group_members::table.on(group_members::customer_id
                    .eq(memberships::customer_id)
                    .and(group_members::user_id.eq(memberships::user_id))),
            )
            .left_join(customer_groups::table.on(customer_groups::id.eq(group_members::group_id)))
            .filter($filter)
            .order((
                users::id.asc(),
                memberships::added_at.asc(),
                memberships::customer_id.asc(),
                customer_groups::name_key.asc(),
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
                    memberships::external_id,
                    customers::name,
                )
                    .nullable(),
                (customer_groups::id, customer_groups::name).nullable(),
            ))
    };
}

/// The user and their memberships, oldest first, in one round trip.
pub fn user_with_memberships(
    conn: &mut DbConnection,
    user_id: &str,
) -> QueryResult<Option<UserWithMemberships>> {
    let rows: Vec<Joined> = on_backend!(conn, |backend| users_with_memberships!(
        users::id.eq(user_id)
    )
    .load(backend))?;
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
    let rows: Vec<Joined> = on_backend!(conn, |backend| users_with_memberships!(users::id
        .eq(first)
        .or(users::id.eq(second)))
    .load(backend))?;
    Ok(by_user(rows))
}

/// Joined rows (ordered by user, then membership), one entry per user.
fn by_user(rows: Vec<Joined>) -> Vec<UserWithMemberships> {
    let mut found: Vec<UserWithMemberships> = Vec::new();
    for (user, membership, group) in rows {
        if found.last().is_none_or(|(last, _)| last.id != user.id) {
            found.push((user, Vec::new()));
        }
        let Some(memberships) = found.last_mut().map(|(_, memberships)| memberships) else {
            continue;
        };
        let Some((customer_id, user_id, role, settings, added_at, updated_at, external_id, name)) =
            membership
        else {
            continue;
        };
        if memberships
            .last()
            .is_none_or(|last| last.membership.customer_id != customer_id)
        {
            memberships.push(MembershipInfo {
                membership: MembershipRow {
                    customer_id,
                    user_id,
                    role,
                    settings,
                    added_at,
                    updated_at,
                    external_id,
                },
                customer_name: name,
                groups: Vec::new(),
            });
        }
        if let (Some(last), Some((id, name))) = (memberships.last_mut(), group) {
            last.groups.push(GroupRef { id, name });
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

/// What a customer's user list asks for.
pub struct MemberFilter<'a> {
    pub users: &'a UserFilter,
    pub role: Option<MembershipRole>,
    pub external_id: Option<&'a str>,
}

/// One customer's users, newest membership first.
pub fn list_customer_users(
    conn: &mut DbConnection,
    customer_id: &str,
    filter: &MemberFilter,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<(MembershipRow, UserRow)>> {
    let mut query = memberships::table
        .inner_join(users::table)
        .filter(memberships::customer_id.eq(customer_id.to_string()))
        .select((MembershipRow::as_select(), UserRow::as_select()))
        .into_boxed();
    if let Some(status) = &filter.users.status {
        query = query.filter(users::status.eq(*status));
    }
    if let Some(role) = filter.role {
        query = query.filter(memberships::role.eq(role));
    }
    if let Some(external_id) = filter.external_id {
        query = query.filter(memberships::external_id.eq(external_id.to_string()));
    }
    if let Some(prefix) = &filter.users.prefix {
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

/// What a membership edit writes.
pub struct MembershipChange<'a> {
    pub role: MembershipRole,
    pub settings: &'a str,
    pub external_id: Option<&'a str>,
}

pub fn update(
    conn: &mut DbConnection,
    (customer_id, user_id): (&str, &str),
    change: &MembershipChange,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(memberships::table.find((customer_id, user_id)))
        .set((
            memberships::role.eq(change.role),
            memberships::settings.eq(change.settings),
            memberships::external_id.eq(change.external_id),
            memberships::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConnection, customer_id: &str, user_id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(memberships::table.find((customer_id, user_id))).execute(conn)? == 1)
}
