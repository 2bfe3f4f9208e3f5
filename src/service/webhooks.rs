//! Webhook endpoints and their deliveries (docs/webhooks.md). Platform
//! admins manage every endpoint; a customer admin manages the endpoints of
//! the customers they administer, which receive only those customers'
//! events. A signing secret is shown once, when made, and kept sealed.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::auth::sealing::Sealer;
use crate::clock::span;
use crate::db::events::{self as event_rows, NewEvent};
use crate::db::outbox::{self, OutboxRow};
use crate::db::webhooks::{self, EndpointRow};
use crate::db::DbConnection;
use crate::domain::delivery::WEBHOOK_KIND;
use crate::domain::events::EventType;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::Actor;
use crate::error::{ApiError, ErrorCode};
use crate::service::audit::{AuditContext, Event};
use crate::service::customers::administered;
use crate::service::events::{self, Queued};
use crate::service::guard::require;
use crate::state::AppState;
use crate::webhooks::{address, secrets, signature};

/// How long the secret before a rotation keeps signing beside the new one.
pub const ROTATION_OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A new endpoint, its fields already read.
pub struct NewEndpoint {
    pub url: String,
    /// Empty: every event type.
    pub event_types: Vec<EventType>,
    pub customer_id: Option<String>,
    pub description: Option<String>,
}

/// A change to an endpoint; `None` leaves a field alone.
#[derive(Default)]
pub struct EndpointEdit {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub description: Option<Option<String>>,
    /// `true` enables a disabled endpoint again; `false` disables it.
    pub enabled: Option<bool>,
}

/// Checks a URL for an endpoint: the form, then where its host resolves.
async fn checked_url(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let allow_private = state.settings.webhooks.allow_private;
    let url = address::parse(raw, allow_private)
        .map_err(|why| ApiError::invalid("url", why.to_string()))?;
    address::check(&url, allow_private)
        .await
        .map_err(|why| ApiError::invalid("url", why.to_string()))?;
    Ok(url.to_string())
}

fn types_json(types: &[EventType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    json!(names).to_string()
}

fn sealer(conn: &mut DbConnection, state: &AppState) -> Result<Sealer, ApiError> {
    secrets::sealer(conn, &state.settings.webhooks, state.clock.now_db())
        .map_err(ApiError::internal)
}

fn seal(sealer: &Sealer, endpoint_id: &str, secret: &str) -> Result<String, ApiError> {
    secrets::seal(sealer, endpoint_id, secret).map_err(ApiError::internal)
}

/// Makes an endpoint; returns it with its secret (shown this once).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    new: NewEndpoint,
) -> Result<(EndpointRow, String), ApiError> {
    let url = checked_url(state, &new.url).await?;
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            match new.customer_id.as_deref() {
                Some(id) => administered(conn, &actor, id).map(drop)?,
                None => require(actor.platform(), "webhook endpoint")?,
            }
            let now = state.clock.now_db();
            let id = crate::db::new_id();
            let secret = signature::new_secret();
            let row = EndpointRow {
                secret: seal(&sealer(conn, state)?, &id, &secret)?,
                id,
                url,
                description: new.description,
                customer_id: new.customer_id,
                event_types: types_json(&new.event_types),
                previous_secret: None,
                previous_secret_until: None,
                disabled_at: None,
                disabled_reason: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            webhooks::insert(conn, &row)?;
            Event::new(
                "webhook_endpoint.created",
                format!("Webhook endpoint {} was added", row.url),
            )
            .in_customer_id(row.customer_id.as_deref())
            .change("webhook_endpoint_id", Value::Null, &row.id)
            .change("url", Value::Null, &row.url)
            .record(conn, state, &context, now)?;
            Ok((row, secret))
        })
        .await
}

