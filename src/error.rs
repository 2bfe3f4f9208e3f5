//! The one error type of the HTTP API, rendered as RFC 9457 problem+json.
//!
//! Policy: a client mistake is a 4xx that names the problem (`code`, `detail`,
//! and `errors[]` for validation); a database that cannot be reached or is busy
//! is a 503 with `Retry-After`; anything else is an opaque 500 whose cause goes
//! to the log only — never SQL text or a stack trace in a response. Database
//! errors are never turned into "not found".

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::passwords::HashError;
use crate::db::{DbError, DbFailure};
use crate::email::EmailError;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Declares [`ErrorCode`] once: its variants, their wire names, the status
/// they answer with and what they mean. The OpenAPI enum of `Problem.code`
/// and the per-response code lists are derived from this table.
macro_rules! error_codes {
    ($($variant:ident = $name:literal, $status:literal, $meaning:literal;)*) => {
        /// Every machine-readable `code` a problem+json answer can carry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The HTTP status every answer with this code has.
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// What the code means and what a client should do about it.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)*
                }
            }
        }
    };
}

error_codes! {
    MalformedRequest = "malformed_request", 400, "The request could not be read: the body is not valid JSON for the operation, or a header is malformed.";
    Unauthorized = "unauthorized", 401, "No access token, or it is expired, revoked or otherwise not valid: sign in again (or refresh).";
    Forbidden = "forbidden", 403, "Signed in, but your role does not allow this operation on this resource.";
    NotFound = "not_found", 404, "No resource with that id is visible to you (it does not exist, or it belongs to a customer you cannot see).";
    RouteNotFound = "route_not_found", 404, "No route has this path: check the URL against this document.";
    MethodNotAllowed = "method_not_allowed", 405, "The path exists but not with this method; `allow` and the `Allow` header list the methods it has.";
    AlreadyMember = "already_member", 409, "The user already belongs to this customer.";
    SeatLimitReached = "seat_limit_reached", 409, "Every licensed seat of the customer is taken: retire or remove a user, or raise `licensed_seats`.";
    EmailTaken = "email_taken", 409, "Another user already has this email address (compared case-insensitively).";
    ExternalIdTaken = "external_id_taken", 409, "Another member (or group) of this customer already has this `external_id`.";
    GroupNameTaken = "group_name_taken", 409, "The customer already has a group with this name (compared case-insensitively).";
    UserRetired = "user_retired", 409, "The user is retired: reinstate them first (`user_id` names them).";
    UserNotActivated = "user_not_activated", 409, "The user never set a password, so they cannot be made active: send the activation email instead.";
    CannotChangeSelf = "cannot_change_self", 409, "You cannot change your own status or delete yourself.";
    NotInvited = "not_invited", 409, "The activation email is only for invited users.";
    NotActive = "not_active", 409, "The password-reset email is only for active users.";
    NotFailed = "not_failed", 409, "Only a failed email or webhook delivery can be queued again.";
    EndpointDisabled = "endpoint_disabled", 409, "The webhook endpoint is disabled (its `disabled_reason` says why): enable it with PATCH first.";
    IdempotencyRequestInProgress = "idempotency_request_in_progress", 409, "A request with this `Idempotency-Key` is still being processed: retry shortly.";
    Gone = "gone", 410, "The emailed link expired, was used, or was replaced by a newer one: ask for a new one.";
    PreconditionFailed = "precondition_failed", 412, "`If-Match` does not match the current `ETag`: read the resource again, then retry.";
    NotAcceptable = "not_acceptable", 406, "The operation cannot answer in any media type the `Accept` header allows; `detail` lists those it can.";
    PayloadTooLarge = "payload_too_large", 413, "The request body is larger than the operation accepts: 64 KiB, or `ROSTER_IMPORT_MAX_BYTES` for an import file.";
    UnsupportedMediaType = "unsupported_media_type", 415, "The body is not in a media type the operation accepts (usually `application/json`).";
    ValidationFailed = "validation_failed", 422, "A field or parameter is invalid: `errors[]` names each one and why.";
    IdempotencyKeyReused = "idempotency_key_reused", 422, "This `Idempotency-Key` was used in the last 24 h with another request body.";
    RateLimited = "rate_limited", 429, "Too many requests (or password checks) at once: wait `Retry-After` seconds.";
    ConfirmationLimitReached = "confirmation_limit_reached", 429, "You asked for too many action-confirmation emails this hour; nothing changed: wait `Retry-After` seconds or leave `confirmation_email` out.";
    InternalError = "internal_error", 500, "An unexpected error; it was logged with the request id.";
    ServiceUnavailable = "service_unavailable", 503, "The database is not answering: retry after `Retry-After` seconds.";
}

