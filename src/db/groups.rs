//! A customer's groups of members, and who is in them.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::{customer_groups, group_members, memberships};
use super::DbConnection;
use crate::domain::pagination::Cursor;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customer_groups)]
pub struct GroupRow {
    pub id: String,
    pub customer_id: String,
    pub name: String,
    /// The name lower-cased: names are unique in a customer whatever their case.
    pub name_key: String,
    pub description: Option<String>,
    /// The identity provider's id for the group (SCIM `externalId`).
    pub external_id: Option<String>,
    pub version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// A group as a membership lists it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// The key a group name is unique by.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub fn insert(conn: &mut DbConnection, group: &GroupRow) -> QueryResult<()> {
    diesel::insert_into(customer_groups::table)
        .values(group)
        .execute(conn)
        .map(drop)
}

pub fn find(
    conn: &mut DbConnection,
    customer_id: &str,
    group_id: &str,
) -> QueryResult<Option<GroupRow>> {
    customer_groups::table
        .filter(customer_groups::id.eq(group_id))
        .filter(customer_groups::customer_id.eq(customer_id))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()
}

/// The customer's groups with these ids, in no special order.
pub fn find_all(
    conn: &mut DbConnection,
    customer_id: &str,
    ids: &[String],
) -> QueryResult<Vec<GroupRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    customer_groups::table
        .filter(customer_groups::customer_id.eq(customer_id))
        .filter(customer_groups::id.eq_any(ids))
        .select(GroupRow::as_select())
        .load(conn)
}

/// The customer's groups with these names (any case), in no special order.
pub fn find_by_names(
    conn: &mut DbConnection,
    customer_id: &str,
    names: &[String],
) -> QueryResult<Vec<GroupRow>> {
    let keys: Vec<String> = names.iter().map(|name| name_key(name)).collect();
    customer_groups::table
        .filter(customer_groups::customer_id.eq(customer_id))
        .filter(customer_groups::name_key.eq_any(keys))
        .select(GroupRow::as_select())
        .load(conn)
}

pub fn find_by_external_id(
    conn: &mut DbConnection,
    customer_id: &str,
    external_id: &str,
) -> QueryResult<Option<GroupRow>> {
    customer_groups::table
        .filter(customer_groups::customer_id.eq(customer_id))
        .filter(customer_groups::external_id.eq(external_id))
        .select(GroupRow::as_select())
        .first(conn)
        .optional()
}

/// What a list of groups asks for.
#[derive(Debug, Default, Clone)]
pub struct GroupFilter {
    /// Only the group with this name (any case).
    pub name: Option<String>,
    pub external_id: Option<String>,
}

