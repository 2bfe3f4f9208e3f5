//! Webhook endpoints and their deliveries (docs/webhooks.md).

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::clock::from_db;
use crate::db::outbox::OutboxRow;
use crate::db::webhooks::EndpointRow;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::events::EventType;
use crate::domain::profile::parse_label;
use crate::error::{ApiError, FieldError};
use crate::http::{field_id, parse_query, path_id, JsonBody, RequestId};
use crate::openapi::responses::{Conflict, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::openapi::schemas;
use crate::routes::common::{PageQuery, RequestMeta};
use crate::routes::extract::Authenticated;
use crate::routes::views::Page;
use crate::service::webhooks::{self as service, EndpointEdit, NewEndpoint};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointView {
    /// The endpoint's id.
    #[schema(format = Uuid)]
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// What the endpoint is for, in the words of whoever registered it.
    pub description: Option<String>,
    /// The customer whose events it receives; null for a platform endpoint
    /// (every event).
    pub customer_id: Option<String>,
    /// The event types it receives; empty for all of them.
    pub events: Vec<String>,
    /// False once disabled (by a 410 answer, by failing for the whole retry
    /// window, or by an admin); `disabled_reason` says which.
    pub enabled: bool,
    /// When it was disabled; null while enabled.
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// Why it was disabled (a 410 answer, the retry window used up, or an
    /// admin); null while enabled.
    pub disabled_reason: Option<String>,
    /// After a rotation, the old secret keeps signing beside the new one until then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&EndpointRow> for WebhookEndpointView {
    fn from(row: &EndpointRow) -> Self {
        WebhookEndpointView {
            id: row.id.clone(),
            url: row.url.clone(),
            description: row.description.clone(),
            customer_id: row.customer_id.clone(),
            events: row.types(),
            enabled: row.disabled_at.is_none(),
            disabled_at: row.disabled_at.map(from_db),
            disabled_reason: row.disabled_reason.clone(),
            previous_secret_expires_at: row.previous_secret_until.map(from_db),
            created_at: from_db(row.created_at),
            updated_at: from_db(row.updated_at),
        }
    }
}

/// An endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// `whsec_` + base64 of 32 random bytes: the Standard Webhooks secret
    /// to verify signatures with. Store it now; it is never shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYq=")]
    pub secret: String,
}

fn with_secret(row: &EndpointRow, secret: String) -> WebhookEndpointWithSecret {
    WebhookEndpointWithSecret {
        endpoint: WebhookEndpointView::from(row),
        secret,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// `https` (plain `http` and internal addresses only with
    /// `ROSTER_WEBHOOK_ALLOW_PRIVATE`); its host must resolve to public
    /// addresses only.
    #[schema(example = "https://hooks.example.com/roster", pattern = r"^[^\x00]*$")]
    pub url: String,
    /// Event types to receive; omitted or empty for all.
    pub events: Option<Vec<EventType>>,
    /// A customer's endpoint receives only that customer's events; omit
    /// for a platform endpoint (platform admins only).
    #[schema(format = Uuid)]
    pub customer_id: Option<String>,
    /// At most 200 characters, one line.
    #[schema(schema_with = schemas::optional_description)]
    pub description: Option<String>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    /// A new address, under the same rules as on creation.
    #[schema(pattern = r"^[^\x00]*$")]
    pub url: Option<String>,
    /// Replaces the list; empty for all.
    pub events: Option<Vec<EventType>>,
    /// Blank clears it.
    #[schema(schema_with = schemas::optional_description)]
    pub description: Option<String>,
    /// `true` enables a disabled endpoint again; `false` disables it (its
    /// queued deliveries fail).
    pub enabled: Option<bool>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

fn event_types(raw: Option<Vec<String>>) -> Result<Option<Vec<EventType>>, ApiError> {
    raw.map(|names| {
        names
            .iter()
            .map(|name| {
                EventType::parse(name).ok_or_else(|| {
                    ApiError::invalid("events", format!("`{name}` is not an event type"))
                })
            })
            .collect()
    })
    .transpose()
}

fn description(raw: Option<String>) -> Result<Option<String>, ApiError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_label(text, 200)
            .map(Some)
            .map_err(|why| ApiError::Validation(vec![FieldError::new("description", why)])),
    }
}

/// Raw bodies: event names are read as text so an unknown one is a 422
/// naming it (the schema above lists the known ones).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    url: String,
    events: Option<Vec<String>>,
    customer_id: Option<String>,
    description: Option<String>,
    requester_name: Option<String>,
    confirmation_email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
    requester_name: Option<String>,
    confirmation_email: Option<String>,
}

/// Add a webhook endpoint. The signing secret is in this response only.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 201, body = WebhookEndpointWithSecret, headers(("Location" = String, description = "`/v1/webhook-endpoints/{id}`"))),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[post("/v1/webhook-endpoints")]
pub async fn create_webhook_endpoint(
    actor: Authenticated,
    body: JsonBody<CreateBody>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    let customer_id = body
        .customer_id
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| field_id(c, "customer_id"))
        .transpose()?;
    let new = NewEndpoint {
        url: body.url,
        event_types: event_types(body.events)?.unwrap_or_default(),
        customer_id,
        description: description(body.description)?,
    };
    let (row, secret) = service::create(&state, &actor.0, context, new).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/webhook-endpoints/{}", row.id)))
        .json(with_secret(&row, secret)))
}

