//! The event feed (`GET /v1/events`), and the schema of every event body
//! (delivered to webhook endpoints and listed here alike).

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::domain::events::EventType;
use crate::domain::lifecycle::UserStatus;
use crate::domain::pagination::parse_limit;
use crate::error::ApiError;
use crate::http::{field_id, parse_query};
use crate::openapi::responses::{Forbidden, Unauthorized, Unprocessable};
use crate::routes::extract::Authenticated;
use crate::routes::views::{CustomerView, UserFields};
use crate::service::events::{self, FeedQuery};
use crate::state::AppState;

/// An event, as webhook endpoints receive it (`id` is then the
/// `webhook-id` header) and as the feed lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// In the feed only; the `webhook-id` header of its deliveries.
    #[schema(format = Uuid)]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When the change happened (it committed in the same transaction).
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub data: EventData,
}

/// `data`, by event type.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventData {
    User(UserEventData),
    Membership(MembershipEventData),
    Customer(CustomerEventData),
    Ping(PingEventData),
}

/// Who acted: a person, an API client, or roster itself (dormancy expiry,
/// lockout after failed sign-ins).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventActor {
    /// `user`, `api_client` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Null for `system`.
    pub id: Option<String>,
}

/// `user.invited`, `user.activated`, `user.updated`, `user.status_changed`,
/// `user.locked`, `user.unlocked`, `user.password_changed`, `user.deleted`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEventData {
    /// The user as User Info shows it now (without memberships); after
    /// `user.deleted` only `id`.
    pub user: UserFields,
    /// `user.status_changed` only: the status before.
    pub from: Option<UserStatus>,
    /// `user.status_changed` only: the status after.
    pub to: Option<UserStatus>,
    /// `{"field": {"before": …, "after": …}}`, as in the audit log.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub actor: EventActor,
    /// The `X-Request-Id` of the request that made the change; null for roster's own.
    pub request_id: Option<String>,
}

/// A membership in an event: after `membership.removed` only the ids.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventMembership {
    /// The customer.
    #[schema(format = Uuid)]
    pub customer_id: String,
    /// The user.
    #[schema(format = Uuid)]
    pub user_id: String,
    /// The user's role in the customer; null after `membership.removed`.
    pub role: Option<crate::domain::roles::MembershipRole>,
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
    /// When the user joined the customer; null after `membership.removed`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub added_at: Option<OffsetDateTime>,
    /// The customer's own id for the user; absent after `membership.removed`.
    pub external_id: Option<String>,
    /// The customer's groups the user is in, by name; absent after `membership.removed`.
    pub groups: Option<Vec<crate::routes::views::GroupRefView>>,
}

/// `membership.added`, `membership.updated`, `membership.removed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipEventData {
    pub user: UserFields,
    pub membership: EventMembership,
    #[schema(value_type = Object)]
    pub changes: Value,
    pub actor: EventActor,
    pub request_id: Option<String>,
}

/// `customer.created`, `customer.updated`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerEventData {
    pub customer: CustomerView,
    #[schema(value_type = Object)]
    pub changes: Value,
    pub actor: EventActor,
    pub request_id: Option<String>,
}

/// `ping`, from `POST /v1/webhook-endpoints/{id}/test` (never in the feed).
#[derive(Debug, Serialize, ToSchema)]
pub struct PingEventData {
    #[schema(format = Uuid)]
    pub endpoint_id: String,
    pub actor: EventActor,
    pub request_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFeedQuery {
    /// The id of the last event you read (`next_after` of the previous
    /// page); omit to start from the oldest kept event.
    #[param(value_type = Option<uuid::Uuid>)]
    pub after: Option<String>,
    /// Comma-separated event types; omit for all.
    #[param(schema_with = crate::openapi::schemas::event_types_query)]
    pub types: Option<String>,
    /// Events per page, 1–200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

/// A page of the feed, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventFeed {
    #[schema(value_type = Vec<WebhookEvent>)]
    pub items: Vec<Value>,
    /// Pass as `after` to read on (the last item's id; the `after` you gave
    /// when nothing new has happened; null before any event).
    #[schema(format = Uuid)]
    pub next_after: Option<String>,
}

/// Events in the order they committed, for consumers that poll; the same
/// events, with the same ids, as webhook deliveries. Platform admins read
/// all; customer admins those of the customers they administer. Kept for
/// `ROSTER_EVENT_RETENTION` (30 days by default).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = [])),
    params(EventFeedQuery),
    responses((status = 200, body = EventFeed), Unauthorized, Forbidden, Unprocessable)
)]
#[get("/v1/events")]
pub async fn list_events(
    req: HttpRequest,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: EventFeedQuery = parse_query(&req)?;
    let after = query
        .after
        .filter(|a| !a.trim().is_empty())
        .map(|a| field_id(&a, "after"))
        .transpose()?;
    let types = query
        .types
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let limit =
        parse_limit(query.limit.as_deref()).map_err(|why| ApiError::invalid("limit", why))?;
    let page = events::feed(
        &state,
        &actor.0,
        FeedQuery {
            after,
            types,
            limit,
        },
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(|row| {
            let mut body: Value = serde_json::from_str(&row.payload).map_err(ApiError::internal)?;
            if let Some(object) = body.as_object_mut() {
                object.insert("id".into(), Value::String(row.id));
            }
            Ok(body)
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(HttpResponse::Ok().json(EventFeed {
        items,
        next_after: page.next_after,
    }))
}
