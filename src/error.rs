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

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a path into the request body (`settings.menu`) or a query parameter name.
    pub field: String,
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
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Machine-readable code, e.g. `seat_limit_reached`.
    pub code: String,
    /// Present on validation failures (422).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The user a conflict is about (`user_retired`), so the client can act on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Methods the resource does allow (405).
    #[serde(skip_serializing_if = "Option::is_none")]
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
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
    #[error("conflict {code}: {detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        user_id: Option<String>,
    },
    #[error("gone: {0}")]
    Gone(String),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A 422 with its own code (e.g. `idempotency_key_reused`).
    #[error("unprocessable: {code}")]
    Unprocessable {
        code: &'static str,
        errors: Vec<FieldError>,
    },
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A 429 with its own code and detail (e.g. `confirmation_limit_reached`).
    #[error("too many requests: {code}")]
    Limited {
        code: &'static str,
        detail: String,
        retry_after_secs: u64,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
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
    pub fn with_code(self, code: &'static str) -> Self {
        match self {
            ApiError::Validation(errors) => ApiError::Unprocessable { code, errors },
            other => other,
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "malformed_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::Gone(_) => "gone",
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Limited { code, .. } => code,
            ApiError::Unavailable(_) => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
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
            ApiError::MethodNotAllowed(allow) => {
                format!("This resource allows {}.", allow.join(", "))
            }
            ApiError::PreconditionFailed => {
                "The resource changed since you read it (If-Match does not match its ETag); read it again and retry.".into()
            }
            ApiError::PayloadTooLarge => "The request body is larger than 64 KiB.".into(),
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
            code: code.to_string(),
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
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
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
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(problem.errors.unwrap()[0].field, "email");
        assert!(problem.detail.contains("email"));
    }

    #[test]
    fn a_conflict_carries_its_code_and_user() {
        let err = ApiError::Conflict {
            code: "user_retired",
            detail: "retired".into(),
            user_id: Some("u1".into()),
        };
        let problem = err.problem();
        assert_eq!(problem.type_, "urn:roster:problem:user_retired");
        assert_eq!(problem.user_id.as_deref(), Some("u1"));
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