/// Webhook endpoints you manage, newest first.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<WebhookEndpointView>),
        Unauthorized,
        Forbidden,
        Unprocessable,
    )
)]
#[get("/v1/webhook-endpoints")]
pub async fn list_webhook_endpoints(
    req: HttpRequest,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_query::<PageQuery>(&req)?.parse()?;
    let rows = service::list(&state, &actor.0, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, |row| WebhookEndpointView::from(&row))))
}

/// One webhook endpoint.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 200, body = WebhookEndpointView), Unauthorized, Forbidden, NotFound)
)]
#[get("/v1/webhook-endpoints/{id}")]
pub async fn get_webhook_endpoint(
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "webhook endpoint")?;
    let row = service::get(&state, &actor.0, id).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(&row)))
}

/// Change a webhook endpoint; `enabled: true` enables a disabled one again.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id")),
    request_body = UpdateWebhookEndpoint,
    responses((status = 200, body = WebhookEndpointView), Unauthorized, Forbidden, NotFound, Unprocessable)
)]
#[patch("/v1/webhook-endpoints/{id}")]
pub async fn update_webhook_endpoint(
    path: web::Path<String>,
    actor: Authenticated,
    body: JsonBody<UpdateBody>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "webhook endpoint")?;
    let body = body.0;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    let edit = EndpointEdit {
        url: body.url,
        event_types: event_types(body.events)?,
        description: body.description.map(|d| description(Some(d))).transpose()?,
        enabled: body.enabled,
    };
    let row = service::update(&state, &actor.0, context, id, edit).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::from(&row)))
}

/// Delete a webhook endpoint and its deliveries.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id"), RequestMeta),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound)
)]
#[delete("/v1/webhook-endpoints/{id}")]
pub async fn delete_webhook_endpoint(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let id = path_id(&path, "webhook endpoint")?;
    service::delete(&state, &actor.0, context, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret (in this response only). The old one keeps signing
/// beside it for 24 hours: each delivery then carries both signatures.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id"), RequestMeta),
    responses((status = 200, body = WebhookEndpointWithSecret), Unauthorized, Forbidden, NotFound)
)]
#[post("/v1/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let id = path_id(&path, "webhook endpoint")?;
    let (row, secret) = service::rotate_secret(&state, &actor.0, context, id).await?;
    Ok(HttpResponse::Ok().json(with_secret(&row, secret)))
}

/// What a test queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestQueued {
    /// The ping's `webhook-id`.
    #[schema(format = Uuid)]
    pub event_id: String,
    /// Follow it in the endpoint's deliveries.
    #[schema(format = Uuid)]
    pub delivery_id: String,
}

/// Send a `ping` event to the endpoint (queued; see its deliveries).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id"), RequestMeta),
    responses((status = 202, body = TestQueued), Unauthorized, Forbidden, NotFound, Conflict)
)]
#[post("/v1/webhook-endpoints/{id}/test")]
pub async fn test_webhook_endpoint(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let id = path_id(&path, "webhook endpoint")?;
    let ping = service::send_test(&state, &actor.0, context, id).await?;
    Ok(HttpResponse::Accepted().json(TestQueued {
        event_id: ping.event_id,
        delivery_id: ping.delivery_id,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryView {
    /// The delivery's id (for retrying it).
    #[schema(format = Uuid)]
    pub id: String,
    /// The event's id: the `webhook-id` header, the same on every attempt.
    #[schema(format = Uuid)]
    pub event_id: Option<String>,
    /// The event's type, e.g. `user.status_changed`.
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// The status code of the last answer; null before one, or when the
    /// last attempt got none (timeout, refused address, connection error).
    pub response_status: Option<i32>,
    /// How long the last attempt took.
    pub latency_ms: Option<i32>,
    /// Why the last attempt failed; null after a success.
    pub last_error: Option<String>,
    /// When the next attempt is due; null unless pending.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the event was queued for this endpoint.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the receiver accepted it (a 2xx answer); null until then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

impl From<OutboxRow> for WebhookDeliveryView {
    fn from(row: OutboxRow) -> Self {
        WebhookDeliveryView {
            next_attempt_at: (row.status == DeliveryStatus::Pending)
                .then(|| from_db(row.next_attempt_at)),
            id: row.id,
            event_id: row.event_id,
            event_type: row.subject,
            status: row.status,
            attempts: row.attempts,
            response_status: row.response_status,
            latency_ms: row.latency_ms,
            last_error: row.last_error,
            created_at: from_db(row.created_at),
            delivered_at: row.sent_at.map(from_db),
        }
    }
}

/// The endpoint's deliveries, newest first: each with its last answer,
/// latency and next attempt.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id"), PageQuery),
    responses((status = 200, body = Page<WebhookDeliveryView>), Unauthorized, Forbidden, NotFound, Unprocessable)
)]
#[get("/v1/webhook-endpoints/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "webhook endpoint")?;
    let page = parse_query::<PageQuery>(&req)?.parse()?;
    let rows = service::deliveries(&state, &actor.0, id, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, WebhookDeliveryView::from)))
}

/// Queue a failed delivery again, with the same `webhook-id`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Webhook delivery id")),
    responses((status = 200, body = WebhookDeliveryView), Unauthorized, Forbidden, NotFound, Conflict)
)]
#[post("/v1/webhook-deliveries/{id}/retry")]
pub async fn retry_webhook_delivery(
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "webhook delivery")?;
    let row = service::retry_delivery(&state, &actor.0, id).await?;
    Ok(HttpResponse::Ok().json(WebhookDeliveryView::from(row)))
}
