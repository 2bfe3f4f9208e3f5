//! Request pieces shared by the admin routes: list paging, the
//! requester/confirmation fields, and the audit context they feed.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::domain::email::EmailAddress;
use crate::domain::pagination::PageRequest;
use crate::domain::profile::parse_label;
use crate::error::{ApiError, FieldError};
use crate::http::{parse_query, RequestId};
use crate::openapi::schemas;
use crate::service::audit::AuditContext;
use crate::service::idempotency::{Answer, Once};

/// `?limit=` and `?cursor=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page; empty means the first page.
    #[param(schema_with = schemas::cursor)]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        PageRequest::parse(self.limit.as_deref(), self.cursor.as_deref())
            .map_err(|(field, why)| ApiError::invalid(field, why))
    }
}

/// The request's `Idempotency-Key` (1–255 visible ASCII characters) and a
/// fingerprint of its method, path and body.
pub fn once(req: &HttpRequest, body: &impl Serialize) -> Result<Once, ApiError> {
    let key = match req.headers().get("idempotency-key") {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            if text.is_empty() || text.len() > 255 || !text.chars().all(|c| c.is_ascii_graphic()) {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    "must be 1 to 255 visible ASCII characters",
                ));
            }
            Some(text.to_string())
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(req.path());
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    let fingerprint = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Once { key, fingerprint })
}

/// 201 with `Location` (and `ETag`), marked `Idempotent-Replayed` on a replay.
pub fn created(answer: Answer) -> HttpResponse {
    let Answer { created, replayed } = answer;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, created.location));
    if let Some(etag) = created.etag {
        response.insert_header((header::ETAG, etag));
    }
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(created.body)
}

/// Who asked for an admin action and where to confirm it (the Cloud Portal's
/// "Requester Name" and "Email the confirmation to").
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestMeta {
    /// Name of the person who requested the change; kept in the audit event.
    /// Blank means none.
    #[param(schema_with = schemas::requester_name_query)]
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    /// An action-confirmation email goes to this address. Blank means none.
    #[param(schema_with = schemas::optional_email_query)]
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

impl RequestMeta {
    /// From the query string (DELETE and body-less POST).
    pub fn from_query(req: &HttpRequest) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        struct Only {
            requester_name: Option<String>,
            confirmation_email: Option<String>,
        }
        let only: Only = parse_query(req)?;
        Ok(RequestMeta {
            requester_name: only.requester_name,
            confirmation_email: only.confirmation_email,
        })
    }

    /// Validates the fields into an audit context for `actor`.
    pub fn context(
        &self,
        actor: &crate::domain::permissions::Actor,
        request_id: &RequestId,
    ) -> Result<AuditContext, ApiError> {
        let mut errors = Vec::new();
        let requester = match self.requester_name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => parse_label(name, 200)
                .map_err(|why| errors.push(FieldError::new("requester_name", why)))
                .ok(),
        };
        let confirmation = match self.confirmation_email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(address) => EmailAddress::parse(address)
                .map(|e| e.to_string())
                .map_err(|why| errors.push(FieldError::new("confirmation_email", why)))
                .ok(),
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(AuditContext::for_actor(actor, &request_id.0)
            .with_client_ip(request_id.1)
            .with_request(requester, confirmation))
    }
}

/// Collects field errors so one response can name them all.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn check<T>(&mut self, field: &str, result: Result<T, &'static str>) -> Option<T> {
        result
            .map_err(|why| self.0.push(FieldError::new(field, why)))
            .ok()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}
