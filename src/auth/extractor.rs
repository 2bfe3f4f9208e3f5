//! `Authenticated`: verifies the bearer token, then re-reads the caller from
//! the database on every request, so inactivation, retirement, deletion,
//! locking and password changes take effect at once.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::db::{api_clients, users};
use crate::domain::permissions::{Actor, ActorKind};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
            let token = token.ok_or_else(|| {
                ApiError::Unauthorized("Send `Authorization: Bearer <access token>`.".into())
            })?;
            let claims = state
                .keys
                .verify(&token, state.clock.now().unix_timestamp())
                .ok_or_else(|| {
                    ApiError::Unauthorized("The access token is invalid or expired.".into())
                })?;
            let actor = state
                .db
                .run(move |conn| {
                    load_actor(conn, &claims.sub, claims.sv, claims.client_id.is_some())
                })
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized("This session has ended; sign in again.".into())
                })?;
            tracing::Span::current().record("actor", actor.principal_key());
            Ok(Authenticated(actor))
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_string())
}

/// The caller as of now, or `None` when the token no longer stands for one.
fn load_actor(
    conn: &mut crate::db::DbConnection,
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
    let usable = user.status == "active"
        && user.locked_at.is_none()
        && user.session_version == session_version;
    if !usable {
        return Ok(None);
    }
    Ok(Some(Actor {
        platform_admin: user.is_platform_admin(),
        member_of: roles.iter().map(|(c, _)| c.clone()).collect(),
        admin_of: roles
            .into_iter()
            .filter(|(_, role)| role == "admin")
            .map(|(c, _)| c)
            .collect(),
        kind: ActorKind::User { id: user.id },
    }))
}
