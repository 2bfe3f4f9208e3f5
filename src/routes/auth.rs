//! Public authentication endpoints: the token endpoint (RFC 6749), revocation
//! (RFC 7009) and the JWKS. The emailed-link flows are in `links`.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::jwt::JwkSet;
use crate::error::{ApiError, Problem};
use crate::http::read_limited;
use crate::openapi::responses::{TooManyRequests, UnsupportedMediaType};
use crate::service::sessions::{self, GrantError, TokenResponse};
use crate::state::AppState;

/// The token request (RFC 6749), as a form or as JSON. Its document is one
/// object per grant (see the `ToSchema` impl), since each needs its own fields.
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Accepted and ignored: scope follows the account or client.
    pub scope: Option<String>,
}

impl utoipa::PartialSchema for TokenRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        let text = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let secret = |description: &str| {
            text(description).format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        };
        let grant = |name: &str, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(description))
                .property(
                    "grant_type",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([name])),
                )
                .required("grant_type")
                .property(
                    "scope",
                    text("Accepted and ignored: scope follows the account or client."),
                )
        };
        OneOfBuilder::new()
            .description(Some(
                "One object per grant; another `grant_type` is 400 `unsupported_grant_type`, a missing field 400 `invalid_request`.",
            ))
            .item(
                grant("password", "Sign in with an email and password.")
                    .property("username", text("The email address."))
                    .required("username")
                    .property("password", secret("The password."))
                    .required("password"),
            )
            .item(
                grant(
                    "refresh_token",
                    "Rotate a refresh token (reusing a rotated one revokes its whole family; a session older than `ROSTER_SESSION_MAX_AGE` is refused).",
                )
                .property("refresh_token", text("The refresh token of a previous answer."))
                .required("refresh_token"),
            )
            .item(
                grant(
                    "client_credentials",
                    "An API client; the credentials may come with HTTP Basic instead (RFC 6749 §2.3.1).",
                )
                .property("client_id", text("The API client's id."))
                .required("client_id")
                .property("client_secret", secret("The API client's secret."))
                .required("client_secret"),
            )
            .into()
    }
}

impl ToSchema for TokenRequest {}

/// An RFC 6749 §5.2 error. `code` names the account state when the password was right.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: OAuthErrorKind,
    /// A sentence for a person; do not parse it.
    #[schema(example = "The credentials are not valid.")]
    pub error_description: String,
    /// Present only for an unlocked account after the right password: why it
    /// cannot sign in. Show the matching message (e.g. "ask an administrator
    /// to reactivate your account").
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = sign_in_refusal_schema)]
    pub code: Option<&'static str>,
}

/// The `error` of an RFC 6749 error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorKind {
    /// A required field is missing or the body cannot be read (400).
    InvalidRequest,
    /// Wrong email or password, a locked account, or a refresh token that is
    /// unknown, rotated, revoked or too old (400). With `code` when the
    /// password was right but the account cannot sign in.
    InvalidGrant,
    /// The API client's id or secret is wrong, or the client is revoked or suspended (401).
    InvalidClient,
    /// `grant_type` is not `password`, `refresh_token` or `client_credentials` (400).
    UnsupportedGrantType,
}

impl OAuthErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorKind::InvalidRequest => "invalid_request",
            OAuthErrorKind::InvalidGrant => "invalid_grant",
            OAuthErrorKind::InvalidClient => "invalid_client",
            OAuthErrorKind::UnsupportedGrantType => "unsupported_grant_type",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            OAuthErrorKind::InvalidRequest => "a required field is missing or the body cannot be read",
            OAuthErrorKind::InvalidGrant => "wrong email or password, a locked account, or a refresh token that is unknown, rotated, revoked or too old; with `code` when the password was right but the account cannot sign in",
            OAuthErrorKind::InvalidClient => "the API client's id or secret is wrong, or the client is revoked or suspended",
            OAuthErrorKind::UnsupportedGrantType => "`grant_type` is not `password`, `refresh_token` or `client_credentials`",
        }
    }
}

