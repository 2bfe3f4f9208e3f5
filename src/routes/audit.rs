//! The audit log.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::clock::from_db;
use crate::db::audit::AuditRow;
use crate::error::ApiError;
use crate::http::{field_id, parse_query};
use crate::openapi::responses::{Forbidden, Unauthorized, Unprocessable};
use crate::openapi::schemas;
use crate::routes::common::PageQuery;
use crate::routes::extract::Authenticated;
use crate::routes::views::Page;
use crate::service::audit::{self, AuditSearch};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    #[schema(format = Uuid)]
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// e.g. `membership.added`, `user.status_changed`.
    pub action: String,
    pub actor_user_id: Option<String>,
    pub actor_client_id: Option<String>,
    pub customer_id: Option<String>,
    /// Kept after the user is deleted.
    pub target_user_id: Option<String>,
    pub requester_name: Option<String>,
    pub confirmation_email: Option<String>,
    /// The `X-Request-Id` of the request that did it.
    pub request_id: Option<String>,
    /// The address the request came from: the TCP peer, or behind a proxy in
    /// `ROSTER_TRUSTED_PROXIES` the client it forwarded for. None for the
    /// service's own actions.
    pub client_ip: Option<String>,
    #[schema(schema_with = schemas::audit_changes)]
    pub changes: serde_json::Value,
}

impl From<AuditRow> for AuditEventView {
    fn from(row: AuditRow) -> Self {
        AuditEventView {
            changes: serde_json::from_str(&row.changes).unwrap_or_default(),
            id: row.id,
            occurred_at: from_db(row.occurred_at),
            action: row.action,
            actor_user_id: row.actor_user_id,
            actor_client_id: row.actor_client_id,
            customer_id: row.customer_id,
            target_user_id: row.target_user_id,
            requester_name: row.requester_name,
            confirmation_email: row.confirmation_email,
            request_id: row.request_id,
            client_ip: row.client_ip,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events about this user; leave it out for any.
    #[param(schema_with = schemas::uuid_or_blank)]
    pub user_id: Option<String>,
    /// Events that belong to this customer (docs/api.md, "Audit"); leave it
    /// out for any.
    #[param(schema_with = schemas::uuid_or_blank)]
    pub customer_id: Option<String>,
    /// One action, e.g. `user.status_changed`; leave it out for any.
    #[param(schema_with = schemas::search_text)]
    pub action: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// Audit events, newest first. Customer admins see the events that belong
/// to the customers they administer.
#[utoipa::path(
    tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery, PageQuery),
    responses(
        (status = 200, body = Page<AuditEventView>),
        Unauthorized,
        Forbidden,
        Unprocessable,
    )
)]
#[get("/v1/audit-events")]
pub async fn list_audit_events(
    req: HttpRequest,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: AuditQuery = parse_query(&req)?;
    let page = query.page.parse()?;
    let id_filter = |v: Option<String>, field: &str| {
        v.filter(|s| !s.is_empty())
            .map(|id| field_id(&id, field))
            .transpose()
    };
    let search = AuditSearch {
        user_id: id_filter(query.user_id, "user_id")?,
        customer_id: id_filter(query.customer_id, "customer_id")?,
        action: query.action.filter(|s| !s.is_empty()),
    };
    let rows = audit::list(&state, &actor.0, search, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, AuditEventView::from)))
}
