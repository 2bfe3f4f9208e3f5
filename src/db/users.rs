//! Users: lookups, the platform-wide list, and the single-row updates that
//! the lifecycle needs. Every update bumps `version` (the ETag) and `updated_at`.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::customers::CustomerRow;
use super::schema::{customers, memberships, refresh_tokens, users};
use super::DbConnection;
use crate::domain::lifecycle::{standing, Standing, UserStatus};
use crate::domain::pagination::Cursor;
use crate::domain::roles::{MembershipRole, PlatformRole};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub email_lower: String,
    pub first_name: String,
    pub first_name_lower: String,
    pub last_name: String,
    pub last_name_lower: String,
    pub job_title: Option<String>,
    pub status: UserStatus,
    pub platform_role: PlatformRole,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<PrimitiveDateTime>,
    pub session_version: i32,
    pub failed_logins: i32,
    pub locked_at: Option<PrimitiveDateTime>,
    pub invited_at: Option<PrimitiveDateTime>,
    pub activated_at: Option<PrimitiveDateTime>,
    pub last_login_at: Option<PrimitiveDateTime>,
    pub retired_at: Option<PrimitiveDateTime>,
    pub status_changed_at: PrimitiveDateTime,
    pub version: i32,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    /// The last sign-in or refresh (kept to the minute): what dormancy measures.
    pub last_active_at: Option<PrimitiveDateTime>,
}

impl UserRow {
    pub fn is_platform_admin(&self) -> bool {
        self.platform_role == PlatformRole::Admin
    }

    /// Whether the account may act now (see [`Standing`]).
    pub fn standing(&self) -> Standing {
        standing(self.status, self.locked_at.is_some())
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub email_lower: String,
    pub first_name: String,
    pub first_name_lower: String,
    pub last_name: String,
    pub last_name_lower: String,
    pub job_title: Option<String>,
    pub status: UserStatus,
    pub platform_role: PlatformRole,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<PrimitiveDateTime>,
    pub invited_at: Option<PrimitiveDateTime>,
    pub activated_at: Option<PrimitiveDateTime>,
    pub status_changed_at: PrimitiveDateTime,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

pub fn insert(conn: &mut DbConnection, user: &NewUser) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(drop)
}

/// Inserts many users in a few statements (a thousand a statement).
pub fn insert_all(conn: &mut DbConnection, new_users: &[NewUser]) -> QueryResult<()> {
    insert_in_chunks!(conn, users::table, new_users)
}

/// The users with these ids, in no special order.
pub fn find_all(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<UserRow>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::ROWS_PER_INSERT) {
        found.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select(UserRow::as_select())
                .load(conn)?,
        );
    }
    Ok(found)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Locks the user's row until the transaction ends (PostgreSQL `FOR NO KEY
/// UPDATE`, which still lets rows that reference the user be inserted; a
/// SQLite write transaction already holds the whole database). Returns
/// whether the user exists.
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    let query = users::table.find(id).select(users::id);
    let found = match conn {
        DbConnection::Postgres(pg) => query.for_no_key_update().first::<String>(pg).optional()?,
        DbConnection::Sqlite(lite) => query.first::<String>(lite).optional()?,
    };
    Ok(found.is_some())
}

/// `(customer_id, role)` of one of a user's memberships.
pub type Role = (String, MembershipRole);

/// `(customer_id, role)` of each of a user's memberships.
pub type Roles = Vec<Role>;

