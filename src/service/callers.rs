//! Who is calling: the actor an access token stands for, as of now.

use crate::auth::jwt::Claims;
use crate::db::users::{Roles, UserRow};
use crate::db::{users, DbConnection};
use crate::domain::lifecycle::Standing;
use crate::domain::permissions::{Actor, ActorKind};
use crate::domain::roles::MembershipRole;
use crate::error::ApiError;
use crate::service::api_clients;
use crate::state::AppState;

/// The caller a verified access token stands for, re-read from the database
/// (so inactivation, retirement, deletion, locking and password changes take
/// effect at once, and an API client whose creator lost the right to make it
/// stops); `None` when it no longer stands for anyone.
pub async fn current(state: &AppState, claims: Claims) -> Result<Option<Actor>, ApiError> {
    state
        .read(move |conn, _| load_actor(conn, &claims.sub, claims.sv, claims.client_id.is_some()))
        .await
}

/// The caller as of now, or `None` when the token no longer stands for one.
fn load_actor(
    conn: &mut DbConnection,
    subject: &str,
    session_version: i32,
    is_client: bool,
) -> Result<Option<Actor>, ApiError> {
    if is_client {
        let client = api_clients::find_usable(conn, subject)?;
        return Ok(client.map(|c| Actor::client(&c.id, c.customer_id.as_deref())));
    }
    let Some((user, roles)) = users::find_with_roles(conn, subject)? else {
        return Ok(None);
    };
    let usable = user.standing() == Standing::Usable && user.session_version == session_version;
    if !usable {
        return Ok(None);
    }
    Ok(Some(person(user, roles)))
}

/// A person as a caller, with the customers they belong to and administer.
pub fn person(user: UserRow, roles: Roles) -> Actor {
    Actor {
        platform_admin: user.is_platform_admin(),
        member_of: roles.iter().map(|(c, _)| c.clone()).collect(),
        admin_of: roles
            .into_iter()
            .filter(|(_, role)| *role == MembershipRole::Admin)
            .map(|(c, _)| c)
            .collect(),
        kind: ActorKind::User { id: user.id },
    }
}
