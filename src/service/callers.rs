//! Who is calling: the actor an access token stands for, as of now.

use crate::auth::jwt::Claims;
use crate::db::customers::{self, CustomerRow};
use crate::db::memberships::{self, UserWithMemberships};
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
    state.read(move |conn, _| caller(conn, &claims)).await
}

/// The answer to a token that no longer stands for anyone.
pub fn ended() -> ApiError {
    ApiError::Unauthorized("This session has ended; sign in again.".into())
}

/// Names the caller in the request's log span.
pub fn note(actor: &Actor) {
    tracing::Span::current().record("actor", actor.principal_key());
}

/// The caller of `claims` as of now, inside the use case's own transaction.
pub fn caller(conn: &mut DbConnection, claims: &Claims) -> Result<Option<Actor>, ApiError> {
    load_actor(conn, &claims.sub, claims.sv, claims.client_id.is_some())
}

/// The caller of `claims` and the user `user_id` with their memberships
/// (`None` when there is no such user), read together: a person's token
/// costs one statement for both (an API client's, two). `Err` is 401 when
/// the token no longer stands for anyone.
pub fn caller_and_user(
    conn: &mut DbConnection,
    claims: &Claims,
    user_id: &str,
) -> Result<(Actor, Option<UserWithMemberships>), ApiError> {
    if claims.client_id.is_some() {
        let actor = caller(conn, claims)?.ok_or_else(ended)?;
        return Ok((actor, memberships::user_with_memberships(conn, user_id)?));
    }
    let found = memberships::two_users_with_memberships(conn, &claims.sub, user_id)?;
    let mut caller = None;
    let mut target = None;
    for (user, memberships) in found {
        if user.id == user_id {
            if user.id == claims.sub {
                caller = Some(standing_person(&user, &memberships, claims.sv));
            }
            target = Some((user, memberships));
        } else if user.id == claims.sub {
            caller = Some(standing_person(&user, &memberships, claims.sv));
        }
    }
    let actor = caller.flatten().ok_or_else(ended)?;
    Ok((actor, target))
}

/// The caller of `claims` and the customer `customer_id` (`None` when there
/// is no such customer), read together: a person's token costs one
/// statement for both (an API client's, two). `Err` is 401 when the token
/// no longer stands for anyone.
pub fn caller_and_customer(
    conn: &mut DbConnection,
    claims: &Claims,
    customer_id: &str,
) -> Result<(Actor, Option<CustomerRow>), ApiError> {
    if claims.client_id.is_some() {
        let actor = caller(conn, claims)?.ok_or_else(ended)?;
        return Ok((actor, customers::find(conn, customer_id)?));
    }
    let (user, roles, customer) =
        users::find_with_roles_and_customer(conn, &claims.sub, customer_id)?.ok_or_else(ended)?;
    if !may_use_tokens(&user, claims.sv) {
        return Err(ended());
    }
    Ok((person(user, roles), customer))
}

/// Whether `user`'s tokens of session version `session_version` still work:
/// the account is usable and its session version (moved on by a password
/// change, a reset and the like) is still theirs.
fn may_use_tokens(user: &UserRow, session_version: i32) -> bool {
    user.standing() == Standing::Usable && user.session_version == session_version
}

/// The person a token with session version `session_version` stands for, if
/// the account may still use its tokens.
fn standing_person(
    user: &UserRow,
    memberships: &[memberships::MembershipInfo],
    session_version: i32,
) -> Option<Actor> {
    may_use_tokens(user, session_version).then(|| {
        let roles = memberships
            .iter()
            .map(|m| (m.membership.customer_id.clone(), m.membership.role))
            .collect();
        person_of(user, roles)
    })
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
    Ok(may_use_tokens(&user, session_version).then(|| person(user, roles)))
}

/// A person as a caller, with the customers they belong to and administer.
pub fn person(user: UserRow, roles: Roles) -> Actor {
    person_of(&user, roles)
}

fn person_of(user: &UserRow, roles: Roles) -> Actor {
    Actor {
        platform_admin: user.is_platform_admin(),
        member_of: roles.iter().map(|(c, _)| c.clone()).collect(),
        admin_of: roles
            .into_iter()
            .filter(|(_, role)| *role == MembershipRole::Admin)
            .map(|(c, _)| c)
            .collect(),
        kind: ActorKind::User {
            id: user.id.clone(),
        },
    }
}
