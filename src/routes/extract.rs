//! `Authenticated`: verifies the bearer token, then has the caller re-read
//! from the database on every request, so inactivation, retirement, deletion,
//! locking and password changes take effect at once.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::auth::jwt::Claims;
use crate::domain::permissions::Actor;
use crate::error::ApiError;
use crate::service::{callers, keys};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let verified = VerifiedToken::from_request(req, &mut actix_web::dev::Payload::None);
        Box::pin(async move {
            let VerifiedToken { state, claims } = verified.await?;
            let actor = callers::current(&state, claims)
                .await?
                .ok_or_else(callers::ended)?;
            callers::note(&actor);
            Ok(Authenticated(actor))
        })
    }
}

/// A verified bearer token whose caller the use case re-reads itself, in
/// the same query as what it reads (the hot reads: one statement, one pool
/// checkout and one thread hand-off a request).
#[derive(Clone)]
pub struct VerifiedToken {
    state: web::Data<AppState>,
    pub claims: Claims,
}

impl VerifiedToken {
    /// `parsed`, or its error once the caller is known to still stand, as
    /// with [`Authenticated`]: an ended session is 401 whatever it asked for.
    pub async fn then<T>(&self, parsed: Result<T, ApiError>) -> Result<T, ApiError> {
        let err = match parsed {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let actor = callers::current(&self.state, self.claims.clone())
            .await?
            .ok_or_else(callers::ended)?;
        callers::note(&actor);
        Err(err)
    }
}

impl FromRequest for VerifiedToken {
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
            let claims = keys::verify_access_token(&state, token)
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized("The access token is invalid or expired.".into())
                })?;
            Ok(VerifiedToken { state, claims })
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_string())
}
