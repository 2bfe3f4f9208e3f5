//! API clients: credentials for provisioning scripts, so they never use a
//! person's password. Scope is the platform or one customer.

use serde_json::json;

use crate::auth::tokens::{PlainToken, TokenKind};
use crate::db::api_clients::{self, ApiClientRow};
use crate::db::DbConnection;
use crate::domain::pagination::Cursor;
use crate::domain::permissions::{Access, Actor};
use crate::error::ApiError;
use crate::service::audit::{self, AuditContext, Event};
use crate::service::customers::administered;
use crate::service::guard::require;
use crate::state::AppState;

/// Who may manage clients of `scope` (None = platform scope).
fn manage(actor: &Actor, scope: Option<&str>) -> Access {
    match scope {
        None => actor.platform(),
        Some(customer_id) => actor.administer_customer(customer_id),
    }
}

/// Creates a client; the plain secret is returned once and never stored.
pub fn create(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    name: String,
    customer_id: Option<String>,
) -> Result<(ApiClientRow, PlainToken), ApiError> {
    match &customer_id {
        Some(id) => {
            administered(conn, actor, id)?;
        }
        None => require(manage(actor, None), "customer")?,
    }
    let secret = PlainToken::generate(TokenKind::ClientSecret);
    let now = state.clock.now_db();
    let row = ApiClientRow {
        id: crate::db::new_id(),
        name,
        customer_id,
        secret_hash: secret.hash(),
        created_by: actor.user_id().map(str::to_string),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    api_clients::insert(conn, &row)?;
    audit::record(
        conn,
        &state.templates,
        context,
        Event {
            action: "api_client.created",
            customer_id: row.customer_id.as_deref(),
            target_user_id: None,
            changes: json!({"api_client_id": {"before": null, "after": row.id}, "name": {"before": null, "after": row.name}}),
            summary: format!("API client {} was created", row.name),
            customer_name: None,
        },
        now,
    )?;
    Ok((row, secret))
}

pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<ApiClientRow>, ApiError> {
    if actor.platform_admin {
        return Ok(api_clients::list(conn, None, cursor, limit)?);
    }
    if actor.admin_of.is_empty() {
        return Err(ApiError::Forbidden(
            "Only admins manage API clients.".into(),
        ));
    }
    let ids: Vec<String> = actor.admin_of.iter().cloned().collect();
    Ok(api_clients::list(conn, Some(&ids), cursor, limit)?)
}

pub fn revoke(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
) -> Result<(), ApiError> {
    let client = api_clients::find_live(conn, id)?.ok_or(ApiError::NotFound("API client"))?;
    require(manage(actor, client.customer_id.as_deref()), "API client")?;
    let now = state.clock.now_db();
    api_clients::revoke(conn, id, now)?;
    audit::record(
        conn,
        &state.templates,
        context,
        Event {
            action: "api_client.revoked",
            customer_id: client.customer_id.as_deref(),
            target_user_id: None,
            changes: json!({"api_client_id": {"before": client.id, "after": null}}),
            summary: format!("API client {} was revoked", client.name),
            customer_name: None,
        },
        now,
    )
}