/// The user with their roles, in one round trip (the request extractor runs
/// this on every authenticated request).
pub fn find_with_roles(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(UserRow, Roles)>> {
    let rows: Vec<(UserRow, Option<Role>)> = on_backend!(conn, |backend| users::table
        .left_join(memberships::table)
        .filter(users::id.eq(id))
        .select((
            UserRow::as_select(),
            (memberships::customer_id, memberships::role).nullable(),
        ))
        .load(backend))?;
    let mut rows = rows.into_iter();
    let Some((user, first)) = rows.next() else {
        return Ok(None);
    };
    let roles = first
        .into_iter()
        .chain(rows.filter_map(|(_, role)| role))
        .collect();
    Ok(Some((user, roles)))
}

/// [`find_with_roles`], and the customer `customer_id` (if it exists) in
/// the same statement: a list of a customer's users re-checks its caller
/// and reads the customer in one round trip.
pub fn find_with_roles_and_customer(
    conn: &mut DbConnection,
    id: &str,
    customer_id: &str,
) -> QueryResult<Option<(UserRow, Roles, Option<CustomerRow>)>> {
    let rows: Vec<(UserRow, Option<Role>, Option<CustomerRow>)> =
        on_backend!(conn, |backend| users::table
            .left_join(memberships::table)
            .left_join(customers::table.on(customers::id.eq(customer_id)))
            .filter(users::id.eq(id))
            .select((
                UserRow::as_select(),
                (memberships::customer_id, memberships::role).nullable(),
                Option::<CustomerRow>::as_select(),
            ))
            .load(backend))?;
    let mut rows = rows.into_iter();
    let Some((user, first, customer)) = rows.next() else {
        return Ok(None);
    };
    let roles = first
        .into_iter()
        .chain(rows.filter_map(|(_, role, _)| role))
        .collect();
    Ok(Some((user, roles, customer)))
}

pub fn find_by_email(conn: &mut DbConnection, email_key: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email_lower.eq(email_key))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn any_platform_admin(conn: &mut DbConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::platform_role.eq(PlatformRole::Admin)),
    ))
    .get_result(conn)
}

/// Filters shared by the platform-wide and the per-customer user lists.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub status: Option<UserStatus>,
    /// Lower-cased prefix of email, first or last name.
    pub prefix: Option<String>,
}

/// Escapes LIKE metacharacters so a `q` of `50%_off` matches literally.
pub fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The platform-wide list, newest first; `customer_id` narrows it to members.
pub fn list(
    conn: &mut DbConnection,
    filter: &UserFilter,
    customer_id: Option<&str>,
    role: Option<MembershipRole>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(users::status.eq(*status));
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
    let members = memberships::table.select(memberships::user_id);
    query = match (customer_id, role) {
        (Some(customer_id), Some(role)) => query.filter(
            users::id.eq_any(
                members
                    .filter(memberships::customer_id.eq(customer_id.to_string()))
                    .filter(memberships::role.eq(role)),
            ),
        ),
        (Some(customer_id), None) => query.filter(
            users::id.eq_any(members.filter(memberships::customer_id.eq(customer_id.to_string()))),
        ),
        (None, Some(role)) => {
            query.filter(users::id.eq_any(members.filter(memberships::role.eq(role))))
        }
        (None, None) => query,
    };
    newest_first!(query, users::created_at, users::id, cursor, limit).load(conn)
}

/// Profile fields an admin may edit; `None` leaves a field alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct ProfileChange {
    pub email: Option<String>,
    pub email_lower: Option<String>,
    pub first_name: Option<String>,
    pub first_name_lower: Option<String>,
    pub last_name: Option<String>,
    pub last_name_lower: Option<String>,
    pub job_title: Option<Option<String>>,
}

impl ProfileChange {
    /// Whether it leaves every field alone.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.job_title.is_none()
    }
}

