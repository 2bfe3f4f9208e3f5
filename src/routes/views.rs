//! The JSON representations the API returns, built from database rows.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::clock::from_db;
use crate::db::customers::CustomerRow;
use crate::db::memberships::MembershipRow;
use crate::db::users::UserRow;
use crate::domain::lifecycle::UserStatus;
use crate::domain::roles::{MembershipRole, PlatformRole};

/// The fields of a user shared by every representation.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserFields {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "jane.doe@example.com")]
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: Option<String>,
    pub status: UserStatus,
    /// Locked after too many failed sign-ins; see `DELETE /v1/users/{uid}/lock`.
    pub locked: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_at: Option<OffsetDateTime>,
    pub platform_role: PlatformRole,
    #[serde(with = "time::serde::rfc3339::option")]
    pub invited_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub activated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    /// The "Retired On" date.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&UserRow> for UserFields {
    fn from(row: &UserRow) -> Self {
        UserFields {
            id: row.id.clone(),
            email: row.email.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            job_title: row.job_title.clone(),
            status: row.status,
            locked: row.locked_at.is_some(),
            locked_at: row.locked_at.map(from_db),
            platform_role: row.platform_role,
            invited_at: row.invited_at.map(from_db),
            activated_at: row.activated_at.map(from_db),
            last_login_at: row.last_login_at.map(from_db),
            retired_at: row.retired_at.map(from_db),
            created_at: from_db(row.created_at),
            updated_at: from_db(row.updated_at),
        }
    }
}

/// One customer the user belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    #[schema(format = Uuid)]
    pub customer_id: String,
    pub customer_name: String,
    pub role: MembershipRole,
    /// Free JSON object of product defaults (menu, chat tags, user-group tags).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl MembershipView {
    pub fn new(row: &MembershipRow, customer_name: &str) -> Self {
        MembershipView {
            customer_id: row.customer_id.clone(),
            customer_name: customer_name.to_string(),
            role: row.role,
            settings: parse_settings(&row.settings),
            added_at: from_db(row.added_at),
        }
    }
}

pub fn parse_settings(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::json!({}))
}

/// User Info: a user with every membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: UserFields,
    pub memberships: Vec<MembershipView>,
}

impl UserView {
    pub fn new(row: &UserRow, memberships: &[(MembershipRow, String)]) -> Self {
        UserView {
            user: UserFields::from(row),
            memberships: memberships
                .iter()
                .map(|(m, name)| MembershipView::new(m, name))
                .collect(),
        }
    }
}

/// A row of a customer's user list: the user's fields plus this membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerUserView {
    #[serde(flatten)]
    pub user: UserFields,
    pub role: MembershipRole,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

impl CustomerUserView {
    pub fn new(membership: &MembershipRow, user: &UserRow) -> Self {
        CustomerUserView {
            user: UserFields::from(user),
            role: membership.role,
            settings: parse_settings(&membership.settings),
            added_at: from_db(membership.added_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// Seats the customer has licensed; null means unlimited.
    pub licensed_seats: Option<i32>,
    /// Memberships whose user is not retired.
    pub named_users: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl CustomerView {
    pub fn new(row: &CustomerRow, named_users: i64) -> Self {
        CustomerView {
            id: row.id.clone(),
            name: row.name.clone(),
            licensed_seats: row.licensed_seats,
            named_users,
            created_at: from_db(row.created_at),
            updated_at: from_db(row.updated_at),
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// The wire form of a page of rows.
    pub fn of<R>(page: crate::domain::pagination::Page<R>, view: impl FnMut(R) -> T) -> Self {
        let page = page.map(view);
        Page {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}
