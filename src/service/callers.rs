//! Who is calling: the actor an access token stands for, as of now.

use std::collections::BTreeSet;

use crate::auth::jwt::Claims;
use crate::db::{api_clients, users, DbConnection};
use crate::domain::lifecycle::Standing;
use crate::domain::permissions::{Actor, ActorKind};
use crate::domain::roles::MembershipRole;
use crate::error::ApiError;
use crate::state::AppState;

/// The caller a verified access token stands for, re-read from the database
/// (so inactivation, retirement, deletion, locking and password changes take
/// effect at once); `None` when it no longer stands for anyone.
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
        let Some(client) = api_clients::find_live(conn, subject)? else {
            return Ok(None);
        };
        let scope: BTreeSet<String> = client.customer_id.iter().cloned().collect();
        return Ok(Some(Actor {
            kind: ActorKind::Client { id: client.id },
            platform_admin: client.customer_id.is_none(),
            member_of: scope.clone(),
            admin_of: scope,
        }));
    }
    let Some((user, roles)) = users::find_with_roles(conn, subject)? else {
        return Ok(None);
    };
    let usable = user.standing() == Standing::Usable && user.session_version == session_version;
    if !usable {
        return Ok(None);
    }
    Ok(Some(Actor {
        platform_admin: user.is_platform_admin(),
        member_of: roles.iter().map(|(c, _)| c.clone()).collect(),
        admin_of: roles
            .into_iter()
            .filter(|(_, role)| *role == MembershipRole::Admin)
            .map(|(c, _)| c)
            .collect(),
        kind: ActorKind::User { id: user.id },
    }))
}
