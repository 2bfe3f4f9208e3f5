//! What SCIM reads of a customer's members, and the little it keeps that
//! roster does not model (`scim_members`).

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::memberships::MembershipRow;
use super::schema::{memberships, scim_members, users};
use super::users::UserRow;
use super::DbConnection;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = scim_members)]
pub struct ScimMemberRow {
    pub customer_id: String,
    pub user_id: String,
    /// The `userName`, when it is not the email.
    pub user_name: Option<String>,
    /// `user_name` lower-cased: unique in the customer.
    pub user_name_key: Option<String>,
    pub email_primary: Option<bool>,
    pub updated_at: PrimitiveDateTime,
}

pub type Member = (MembershipRow, UserRow, Option<ScimMemberRow>);

/// Every member of a customer, oldest membership first (a stable order
/// for `startIndex` paging).
pub fn members(conn: &mut DbConnection, customer_id: &str) -> QueryResult<Vec<Member>> {
    memberships::table
        .inner_join(users::table)
        .left_join(
            scim_members::table.on(scim_members::customer_id
                .eq(memberships::customer_id)
                .and(scim_members::user_id.eq(memberships::user_id))),
        )
        .filter(memberships::customer_id.eq(customer_id))
        .order((memberships::added_at.asc(), memberships::user_id.asc()))
        .select((
            MembershipRow::as_select(),
            UserRow::as_select(),
            Option::<ScimMemberRow>::as_select(),
        ))
        .load(conn)
}

/// One member of a customer.
pub fn member(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
) -> QueryResult<Option<Member>> {
    memberships::table
        .inner_join(users::table)
        .left_join(
            scim_members::table.on(scim_members::customer_id
                .eq(memberships::customer_id)
                .and(scim_members::user_id.eq(memberships::user_id))),
        )
        .filter(memberships::customer_id.eq(customer_id))
        .filter(memberships::user_id.eq(user_id))
        .select((
            MembershipRow::as_select(),
            UserRow::as_select(),
            Option::<ScimMemberRow>::as_select(),
        ))
        .first(conn)
        .optional()
}

/// The members whose `userName` is `key` (lower-cased): a kept user name,
/// or the email of a member without one.
pub fn members_named(
    conn: &mut DbConnection,
    customer_id: &str,
    key: &str,
) -> QueryResult<Vec<Member>> {
    memberships::table
        .inner_join(users::table)
        .left_join(
            scim_members::table.on(scim_members::customer_id
                .eq(memberships::customer_id)
                .and(scim_members::user_id.eq(memberships::user_id))),
        )
        .filter(memberships::customer_id.eq(customer_id))
        .filter(
            scim_members::user_name_key.eq(key).or(users::email_lower
                .eq(key)
                .and(scim_members::user_name_key.is_null())),
        )
        .select((
            MembershipRow::as_select(),
            UserRow::as_select(),
            Option::<ScimMemberRow>::as_select(),
        ))
        .load(conn)
}

/// Keeps what SCIM said about a member (replacing what it said before).
pub fn save(conn: &mut DbConnection, row: &ScimMemberRow) -> QueryResult<()> {
    diesel::delete(scim_members::table.find((&row.customer_id, &row.user_id))).execute(conn)?;
    diesel::insert_into(scim_members::table)
        .values(row)
        .execute(conn)
        .map(drop)
}
