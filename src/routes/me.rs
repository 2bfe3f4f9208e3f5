//! The signed-in user's own account.

use actix_web::{get, post, web, HttpResponse};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::http::{JsonBody, RequestId};
use crate::openapi::responses::Unauthorized;
use crate::routes::extract::{Authenticated, VerifiedToken};
use crate::routes::views::UserView;
use crate::service::sessions::TokenResponse;
use crate::service::users as user_service;
use crate::state::AppState;

/// Your own User, with memberships.
#[utoipa::path(
    operation_id = "get_me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserView),
        Unauthorized,
        (status = 403, description = "API clients have no user", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/me")]
pub async fn me(
    token: VerifiedToken,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (user, memberships) = user_service::me(&state, token.claims).await?;
    Ok(HttpResponse::Ok().json(UserView::new(&user, &memberships)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password, pattern = r"^[^\x00]*$")]
    pub current_password: SecretString,
    /// The policy's minimum (`ROSTER_PASSWORD_MIN_LENGTH`, 12 by default,
    /// never under 8) to 128 characters, not a common password and not built
    /// from your email or name.
    #[schema(schema_with = crate::openapi::schemas::new_password)]
    pub new_password: SecretString,
}

/// Change your password: needs the current one; returns a new token pair and
/// ends your other sessions; a confirmation email follows.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, body = TokenResponse),
        Unauthorized,
        (status = 403, description = "API clients have no password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password, or the new one breaks the policy", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/me/password")]
pub async fn change_password(
    actor: Authenticated,
    body: JsonBody<ChangePasswordRequest>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let pair = user_service::change_own_password(
        &state,
        &actor.0,
        body.current_password,
        body.new_password,
        request_id.origin(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(pair))
}
