//! The email outbox, for platform admins: what was sent, what failed, retry.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::clock::from_db;
use crate::db::outbox::OutboxFilter;
use crate::domain::delivery::DeliveryStatus;
use crate::email::EmailKind;
use crate::error::{ApiError, Problem};
use crate::http::{parse_query, path_id};
use crate::openapi::responses::{Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::openapi::schemas;
use crate::routes::common::{Checks, PageQuery};
use crate::routes::extract::Authenticated;
use crate::routes::views::Page;
use crate::service::deliveries::{self, Delivery};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailDeliveryView {
    #[schema(format = Uuid)]
    pub id: String,
    pub kind: EmailKind,
    pub recipient: String,
    pub subject: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// The provider's message for the last failed attempt.
    pub last_error: Option<String>,
    pub provider_message_id: Option<String>,
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

impl From<&Delivery> for EmailDeliveryView {
    fn from((kind, row): &Delivery) -> Self {
        EmailDeliveryView {
            id: row.id.clone(),
            kind: *kind,
            recipient: row.recipient.clone(),
            subject: row.subject.clone(),
            status: row.status,
            attempts: row.attempts,
            next_attempt_at: from_db(row.next_attempt_at),
            last_error: row.last_error.clone(),
            provider_message_id: row.provider_message_id.clone(),
            user_id: row.user_id.clone(),
            customer_id: row.customer_id.clone(),
            created_at: from_db(row.created_at),
            sent_at: row.sent_at.map(from_db),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only emails in this state; leave it out for any.
    #[param(schema_with = schemas::delivery_status_or_empty)]
    pub status: Option<String>,
    /// Only emails of this kind; leave it out for any.
    #[param(schema_with = schemas::email_kind_or_empty)]
    pub kind: Option<String>,
    /// Exact recipient address; leave it out for any.
    #[param(schema_with = schemas::search_text)]
    pub recipient: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// The outbox, newest first (platform admins).
#[utoipa::path(
    tag = "email",
    security(("bearer" = [])),
    params(DeliveryQuery, PageQuery),
    responses(
        (status = 200, body = Page<EmailDeliveryView>,
            links(
                ("RetryFirstEmailDelivery" = (operation_id = "retry_email_delivery", parameters(("delivery_id" = "$response.body#/items/0/id")))),
            ),
        ),
        Unauthorized,
        Forbidden,
        Unprocessable,
    )
)]
#[get("/v1/email-deliveries")]
pub async fn list_email_deliveries(
    req: HttpRequest,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: DeliveryQuery = parse_query(&req)?;
    let mut checks = Checks::default();
    let status = query.status.filter(|s| !s.is_empty()).and_then(|s| {
        checks.check(
            "status",
            DeliveryStatus::parse(&s).ok_or("must be pending, sent or failed"),
        )
    });
    let kind = query.kind.filter(|k| !k.is_empty()).and_then(|k| {
        checks.check(
            "kind",
            EmailKind::parse(&k)
                .map(|k| k.as_str().to_string())
                .ok_or("is not an email kind"),
        )
    });
    checks.finish()?;
    let page = query.page.parse()?;
    let filter = OutboxFilter {
        status,
        kind,
        recipient: query.recipient.filter(|r| !r.is_empty()),
        user_id: None,
    };
    let rows = deliveries::list(&state, &actor.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, |row| EmailDeliveryView::from(&row))))
}

/// Queue a failed email again (platform admins).
#[utoipa::path(
    tag = "email",
    security(("bearer" = [])),
    params(("delivery_id" = uuid::Uuid, Path, description = "Outbox id")),
    responses(
        (status = 202, body = EmailDeliveryView),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "`not_failed`: only failed emails can be retried", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/email-deliveries/{delivery_id}/retry")]
pub async fn retry_email_delivery(
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "email delivery")?;
    let row = deliveries::retry(&state, &actor.0, id).await?;
    Ok(HttpResponse::Accepted().json(EmailDeliveryView::from(&row)))
}