/// `OAuthError.code`: the refusals [`UserStatus::sign_in_refusal`] can give.
fn sign_in_refusal_schema() -> utoipa::openapi::schema::Object {
    use crate::domain::lifecycle::UserStatus;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let codes: Vec<&str> = UserStatus::ALL
        .iter()
        .filter_map(|status| status.sign_in_refusal())
        .collect();
    let meanings: Vec<String> = codes
        .iter()
        .map(|code| format!("- `{code}`: {}", account_state_description(code)))
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes))
        .description(Some(format!(
            "Why an account whose password was right cannot sign in:\n\n{}",
            meanings.join("\n")
        )))
        .build()
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.error, self.error_description)
    }
}

impl OAuthError {
    fn new(error: OAuthErrorKind, description: &str) -> Self {
        OAuthError {
            error,
            error_description: description.to_string(),
            code: None,
        }
    }

    fn from_grant(err: GrantError) -> Self {
        match err {
            GrantError::InvalidGrant => OAuthError::new(
                OAuthErrorKind::InvalidGrant,
                "The credentials are not valid.",
            ),
            GrantError::AccountState(code) => OAuthError {
                code: Some(code),
                ..OAuthError::new(
                    OAuthErrorKind::InvalidGrant,
                    account_state_description(code),
                )
            },
            GrantError::InvalidClient => OAuthError::new(
                OAuthErrorKind::InvalidClient,
                "Client authentication failed.",
            ),
        }
    }
}

fn account_state_description(code: &str) -> &'static str {
    match code {
        "account_inactive" => "Your account has been deactivated; contact your administrator to activate it.",
        "account_expired" => "Your account expired after a long time without sign-in; ask an administrator to reactivate it.",
        "account_retired" => "Your account has been retired.",
        _ => "Your account is not activated yet; use the link in your activation email.",
    }
}

/// The token endpoint answers in RFC 6749 form, never cached.
pub enum TokenError {
    OAuth(OAuthError),
    Api(ApiError),
}

impl From<ApiError> for TokenError {
    fn from(err: ApiError) -> Self {
        TokenError::Api(err)
    }
}

impl std::fmt::Debug for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::OAuth(e) => write!(f, "{e}"),
            TokenError::Api(e) => write!(f, "{e}"),
        }
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        match self {
            TokenError::OAuth(e) if e.error == OAuthErrorKind::InvalidClient => {
                StatusCode::UNAUTHORIZED
            }
            TokenError::OAuth(_) => StatusCode::BAD_REQUEST,
            TokenError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            TokenError::OAuth(body) => {
                let mut response = HttpResponse::build(self.status_code());
                response.insert_header((header::CACHE_CONTROL, "no-store"));
                // RFC 6749 §5.2: a 401 names the scheme the client may authenticate with.
                if body.error == OAuthErrorKind::InvalidClient {
                    response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"roster\""));
                }
                response.json(body)
            }
            TokenError::Api(err) => err.error_response(),
        }
    }
}

pub fn token_response(pair: TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(pair)
}

