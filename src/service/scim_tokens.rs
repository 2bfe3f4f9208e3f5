//! SCIM tokens: the long-lived bearer tokens an identity provider's SCIM
//! connector (Okta, Entra ID) is configured with. Each is an API client of
//! kind `scim` scoped to one customer, so it acts exactly as that
//! customer's admin would (and is the audit actor, `actor_client_id`), holds
//! no more than its creator's rights, and is stored as a hash only.

use serde_json::Value;
use time::Duration;

use crate::auth::tokens::{has_shape, hash_token, PlainToken, TokenKind};
use crate::db::api_clients::{self, ApiClientRow, KIND_SCIM};
use crate::db::DbConnection;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::Actor;
use crate::error::ApiError;
use crate::service::api_clients::{holds_creators_rights, may_create};
use crate::service::audit::{AuditContext, Event};
use crate::service::customers::administered;
use crate::state::AppState;

/// `last_used_at` is written at most this often a token, not on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// Makes a SCIM token for `customer_id`; the token is returned once, only
/// its hash is kept.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    customer_id: String,
    description: Option<String>,
) -> Result<(ApiClientRow, PlainToken), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            may_create(conn, &actor, Some(&customer_id))?;
            let token = PlainToken::generate(TokenKind::Scim);
            let now = state.clock.now_db();
            let row = ApiClientRow {
                id: crate::db::new_id(),
                name: description.unwrap_or_default(),
                customer_id: Some(customer_id),
                secret_hash: token.hash(),
                created_by: context.actor_user_id.clone(),
                created_by_client: context.actor_client_id.clone(),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
                kind: KIND_SCIM.to_string(),
            };
            api_clients::insert(conn, &row)?;
            Event::new("scim_token.created", "A SCIM token was created")
                .in_customer_id(row.customer_id.as_deref())
                .change("scim_token_id", Value::Null, &row.id)
                .change("description", Value::Null, &row.name)
                .record(conn, state, &context, now)?;
            Ok((row, token))
        })
        .await
}

/// One page of a customer's live SCIM tokens, newest first.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    customer_id: String,
    page: PageRequest,
) -> Result<Page<ApiClientRow>, ApiError> {
    let actor = actor.clone();
    state
        .read(move |conn, _| {
            administered(conn, &actor, &customer_id)?;
            let rows = api_clients::list(
                conn,
                KIND_SCIM,
                Some(&[customer_id]),
                page.cursor.as_ref(),
                page.limit,
            )?;
            Ok(page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            }))
        })
        .await
}

/// Revokes a SCIM token: the next request with it is refused.
pub async fn revoke(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    customer_id: String,
    id: String,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            administered(conn, &actor, &customer_id)?;
            let token = api_clients::find_live_of(conn, &id, KIND_SCIM)?
                .filter(|t| t.customer_id.as_deref() == Some(customer_id.as_str()))
                .ok_or(ApiError::NotFound("SCIM token"))?;
            let now = state.clock.now_db();
            api_clients::revoke(conn, &token.id, now)?;
            Event::new("scim_token.revoked", "A SCIM token was revoked")
                .in_customer_id(token.customer_id.as_deref())
                .change("scim_token_id", &token.id, Value::Null)
                .record(conn, state, &context, now)
        })
        .await
}

/// The caller a presented SCIM token stands for: an admin of the token's
/// customer, as an API client. `None` for anything else (malformed,
/// unknown, revoked, or its creator lost the right to make it).
pub async fn authenticate(
    state: &AppState,
    presented: String,
) -> Result<Option<(Actor, String)>, ApiError> {
    if !has_shape(presented.trim(), TokenKind::Scim) {
        return Ok(None);
    }
    let hash = hash_token(&presented);
    let found = state
        .read(move |conn, state| usable_token(conn, state, &hash))
        .await?;
    let Some((token, stale)) = found else {
        return Ok(None);
    };
    if stale {
        let id = token.id.clone();
        state
            .write(move |conn, state| Ok(api_clients::touch(conn, &id, state.clock.now_db())?))
            .await?;
    }
    let customer_id = token.customer_id.clone().unwrap_or_default();
    Ok(Some((
        Actor::client(&token.id, Some(&customer_id)),
        customer_id,
    )))
}

/// The token and whether its `last_used_at` is due for a write.
fn usable_token(
    conn: &mut DbConnection,
    state: &AppState,
    hash: &str,
) -> Result<Option<(ApiClientRow, bool)>, ApiError> {
    let Some(token) = api_clients::find_live_scim_token(conn, hash)? else {
        return Ok(None);
    };
    if token.customer_id.is_none() || !holds_creators_rights(conn, &token)? {
        return Ok(None);
    }
    let now = state.clock.now_db();
    let stale = token.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY);
    Ok(Some((token, stale)))
}