/// Whether `actor` may see and manage `endpoint`, as for API clients:
/// another customer's endpoint does not exist for them (404); one of a
/// customer they only belong to, or the platform's, is 403.
fn may_manage(actor: &Actor, endpoint: &EndpointRow) -> Result<(), ApiError> {
    let access = match endpoint.customer_id.as_deref() {
        Some(customer_id) => actor.administer_customer(customer_id),
        None => actor.platform(),
    };
    require(access, "webhook endpoint")
}

/// The endpoint `id` if `actor` may manage it.
fn managed(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<EndpointRow, ApiError> {
    let endpoint = webhooks::find(conn, id)?.ok_or(ApiError::NotFound("webhook endpoint"))?;
    may_manage(actor, &endpoint)?;
    Ok(endpoint)
}

pub async fn get(state: &AppState, actor: &Actor, id: String) -> Result<EndpointRow, ApiError> {
    let actor = actor.clone();
    state.read(move |conn, _| managed(conn, &actor, &id)).await
}

/// Endpoints the actor manages, newest first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<EndpointRow>, ApiError> {
    let only: Option<Vec<String>> = if actor.platform_admin {
        None
    } else if actor.admin_of.is_empty() {
        return Err(ApiError::Forbidden(
            "Only admins can manage webhook endpoints.".into(),
        ));
    } else {
        Some(actor.admin_of.iter().cloned().collect())
    };
    state
        .read(move |conn, _| {
            let rows = webhooks::list(conn, only.as_deref(), page.cursor.as_ref(), page.limit)?;
            Ok(page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            }))
        })
        .await
}

/// Changes an endpoint. Enabling a disabled one clears its reason; a new
/// URL is checked like a new endpoint's.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
    edit: EndpointEdit,
) -> Result<EndpointRow, ApiError> {
    let url = match &edit.url {
        Some(raw) => Some(checked_url(state, raw).await?),
        None => None,
    };
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let mut row = managed(conn, &actor, &id)?;
            let now = state.clock.now_db();
            let mut event = Event::new("webhook_endpoint.updated", "A webhook endpoint was edited")
                .in_customer_id(row.customer_id.as_deref())
                .change("webhook_endpoint_id", &row.id, &row.id);
            if let Some(url) = url {
                event = event.changed("url", &row.url, &url);
                row.url = url;
            }
            if let Some(types) = edit.event_types {
                let types = types_json(&types);
                event = event.changed("events", &row.event_types, &types);
                row.event_types = types;
            }
            if let Some(description) = edit.description {
                event = event.changed("description", &row.description, &description);
                row.description = description;
            }
            match edit.enabled {
                Some(true) if row.disabled_at.is_some() => {
                    event = event.change("enabled", false, true);
                    row.disabled_at = None;
                    row.disabled_reason = None;
                }
                Some(false) if row.disabled_at.is_none() => {
                    event = event.change("enabled", true, false);
                    row.disabled_at = Some(now);
                    row.disabled_reason = Some("disabled by an admin".into());
                    outbox::fail_pending_webhooks(conn, &row.id, "the endpoint was disabled", now)?;
                }
                _ => {}
            }
            row.version += 1;
            row.updated_at = now;
            webhooks::update(conn, &row)?;
            event.record(conn, state, &context, now)?;
            Ok(row)
        })
        .await
}

/// Deletes an endpoint with its deliveries.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let row = managed(conn, &actor, &id)?;
            let now = state.clock.now_db();
            outbox::delete_webhooks(conn, &row.id)?;
            webhooks::delete(conn, &row.id)?;
            Event::new(
                "webhook_endpoint.deleted",
                format!("Webhook endpoint {} was removed", row.url),
            )
            .in_customer_id(row.customer_id.as_deref())
            .change("webhook_endpoint_id", &row.id, Value::Null)
            .record(conn, state, &context, now)?;
            Ok(())
        })
        .await
}

