//! Request pieces shared by the admin routes: list paging, the
//! requester/confirmation fields, and the audit context they feed.

use actix_web::HttpRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::email::EmailAddress;
use crate::domain::pagination::{parse_limit, Cursor};
use crate::domain::profile::parse_label;
use crate::error::{ApiError, FieldError};
use crate::http::{parse_query, RequestId};
use crate::service::audit::AuditContext;

/// `?limit=` and `?cursor=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<(i64, Option<Cursor>), ApiError> {
        let limit =
            parse_limit(self.limit.as_deref()).map_err(|why| ApiError::invalid("limit", why))?;
        let cursor = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()
            .map_err(|why| ApiError::invalid("cursor", why))?;
        Ok((limit, cursor))
    }
}

/// Who asked for an admin action and where to confirm it (the Cloud Portal's
/// "Requester Name" and "Email the confirmation to").
#[derive(Debug, Default, Clone, Deserialize, Serialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestMeta {
    /// Name of the person who requested the change; kept in the audit event.
    #[param(max_length = 200)]
    #[schema(max_length = 200)]
    pub requester_name: Option<String>,
    /// An action-confirmation email goes to this address.
    #[param(format = Email)]
    #[schema(format = Email)]
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
        Ok(AuditContext::for_actor(actor, &request_id.0).with_request(requester, confirmation))
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
