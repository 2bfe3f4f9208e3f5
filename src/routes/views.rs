//! The JSON representations the API returns, built from database rows.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::clock::from_db;
use crate::db::customers::CustomerRow;
use crate::db::groups::GroupRef;
use crate::db::memberships::{MembershipInfo, MembershipRow};
use crate::db::users::UserRow;
use crate::domain::lifecycle::UserStatus;
use crate::domain::roles::{MembershipRole, PlatformRole};

/// The fields of a user shared by every representation.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserFields {
    /// The user's id (`user_id` in paths).
    #[schema(format = Uuid, example = "0f8e2a4c-5b1d-4c3e-9a7f-2d6b8c1e4f30")]
    pub id: String,
    /// The sign-in name and where emails go; unique across the platform, case-insensitively.
    #[schema(format = Email, example = "dana.whitfield@ubm-demo.example")]
    pub email: String,
    #[schema(example = "Dana")]
    /// Given name, as emails greet the user.
    pub first_name: String,
    /// Family name.
    #[schema(example = "Whitfield")]
    pub last_name: String,
    /// Job title; null when none was given.
    #[schema(example = "Energy Analyst")]
    pub job_title: Option<String>,
    pub status: UserStatus,
    /// Locked after too many failed sign-ins (whatever the status): the user
    /// cannot sign in until an admin unlocks them with `DELETE /v1/users/{user_id}/lock`.
    pub locked: bool,
    /// When the account was locked; null when it is not locked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_at: Option<OffsetDateTime>,
    pub platform_role: PlatformRole,
    /// When the activation email was first sent; null for users made active directly.
    #[serde(with = "time::serde::rfc3339::option")]
    pub invited_at: Option<OffsetDateTime>,
    /// When the user set their first password; null while invited.
    #[serde(with = "time::serde::rfc3339::option")]
    pub activated_at: Option<OffsetDateTime>,
    /// The last successful sign-in; null if never.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    /// The "Retired On" date; null unless the user is retired.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
    /// When the user was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The last change to the user's own fields (not their memberships).
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
    /// The customer's id.
    #[schema(format = Uuid)]
    pub customer_id: String,
    /// The customer's name.
    #[schema(example = "UBM Demo")]
    pub customer_name: String,
    pub role: MembershipRole,
    #[schema(schema_with = crate::openapi::schemas::settings_view)]
    pub settings: serde_json::Value,
    /// When the user was added to this customer.
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    /// The customer's own id for the user (HR system or identity provider).
    #[schema(example = "E-10442")]
    pub external_id: Option<String>,
    /// The customer's groups the user is in, by name.
    pub groups: Vec<GroupRefView>,
}

impl MembershipView {
    pub fn new(info: &MembershipInfo) -> Self {
        let row = &info.membership;
        MembershipView {
            customer_id: row.customer_id.clone(),
            customer_name: info.customer_name.clone(),
            role: row.role,
            settings: row.settings_json(),
            added_at: from_db(row.added_at),
            external_id: row.external_id.clone(),
            groups: info.groups.iter().map(GroupRefView::from).collect(),
        }
    }
}

/// A group a member is in.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupRefView {
    /// The group's id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The group's name.
    #[schema(example = "Accounts payable")]
    pub name: String,
}

impl From<&GroupRef> for GroupRefView {
    fn from(group: &GroupRef) -> Self {
        GroupRefView {
            id: group.id.clone(),
            name: group.name.clone(),
        }
    }
}

/// User Info: a user with every membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: UserFields,
    /// The customers the user belongs to, with their role and settings in
    /// each (only those the caller may see, unless the caller is a platform
    /// admin or the user themself).
    pub memberships: Vec<MembershipView>,
}

impl UserView {
    pub fn new(row: &UserRow, memberships: &[MembershipInfo]) -> Self {
        UserView {
            user: UserFields::from(row),
            memberships: memberships.iter().map(MembershipView::new).collect(),
        }
    }
}

/// A row of a customer's user list: the user's fields plus this membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerUserView {
    #[serde(flatten)]
    pub user: UserFields,
    pub role: MembershipRole,
    #[schema(schema_with = crate::openapi::schemas::settings_view)]
    pub settings: serde_json::Value,
    /// When the user was added to this customer.
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    /// The customer's own id for the user (HR system or identity provider).
    #[schema(example = "E-10442")]
    pub external_id: Option<String>,
    /// The customer's groups the user is in, by name.
    pub groups: Vec<GroupRefView>,
}

impl CustomerUserView {
    pub fn new(membership: &MembershipRow, user: &UserRow, groups: &[GroupRef]) -> Self {
        CustomerUserView {
            user: UserFields::from(user),
            role: membership.role,
            settings: membership.settings_json(),
            added_at: from_db(membership.added_at),
            external_id: membership.external_id.clone(),
            groups: groups.iter().map(GroupRefView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    /// The customer's id (`customer_id` in paths).
    #[schema(format = Uuid, example = "7c1d9e2b-3a4f-4b6c-8d0e-1f2a3b4c5d6e")]
    pub id: String,
    /// The customer's name; unique, case-insensitively.
    #[schema(example = "UBM Demo")]
    pub name: String,
    /// Seats the customer has licensed; null means unlimited.
    #[schema(example = 25)]
    pub licensed_seats: Option<i32>,
    /// Seats in use: memberships whose user is not retired. Adding a user or
    /// reactivating one beyond `licensed_seats` is 409 `seat_limit_reached`.
    #[schema(example = 12)]
    pub named_users: i64,
    /// When the customer was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The last change to the customer.
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
    /// This page's items, newest first (at most `limit`).
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
