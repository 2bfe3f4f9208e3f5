//! API clients: credentials for provisioning scripts, so they never use a
//! person's password. Scope is the platform or one customer.

use serde_json::Value;

use crate::auth::tokens::{PlainToken, TokenKind};
use crate::db::api_clients::{self, ApiClientRow};
use crate::db::DbConnection;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::{Access, Actor};
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event};
use crate::service::customers::administered;
use crate::service::guard::require;
use crate::service::idempotency::{self, Answer, Created, Once};
use crate::state::AppState;

/// Who may manage clients of `scope` (None = platform scope).
fn manage(actor: &Actor, scope: Option<&str>) -> Access {
    match scope {
        None => actor.platform(),
        Some(customer_id) => actor.administer_customer(customer_id),
    }
}

/// Creates a client; the plain secret is returned once and never stored.
/// Creates an API client; its secret is returned once, only its hash is kept.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    name: String,
    customer_id: Option<String>,
) -> Result<(ApiClientRow, PlainToken), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| create_in(conn, state, &actor, &context, name, customer_id))
        .await
}

/// [`create`], once per `Idempotency-Key`; `answer` shapes the stored
/// response from the client and its secret. A replay needs the right to
/// create the client still.
pub async fn create_once(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    name: String,
    customer_id: Option<String>,
    once: Once,
    answer: impl FnOnce(&ApiClientRow, &PlainToken) -> Result<Created, ApiError> + Send + 'static,
) -> Result<Answer, ApiError> {
    let (actor2, actor3) = (actor.clone(), actor.clone());
    let scope = customer_id.clone();
    idempotency::create_once(
        state,
        actor,
        once,
        move |conn| may_create(conn, &actor3, scope.as_deref()),
        move |conn, state| {
            let (row, secret) = create_in(conn, state, &actor2, &context, name, customer_id)?;
            answer(&row, &secret)
        },
    )
    .await
}

/// 404 for a customer the actor cannot see (or that does not exist), 403
/// for one it may not manage clients of, or for platform scope.
fn may_create(conn: &mut DbConnection, actor: &Actor, scope: Option<&str>) -> Result<(), ApiError> {
    match scope {
        Some(id) => administered(conn, actor, id).map(drop),
        None => require(manage(actor, None), "customer"),
    }
}

fn create_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    name: String,
    customer_id: Option<String>,
) -> Result<(ApiClientRow, PlainToken), ApiError> {
    may_create(conn, actor, customer_id.as_deref())?;
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
    Event::new(
        "api_client.created",
        format!("API client {} was created", row.name),
    )
    .in_customer_id(row.customer_id.as_deref())
    .change("api_client_id", Value::Null, &row.id)
    .change("name", Value::Null, &row.name)
    .record(conn, state, context, now)?;
    Ok((row, secret))
}

/// One page of the API clients the caller manages: all of them for platform
/// admins, their customers' for customer admins.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<ApiClientRow>, ApiError> {
    let scope: Option<Vec<String>> = if actor.platform_admin {
        None
    } else if actor.admin_of.is_empty() {
        return Err(ApiError::Forbidden(
            "Only admins manage API clients.".into(),
        ));
    } else {
        Some(actor.admin_of.iter().cloned().collect())
    };
    state
        .read(move |conn, _| {
            let rows = api_clients::list(conn, scope.as_deref(), page.cursor.as_ref(), page.limit)?;
            Ok(page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            }))
        })
        .await
}

/// Revokes an API client: its grants and tokens stop working at once.
pub async fn revoke(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| revoke_in(conn, state, &actor, &context, &id))
        .await
}

fn revoke_in(
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
    Event::new(
        "api_client.revoked",
        format!("API client {} was revoked", client.name),
    )
    .in_customer_id(client.customer_id.as_deref())
    .change("api_client_id", &client.id, Value::Null)
    .record(conn, state, context, now)
}