/// The customer's groups, newest first.
pub fn list(
    conn: &mut DbConnection,
    customer_id: &str,
    filter: &GroupFilter,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<GroupRow>> {
    let mut query = customer_groups::table
        .filter(customer_groups::customer_id.eq(customer_id.to_string()))
        .select(GroupRow::as_select())
        .into_boxed();
    if let Some(name) = &filter.name {
        query = query.filter(customer_groups::name_key.eq(name_key(name)));
    }
    if let Some(external_id) = &filter.external_id {
        query = query.filter(customer_groups::external_id.eq(external_id.clone()));
    }
    newest_first!(
        query,
        customer_groups::created_at,
        customer_groups::id,
        cursor,
        limit
    )
    .load(conn)
}

/// Writes the group's name, description and external id, and moves its
/// version on.
pub fn update(conn: &mut DbConnection, group: &GroupRow) -> QueryResult<()> {
    diesel::update(customer_groups::table.find(&group.id))
        .set((
            customer_groups::name.eq(&group.name),
            customer_groups::name_key.eq(&group.name_key),
            customer_groups::description.eq(&group.description),
            customer_groups::external_id.eq(&group.external_id),
            customer_groups::version.eq(customer_groups::version + 1),
            customer_groups::updated_at.eq(group.updated_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Moves the group's version on (its members changed).
pub fn touch(conn: &mut DbConnection, group_id: &str, now: PrimitiveDateTime) -> QueryResult<()> {
    diesel::update(customer_groups::table.find(group_id))
        .set((
            customer_groups::version.eq(customer_groups::version + 1),
            customer_groups::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConnection, group_id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(customer_groups::table.find(group_id)).execute(conn)? == 1)
}

/// Adds a member; false if they already were one. A membership or group
/// removed meanwhile is a foreign-key violation.
pub fn add_member(
    conn: &mut DbConnection,
    group: &GroupRow,
    user_id: &str,
    now: PrimitiveDateTime,
) -> QueryResult<bool> {
    if is_member(conn, &group.id, user_id)? {
        return Ok(false);
    }
    // In a savepoint: a concurrent addition of the same member makes this
    // insert wait and then fail, which must not abort the caller's work.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(&group.id),
                group_members::customer_id.eq(&group.customer_id),
                group_members::user_id.eq(user_id),
                group_members::added_at.eq(now),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(err) if super::is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Puts new members in groups, `(group, user_id)` pairs none of which is
/// there yet (their memberships were just made), in a few statements.
pub fn add_new_members(
    conn: &mut DbConnection,
    pairs: &[(&GroupRow, &str)],
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    let rows: Vec<_> = pairs
        .iter()
        .map(|(group, user_id)| {
            (
                group_members::group_id.eq(&group.id),
                group_members::customer_id.eq(&group.customer_id),
                group_members::user_id.eq(*user_id),
                group_members::added_at.eq(now),
            )
        })
        .collect();
    insert_in_chunks!(conn, group_members::table, rows)
}

/// Removes a member; false if they were not one.
pub fn remove_member(conn: &mut DbConnection, group_id: &str, user_id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(group_members::table.find((group_id, user_id))).execute(conn)? == 1)
}

pub fn is_member(conn: &mut DbConnection, group_id: &str, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        group_members::table.find((group_id, user_id)),
    ))
    .get_result(conn)
}

/// The group's members' user ids, in the order they were added.
pub fn member_ids(conn: &mut DbConnection, group_id: &str) -> QueryResult<Vec<String>> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .order((group_members::added_at.asc(), group_members::user_id.asc()))
        .select(group_members::user_id)
        .load(conn)
}

/// How many members each of these groups has (a group with none is left out).
pub fn member_counts(
    conn: &mut DbConnection,
    group_ids: &[String],
) -> QueryResult<std::collections::HashMap<String, i64>> {
    Ok(group_members::table
        .filter(group_members::group_id.eq_any(group_ids))
        .group_by(group_members::group_id)
        .select((group_members::group_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// How many members the group has.
pub fn member_count(conn: &mut DbConnection, group_id: &str) -> QueryResult<i64> {
    group_members::table
        .filter(group_members::group_id.eq(group_id))
        .count()
        .get_result(conn)
}

/// The member's groups in the customer, by name.
pub fn groups_of(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
) -> QueryResult<Vec<GroupRow>> {
    group_members::table
        .inner_join(customer_groups::table)
        .filter(group_members::customer_id.eq(customer_id))
        .filter(group_members::user_id.eq(user_id))
        .order(customer_groups::name_key.asc())
        .select(GroupRow::as_select())
        .load(conn)
}

/// The groups of several members of one customer: `(user_id, group)` pairs,
/// by name within each member.
pub fn groups_of_members(
    conn: &mut DbConnection,
    customer_id: &str,
    user_ids: &[String],
) -> QueryResult<Vec<(String, GroupRef)>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    on_backend!(conn, |backend| group_members::table
        .inner_join(customer_groups::table)
        .filter(group_members::customer_id.eq(customer_id))
        .filter(group_members::user_id.eq_any(user_ids))
        .order(customer_groups::name_key.asc())
        .select((
            group_members::user_id,
            (customer_groups::id, customer_groups::name),
        ))
        .load(backend))
}

/// Whether the user is a member of the customer (a group takes members of
/// its own customer only).
pub fn is_customer_member(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        memberships::table.find((customer_id, user_id)),
    ))
    .get_result(conn)
}