async fn read_token_request(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<TokenRequest, TokenError> {
    let content_type = req.content_type().to_ascii_lowercase();
    let mut inner = payload.into_inner();
    let body = read_limited(&mut inner).await?;
    let parsed: Result<TokenRequest, String> =
        if content_type == "application/x-www-form-urlencoded" {
            serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
        } else if content_type == "application/json" {
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        } else {
            return Err(TokenError::Api(ApiError::UnsupportedMediaType));
        };
    parsed.map_err(|why| TokenError::OAuth(OAuthError::new(OAuthErrorKind::InvalidRequest, &why)))
}

/// `client_id:client_secret` from HTTP Basic (RFC 6749 §2.3.1), if present.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Issue tokens.
///
/// `grant_type=password` (`username` = email, `password`) for people,
/// `refresh_token` to rotate a refresh token (reusing a rotated one revokes
/// its whole family; none rotates once its session is
/// `ROSTER_SESSION_MAX_AGE` old), `client_credentials` for API clients (in
/// the body or with HTTP Basic). A wrong password, an unknown email and a
/// locked account (whatever its status, right password or not) all answer
/// the same `invalid_grant`; only an unlocked account with the right
/// password gets a `code` naming its state.
#[utoipa::path(
    tag = "auth",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, body = TokenResponse, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request, invalid_grant or unsupported_grant_type", body = OAuthError),
        (status = 401, description = "invalid_client", body = OAuthError),
        UnsupportedMediaType,
        TooManyRequests,
    )
)]
#[post("/token")]
pub async fn issue_token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TokenError> {
    let request = read_token_request(&req, payload).await?;
    let outcome = match request.grant_type.as_str() {
        "password" => {
            let username = request.username.ok_or_else(|| missing("username"))?;
            let password = request.password.ok_or_else(|| missing("password"))?;
            sessions::password_grant(&state, username, password).await?
        }
        "refresh_token" => {
            let presented = request
                .refresh_token
                .ok_or_else(|| missing("refresh_token"))?;
            sessions::refresh_grant(&state, presented).await?
        }
        "client_credentials" => {
            let (id, secret) = match (
                basic_credentials(&req),
                request.client_id,
                request.client_secret,
            ) {
                (Some((id, secret)), _, _) => (id, SecretString::from(secret)),
                (None, Some(id), Some(secret)) => (id, secret),
                _ => return Err(missing("client_id and client_secret")),
            };
            sessions::client_credentials_grant(&state, id, secret).await?
        }
        _ => {
            return Err(TokenError::OAuth(OAuthError::new(
                OAuthErrorKind::UnsupportedGrantType,
                "Use password, refresh_token or client_credentials.",
            )))
        }
    };
    outcome
        .map(token_response)
        .map_err(|e| TokenError::OAuth(OAuthError::from_grant(e)))
}

fn missing(what: &str) -> TokenError {
    TokenError::OAuth(OAuthError::new(
        OAuthErrorKind::InvalidRequest,
        &format!("{what} is required."),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// The refresh token to revoke.
    #[schema(min_length = 1)]
    pub token: String,
    /// `refresh_token` or `access_token`; only refresh tokens are stateful.
    pub token_type_hint: Option<String>,
}

/// Revoke a refresh token and its family (RFC 7009). 200 for any token:
/// unknown tokens and access tokens (which expire on their own) are ignored.
/// A request without a `token` is 400 `invalid_request` (RFC 7009 §2.2.1).
#[utoipa::path(
    tag = "auth",
    request_body(content(
        (RevokeRequest = "application/x-www-form-urlencoded"),
        (RevokeRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke", headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: no `token`, or a body that is not a revocation request", body = OAuthError),
        (status = 413, description = "The body is larger than 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is neither a form nor JSON", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/revoke")]
pub async fn revoke_token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TokenError> {
    let content_type = req.content_type().to_ascii_lowercase();
    let mut inner = payload.into_inner();
    let body = read_limited(&mut inner).await?;
    let parsed: Result<RevokeRequest, String> = match content_type.as_str() {
        "application/json" => serde_json::from_slice(&body).map_err(|e| e.to_string()),
        // A bare POST (no body, no type) is read as an empty form.
        "application/x-www-form-urlencoded" | "" => {
            serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
        }
        _ => return Err(TokenError::Api(ApiError::UnsupportedMediaType)),
    };
    let token = parsed
        .map_err(|why| TokenError::OAuth(OAuthError::new(OAuthErrorKind::InvalidRequest, &why)))?
        .token;
    if token.is_empty() {
        return Err(missing("token"));
    }
    sessions::revoke(&state, token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// The public keys that verify access tokens.
///
/// The signing key first, then any key it superseded (`roster keys rotate`)
/// whose tokens may not have expired yet. A token's `kid` names its key;
/// refetch the set when a token names a key you do not have.
#[utoipa::path(
    operation_id = "get_jwks",tag = "auth", responses((status = 200, body = JwkSet)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = crate::service::keys::jwks(&state).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(keys))
}