/// A new secret (shown this once); the current one keeps signing beside it
/// for [`ROTATION_OVERLAP`].
pub async fn rotate_secret(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
) -> Result<(EndpointRow, String), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let mut row = managed(conn, &actor, &id)?;
            let now = state.clock.now_db();
            let secret = signature::new_secret();
            let sealed = seal(&sealer(conn, state)?, &row.id, &secret)?;
            row.previous_secret = Some(std::mem::replace(&mut row.secret, sealed));
            row.previous_secret_until = Some(now + span(ROTATION_OVERLAP));
            row.version += 1;
            row.updated_at = now;
            webhooks::update(conn, &row)?;
            Event::new(
                "webhook_endpoint.secret_rotated",
                "A webhook signing secret was rotated",
            )
            .in_customer_id(row.customer_id.as_deref())
            .change("webhook_endpoint_id", &row.id, &row.id)
            .record(conn, state, &context, now)?;
            Ok((row, secret))
        })
        .await
}

/// What a test sent: the ping's event id and its delivery.
pub struct Ping {
    pub event_id: String,
    pub delivery_id: String,
}

/// Queues a `ping` for one endpoint; it is never in the feed.
pub async fn send_test(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
) -> Result<Ping, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let endpoint = managed(conn, &actor, &id)?;
            if let Some(reason) = &endpoint.disabled_reason {
                return Err(ApiError::conflict(
                    ErrorCode::EndpointDisabled,
                    format!("This endpoint is disabled ({reason}); enable it with PATCH {{\"enabled\": true}} first."),
                ));
            }
            let now = state.clock.now_db();
            let event_id = crate::db::new_id();
            let data = json!({
                "endpoint_id": endpoint.id,
                "actor": events::actor_json(&context),
                "request_id": context.request_id,
            });
            let payload = events::body(EventType::Ping, now, data);
            let customers: BTreeSet<String> = endpoint.customer_id.iter().cloned().collect();
            let seq = event_rows::insert(
                conn,
                NewEvent {
                    id: &event_id,
                    event_type: EventType::Ping.as_str(),
                    occurred_at: now,
                    user_id: None,
                    endpoint_id: Some(&endpoint.id),
                    payload: &payload,
                },
                &customers,
            )?;
            let queued = Queued {
                event_id: &event_id,
                event_type: EventType::Ping,
                seq,
                user_id: None,
                payload: &payload,
            };
            let delivery_id = events::queue(conn, &endpoint, &queued, now)?;
            Ok(Ping { event_id, delivery_id })
        })
        .await
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries(
    state: &AppState,
    actor: &Actor,
    id: String,
    page: PageRequest,
) -> Result<Page<OutboxRow>, ApiError> {
    let actor = actor.clone();
    state
        .read(move |conn, _| {
            let endpoint = managed(conn, &actor, &id)?;
            let rows = outbox::list_webhooks(conn, &endpoint.id, page.cursor.as_ref(), page.limit)?;
            Ok(page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            }))
        })
        .await
}

/// Queues a failed delivery again, same `webhook-id`; anything else is 409.
pub async fn retry_delivery(
    state: &AppState,
    actor: &Actor,
    id: String,
) -> Result<OutboxRow, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let not_found = || ApiError::NotFound("webhook delivery");
            let row = outbox::find(conn, &id)?
                .filter(|row| row.kind == WEBHOOK_KIND)
                .ok_or_else(not_found)?;
            let endpoint = webhooks::find(conn, &row.recipient)?.ok_or_else(not_found)?;
            may_manage(&actor, &endpoint).map_err(|err| match err {
                ApiError::NotFound(_) => not_found(),
                other => other,
            })?;
            if endpoint.disabled_at.is_some() {
                return Err(ApiError::conflict(
                    ErrorCode::EndpointDisabled,
                    "The endpoint is disabled; enable it with PATCH {\"enabled\": true} first.",
                ));
            }
            if !outbox::retry(conn, &id, state.clock.now_db())? {
                return Err(ApiError::conflict(
                    ErrorCode::NotFailed,
                    format!(
                        "This delivery is {}; only failed deliveries can be retried.",
                        row.status.as_str()
                    ),
                ));
            }
            outbox::find(conn, &id)?.ok_or_else(not_found)
        })
        .await
}
