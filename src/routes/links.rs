//! The pages behind emailed links, as JSON: what a link is for, activating
//! an account, setting a new password, and asking for a reset link.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::db::action_tokens::Purpose;
use crate::domain::email::EmailAddress;
use crate::error::{ApiError, Problem};
use crate::http::{JsonBody, RequestId};
use crate::openapi::responses::{Gone, NotFound, Unprocessable};
use crate::routes::auth::token_response;
use crate::service::accounts::{self, Redeemable};
use crate::service::sessions::TokenResponse;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionPurpose {
    Activation,
    PasswordReset,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionTokenInfo {
    pub purpose: ActionPurpose,
    pub email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// What an emailed link is for. Never consumes it (mail scanners open links).
#[utoipa::path(
    tag = "auth",
    params(("token" = String, Path, description = "The token from the emailed link")),
    responses(
        (status = 200, body = ActionTokenInfo),
        (status = 404, description = "Unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired, used or superseded", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/action-tokens/{token}")]
pub async fn inspect_action_token(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Redeemable { token, user } = accounts::inspect_link(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ActionTokenInfo {
            purpose: match token.purpose {
                Purpose::PasswordReset => ActionPurpose::PasswordReset,
                Purpose::Activation => ActionPurpose::Activation,
            },
            email: user.email,
            expires_at: crate::clock::from_db(token.expires_at),
        }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The token from the emailed link.
    #[schema(schema_with = crate::openapi::schemas::secret_text)]
    pub token: String,
    /// The new password: the policy's minimum (`ROSTER_PASSWORD_MIN_LENGTH`,
    /// 12 by default, never under 8) to 128 characters, not a common
    /// password and not built from the user's email or name.
    #[schema(schema_with = crate::openapi::schemas::new_password)]
    pub password: SecretString,
}

/// Activate an invited account: set the password and sign in.
#[utoipa::path(
    operation_id = "activate_account",
    tag = "auth",
    request_body = SetPasswordRequest,
    responses(
        (status = 200, body = TokenResponse),
        NotFound,
        Gone,
        (status = 422, description = "The password breaks the policy", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/activate")]
pub async fn activate(
    body: JsonBody<SetPasswordRequest>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let pair = accounts::activate(&state, body.token, body.password, request_id.origin()).await?;
    Ok(token_response(pair))
}

/// Set a new password with a reset link. Signs nobody in; ends every session.
#[utoipa::path(
    tag = "auth",
    request_body = SetPasswordRequest,
    responses(
        (status = 204, description = "Password changed; sign in with it"),
        NotFound,
        Gone,
        Unprocessable,
    )
)]
#[post("/reset-password")]
pub async fn reset_password(
    body: JsonBody<SetPasswordRequest>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    accounts::reset_password(&state, body.token, body.password, request_id.origin()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[schema(example = "jane.doe@example.com", format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "If the address belongs to an account, an email is on its way.")]
    pub message: &'static str,
}

const FORGOT_ANSWER: &str = "If the address belongs to an account, an email is on its way.";

/// Ask for a reset link. Always 202 with the same body: the request is
/// stored alike for any address and resolved by the delivery worker, so
/// timing tells nothing either.
#[utoipa::path(
    operation_id = "request_password_reset",
    tag = "auth",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 422, description = "Not an email address", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/forgot-password")]
pub async fn forgot_password(
    body: JsonBody<ForgotPasswordRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let email =
        EmailAddress::parse(&body.0.email).map_err(|why| ApiError::invalid("email", why))?;
    accounts::forgot_password(&state, email).await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        message: FORGOT_ANSWER,
    }))
}