/// Applies `change` when the row is still at `expected_version`; returns
/// whether it was (false means someone else changed it first).
pub fn update_profile(
    conn: &mut DbConnection,
    id: &str,
    expected_version: i32,
    change: &ProfileChange,
    now: PrimitiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::version.eq(expected_version)),
    )
    .set((
        change,
        users::version.eq(users::version + 1),
        users::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Status fields written by a lifecycle transition.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub struct StatusChange {
    pub status: UserStatus,
    pub status_changed_at: PrimitiveDateTime,
    pub retired_at: Option<Option<PrimitiveDateTime>>,
}

pub fn set_status(
    conn: &mut DbConnection,
    id: &str,
    change: &StatusChange,
    revoke_sessions: bool,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    let bump = i32::from(revoke_sessions);
    diesel::update(users::table.find(id))
        .set((
            change,
            users::session_version.eq(users::session_version + bump),
            users::version.eq(users::version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Sets a new password: activates an invited user, clears any lock, and
/// revokes every session (the caller issues a new one where that is wanted).
pub fn set_password(
    conn: &mut DbConnection,
    id: &str,
    hash: &str,
    activate: bool,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::password_changed_at.eq(now),
            users::failed_logins.eq(0),
            users::locked_at.eq(None::<PrimitiveDateTime>),
            users::session_version.eq(users::session_version + 1),
            users::version.eq(users::version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    if activate {
        diesel::update(
            users::table
                .find(id)
                .filter(users::status.eq(UserStatus::Invited)),
        )
        .set((
            users::status.eq(UserStatus::Active),
            users::activated_at.eq(now),
            users::status_changed_at.eq(now),
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// A sign-in: also activity (see [`record_activity`]).
pub fn record_login(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::last_login_at.eq(now),
            users::last_active_at.eq(now),
            users::failed_logins.eq(0),
        ))
        .execute(conn)
        .map(drop)
}

/// Stores a new hash of the same password (made with other parameters):
/// nothing else about the account changes, its sessions included.
pub fn replace_password_hash(conn: &mut DbConnection, id: &str, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)
        .map(drop)
}

/// The user a refresh token (by its hash) belongs to, read and row-locked
/// (as [`lock`]) in one statement: a refresh grant's first.
pub fn lock_refresh_token_owner(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<UserRow>> {
    let owner = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(refresh_tokens::user_id)
        .single_value();
    let query = users::table.filter(users::id.nullable().eq(owner));
    match conn {
        DbConnection::Postgres(pg) => query
            .select(UserRow::as_select())
            .for_no_key_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(lite) => query.select(UserRow::as_select()).first(lite).optional(),
    }
}

/// Use of a session (a refresh): what keeps an account from going dormant.
pub fn record_activity(
    conn: &mut DbConnection,
    id: &str,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::last_active_at.eq(now))
        .execute(conn)
        .map(drop)
}

/// Counts one failed sign-in atomically and locks the account when the count
/// reaches `threshold`. Returns true when this very failure locked it.
pub fn record_failed_login(
    conn: &mut DbConnection,
    id: &str,
    threshold: u32,
    now: PrimitiveDateTime,
) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set(users::failed_logins.eq(users::failed_logins + 1))
        .execute(conn)?;
    let threshold = i32::try_from(threshold).unwrap_or(i32::MAX);
    let locked = diesel::update(
        users::table
            .find(id)
            .filter(users::locked_at.is_null())
            .filter(users::failed_logins.ge(threshold)),
    )
    .set((
        users::locked_at.eq(now),
        users::session_version.eq(users::session_version + 1),
        users::version.eq(users::version + 1),
        users::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(locked == 1)
}

/// Clears a lock; returns whether there was one.
pub fn unlock(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<bool> {
    let updated = diesel::update(users::table.find(id).filter(users::locked_at.is_not_null()))
        .set((
            users::locked_at.eq(None::<PrimitiveDateTime>),
            users::failed_logins.eq(0),
            users::version.eq(users::version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Revokes every access token of the user at once.
pub fn bump_session_version(conn: &mut DbConnection, id: &str) -> QueryResult<i32> {
    diesel::update(users::table.find(id))
        .set(users::session_version.eq(users::session_version + 1))
        .execute(conn)?;
    users::table
        .find(id)
        .select(users::session_version)
        .first(conn)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(users::table.find(id)).execute(conn)? == 1)
}

/// Active users idle (no sign-in, no session refresh, no status change)
/// since before `cutoff` become `expired`.
pub fn expire_dormant(
    conn: &mut DbConnection,
    cutoff: PrimitiveDateTime,
    now: PrimitiveDateTime,
) -> QueryResult<Vec<String>> {
    let dormant: Vec<String> = users::table
        .filter(users::status.eq(UserStatus::Active))
        .filter(users::status_changed_at.lt(cutoff))
        .filter(
            users::last_active_at
                .is_null()
                .or(users::last_active_at.lt(cutoff)),
        )
        .select(users::id)
        .load(conn)?;
    // One conditional update each: with several instances running this job,
    // only the one whose update lands reports (and audits) the expiry.
    let mut expired = Vec::with_capacity(dormant.len());
    for id in dormant {
        // Conditional on the same idleness: a refresh that commits in
        // between keeps the user.
        let updated = diesel::update(
            users::table
                .find(&id)
                .filter(users::status.eq(UserStatus::Active))
                .filter(users::status_changed_at.lt(cutoff))
                .filter(
                    users::last_active_at
                        .is_null()
                        .or(users::last_active_at.lt(cutoff)),
                ),
        )
        .set((
            users::status.eq(UserStatus::Expired),
            users::status_changed_at.eq(now),
            users::session_version.eq(users::session_version + 1),
            users::version.eq(users::version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
        if updated == 1 {
            expired.push(id);
        }
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_metacharacters_match_literally() {
        assert_eq!(like_prefix("50%_off\\"), "50\\%\\_off\\\\%");
        assert_eq!(like_prefix("jane"), "jane%");
    }
}
