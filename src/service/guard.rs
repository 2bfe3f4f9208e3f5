//! Turning a permission decision into the right HTTP answer.

use crate::db::users::UserRow;
use crate::db::{memberships, users, DbConnection};
use crate::domain::permissions::{Access, Actor, TargetUser};
use crate::error::ApiError;

/// `Allowed` passes; `Forbidden` is 403; `Hidden` is 404 for `what`.
pub fn require(access: Access, what: &'static str) -> Result<(), ApiError> {
    match access {
        Access::Allowed => Ok(()),
        Access::Forbidden => Err(ApiError::Forbidden(
            "You are not allowed to do this.".into(),
        )),
        Access::Hidden => Err(ApiError::NotFound(what)),
    }
}

/// A user and the customers they belong to.
pub struct LoadedUser {
    pub row: UserRow,
    pub customer_ids: Vec<String>,
}

impl LoadedUser {
    pub fn target(&self) -> TargetUser<'_> {
        TargetUser {
            id: &self.row.id,
            platform_admin: self.row.is_platform_admin(),
            customer_ids: &self.customer_ids,
        }
    }
}

/// Takes the user's row lock for the rest of the transaction, so that two
/// changes to one user (two status changes, a status change and a deletion,
/// two password changes) run one after the other and the second sees what
/// the first did. SQLite's IMMEDIATE write transactions already are
/// serialized; on PostgreSQL this is a `FOR NO KEY UPDATE` row lock.
/// Returns false when the user does not exist.
pub fn lock_user(conn: &mut DbConnection, id: &str) -> Result<bool, ApiError> {
    Ok(users::lock(conn, id)?)
}

pub fn load_user(conn: &mut DbConnection, id: &str) -> Result<Option<LoadedUser>, ApiError> {
    let Some(row) = users::find(conn, id)? else {
        return Ok(None);
    };
    let customer_ids = memberships::customer_ids_of(conn, id)?;
    Ok(Some(LoadedUser { row, customer_ids }))
}

/// The user, if the actor may read User Info (403 for a fellow member,
/// 404 for anyone who cannot see the user at all).
pub fn visible_user(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<LoadedUser, ApiError> {
    let user = load_user(conn, id)?.ok_or(ApiError::NotFound("user"))?;
    require(actor.view_user(&user.target()), "user")?;
    Ok(user)
}

/// The user, if the actor may change them (the user-admin rule), locked
/// for the rest of the transaction (see [`lock_user`]).
pub fn administered_user(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<LoadedUser, ApiError> {
    lock_user(conn, id)?;
    let user = load_user(conn, id)?.ok_or(ApiError::NotFound("user"))?;
    require(actor.administer_user(&user.target()), "user")?;
    Ok(user)
}