impl ErrorCode {
    /// The codes answered with `status`.
    pub fn with_status(status: u16) -> impl Iterator<Item = ErrorCode> {
        Self::ALL
            .iter()
            .copied()
            .filter(move |c| c.status() == status)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let meanings: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| format!("- `{}` ({}): {}", c.as_str(), c.status(), c.meaning()))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(format!(
                "Machine-readable code of a problem: switch on it, not on `title` or `detail`.\n\n{}",
                meanings.join("\n")
            )))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a path into the request body (`settings.menu`) or a query parameter name.
    pub field: String,
    /// What is wrong with it, for a person (e.g. `is not an email address`).
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:roster:problem:{code}`.
    #[serde(rename = "type")]
    #[schema(example = "urn:roster:problem:seat_limit_reached")]
    pub type_: String,
    /// The HTTP reason phrase of `status` (e.g. `Conflict`).
    #[schema(example = "Conflict")]
    pub title: String,
    /// The HTTP status code, repeated.
    #[schema(example = 409)]
    pub status: u16,
    /// A sentence for a person, specific to this occurrence; do not parse it.
    #[schema(example = "UBM Demo has 25 of 25 licensed seats in use.")]
    pub detail: String,
    pub code: ErrorCode,
    /// Present on validation failures (422): one entry per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub errors: Option<Vec<FieldError>>,
    /// Present on `user_retired`: the retired user, so the client can offer to reinstate them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = Uuid)]
    pub user_id: Option<String>,
    /// Present on 405: the methods the path does allow.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub allow: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("authentication required: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No route has the request's path (the fallback).
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
    #[error("conflict {code}: {detail}")]
    Conflict {
        code: ErrorCode,
        detail: String,
        user_id: Option<String>,
    },
    #[error("gone: {0}")]
    Gone(String),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A 413 for an upload with its own limit (`ROSTER_IMPORT_MAX_BYTES`).
    #[error("file too large")]
    FileTooLarge { limit: u64 },
    /// A 406: none of the media types `Accept` allows; the detail lists ours.
    #[error("not acceptable")]
    NotAcceptable(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A 422 with its own code (e.g. `idempotency_key_reused`).
    #[error("unprocessable: {code}")]
    Unprocessable {
        code: ErrorCode,
        errors: Vec<FieldError>,
    },
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A 429 with its own code and detail (e.g. `confirmation_limit_reached`).
    #[error("too many requests: {code}")]
    Limited {
        code: ErrorCode,
        detail: String,
        retry_after_secs: u64,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
            user_id: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// Gives a validation failure a more specific code.
    pub fn with_code(self, code: ErrorCode) -> Self {
        match self {
            ApiError::Validation(errors) => ApiError::Unprocessable { code, errors },
            other => other,
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::MalformedRequest,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::NoRoute => ErrorCode::RouteNotFound,
            ApiError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            ApiError::Conflict { code, .. } => *code,
            ApiError::Gone(_) => ErrorCode::Gone,
            ApiError::PreconditionFailed => ErrorCode::PreconditionFailed,
            ApiError::PayloadTooLarge | ApiError::FileTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::NotAcceptable(_) => ErrorCode::NotAcceptable,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::Validation(_) => ErrorCode::ValidationFailed,
            ApiError::Unprocessable { code, .. } => *code,
            ApiError::TooManyRequests { .. } => ErrorCode::RateLimited,
            ApiError::Limited { code, .. } => *code,
            ApiError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::BadRequest(d)
            | ApiError::Unauthorized(d)
            | ApiError::Forbidden(d)
            | ApiError::Gone(d) => d.clone(),
            ApiError::Conflict { detail, .. } | ApiError::Limited { detail, .. } => detail.clone(),
            ApiError::NotFound(what) => format!("No {what} with that id is visible to you."),
            ApiError::NoRoute => {
                "No route exists at this path; see /openapi.json for the routes.".into()
            }
            ApiError::MethodNotAllowed(allow) => {
                format!("This resource allows {}.", allow.join(", "))
            }
            ApiError::PreconditionFailed => {
                "The resource changed since you read it (If-Match does not match its ETag); read it again and retry.".into()
            }
            ApiError::PayloadTooLarge => "The request body is larger than 64 KiB.".into(),
            ApiError::FileTooLarge { limit } => {
                format!("The file is larger than the {limit} bytes an import accepts.")
            }
            ApiError::NotAcceptable(offered) => {
                format!("This operation answers only in {offered}; ask for one of them in Accept.")
            }
            ApiError::UnsupportedMediaType => {
                "Send the request body as application/json.".into()
            }
            ApiError::Validation(errors) | ApiError::Unprocessable { errors, .. } => {
                let details: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{} {}", e.field, e.message))
                    .collect();
                format!("Invalid request: {}.", details.join("; "))
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                format!("Too many requests; retry in {retry_after_secs} s.")
            }
            ApiError::Unavailable(_) => {
                "The database is not answering; retry shortly.".into()
            }
            ApiError::Internal(_) => "An unexpected error occurred; it has been logged.".into(),
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let code = self.code();
        Problem {
            type_: format!("urn:roster:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors: match self {
                ApiError::Validation(errors) | ApiError::Unprocessable { errors, .. } => {
                    Some(errors.clone())
                }
                _ => None,
            },
            user_id: match self {
                ApiError::Conflict { user_id, .. } => user_id.clone(),
                _ => None,
            },
            allow: match self {
                ApiError::MethodNotAllowed(allow) => Some(allow.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge | ApiError::FileTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests { .. } | ApiError::Limited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        crate::request_log::server_error(self);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE));
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"roster\""));
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, allow.join(", ")));
            }
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Limited {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "2"));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

// The lower layers' errors, mapped in one place.

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(cause) => ApiError::Unavailable(cause),
            DbError::Query(err) => ApiError::Internal(err.to_string()),
            DbError::Task(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        DbError::from(err).into()
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(err: r2d2::Error) -> Self {
        DbError::from(err).into()
    }
}

impl DbFailure for ApiError {
    fn connection_lost(&self) -> bool {
        matches!(self, ApiError::Unavailable(_))
    }
}

impl From<EmailError> for ApiError {
    fn from(err: EmailError) -> Self {
        match err {
            EmailError::Db(err) => err.into(),
            EmailError::Render(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<crate::domain::lifecycle::TransitionError> for ApiError {
    fn from(err: crate::domain::lifecycle::TransitionError) -> Self {
        use crate::domain::lifecycle::TransitionError;
        let code = match err {
            TransitionError::RetiredCannotBeInactivated => ErrorCode::UserRetired,
            TransitionError::NotActivated => ErrorCode::UserNotActivated,
        };
        ApiError::conflict(code, err.to_string())
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy { retry_after_secs } => ApiError::TooManyRequests { retry_after_secs },
            HashError::Failed(cause) => ApiError::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let problem = ApiError::internal("SELECT secret FROM users").problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("SELECT"));
    }

    #[test]
    fn validation_problems_list_their_fields() {
        let problem = ApiError::invalid("email", "is not an email address").problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.code, ErrorCode::ValidationFailed);
        assert_eq!(problem.errors.unwrap()[0].field, "email");
        assert!(problem.detail.contains("email"));
    }

    #[test]
    fn a_conflict_carries_its_code_and_user() {
        let err = ApiError::Conflict {
            code: ErrorCode::UserRetired,
            detail: "retired".into(),
            user_id: Some("u1".into()),
        };
        let problem = err.problem();
        assert_eq!(problem.type_, "urn:roster:problem:user_retired");
        assert_eq!(problem.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn every_error_answers_with_the_status_its_code_declares() {
        let errors = [
            ApiError::BadRequest("x".into()),
            ApiError::Unauthorized("x".into()),
            ApiError::Forbidden("x".into()),
            ApiError::NotFound("user"),
            ApiError::NoRoute,
            ApiError::MethodNotAllowed(vec!["GET".into()]),
            ApiError::conflict(ErrorCode::EmailTaken, "x"),
            ApiError::Gone("x".into()),
            ApiError::PreconditionFailed,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::invalid("f", "x"),
            ApiError::invalid("f", "x").with_code(ErrorCode::IdempotencyKeyReused),
            ApiError::TooManyRequests {
                retry_after_secs: 1,
            },
            ApiError::Unavailable("x".into()),
            ApiError::internal("x"),
        ];
        for err in errors {
            assert_eq!(err.status_code().as_u16(), err.code().status(), "{err}");
        }
    }

    #[test]
    fn error_codes_have_distinct_wire_names() {
        let names: std::collections::BTreeSet<_> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn a_lost_connection_is_unavailable_not_internal() {
        let err: ApiError = r2d2_timeout().into();
        assert_eq!(err.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    }

    fn r2d2_timeout() -> r2d2::Error {
        #[derive(Debug)]
        struct Never;
        impl r2d2::ManageConnection for Never {
            type Connection = ();
            type Error = std::io::Error;
            fn connect(&self) -> Result<(), std::io::Error> {
                Err(std::io::Error::other("down"))
            }
            fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> {
                Ok(())
            }
            fn has_broken(&self, _: &mut ()) -> bool {
                false
            }
        }
        let pool = r2d2::Pool::builder()
            .connection_timeout(std::time::Duration::from_millis(10))
            .build_unchecked(Never);
        pool.get().unwrap_err()
    }
}
