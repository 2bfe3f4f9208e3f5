//! API clients: credentials for provisioning scripts, so they never use a
//! person's password. Scope is the platform or one customer. A client made
//! through the API holds no more than its creator's rights (docs/api.md,
//! "API clients").

use std::collections::BTreeSet;

use serde_json::Value;

use crate::auth::tokens::{PlainToken, TokenKind};
use crate::db::api_clients::{self, ApiClientRow};
use crate::db::{users, DbConnection};
use crate::domain::lifecycle::UserStatus;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::{Actor, Creator};
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event};
use crate::service::callers;
use crate::service::customers::administered;
use crate::service::guard::require;
use crate::service::idempotency::{self, Answer, Created, Once};
use crate::state::AppState;

/// Creates an API client; its secret is returned once, only its hash is kept.
/// The creator recorded is who `context` says acted: nobody for the command
/// line (`AuditContext::system`), whose clients are the platform's.
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
pub(crate) fn may_create(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: Option<&str>,
) -> Result<(), ApiError> {
    match scope {
        Some(id) => administered(conn, actor, id).map(drop),
        None => require(actor.manage_api_clients(None), "customer"),
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
        created_by: context.actor_user_id.clone(),
        created_by_client: context.actor_client_id.clone(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
        kind: api_clients::KIND_CLIENT.to_string(),
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

/// The client, if it is not revoked and still holds its creator's rights:
/// what a grant and every request with one of its tokens go by.
pub fn find_usable(conn: &mut DbConnection, id: &str) -> Result<Option<ApiClientRow>, ApiError> {
    let Some(client) = api_clients::find_live_of(conn, id, api_clients::KIND_CLIENT)? else {
        return Ok(None);
    };
    Ok(holds_creators_rights(conn, &client)?.then_some(client))
}

/// Whether the client's creator could make it now, and so on up the clients
/// that made clients to a person or the command line (see [`Creator`]).
pub(crate) fn holds_creators_rights(
    conn: &mut DbConnection,
    client: &ApiClientRow,
) -> Result<bool, ApiError> {
    // The client, the client that made it, …, up to the one a person or the
    // command line made. Ids are never reused, so the chain cannot loop; the
    // set only guards against a hand-edited database.
    let mut chain = vec![client.clone()];
    let mut seen = BTreeSet::from([client.id.clone()]);
    while let Some(parent_id) = chain
        .last()
        .filter(|c| c.created_by.is_none())
        .and_then(|c| c.created_by_client.clone())
    {
        if !seen.insert(parent_id.clone()) {
            return Ok(false);
        }
        match api_clients::find_live(conn, &parent_id)? {
            Some(parent) => chain.push(parent),
            None => return Ok(false),
        }
    }
    let mut creator = match chain.last().and_then(|root| root.created_by.clone()) {
        None => Creator::CommandLine,
        Some(user_id) => person(conn, &user_id)?,
    };
    for made in chain.iter().rev() {
        if !creator.still_grants(made.customer_id.as_deref()) {
            return Ok(false);
        }
        creator = Creator::Standing(Actor::client(&made.id, made.customer_id.as_deref()));
    }
    Ok(true)
}

/// A person as the creator of a client: standing while `active` (a lock,
/// which anyone can cause with wrong passwords, does not count).
fn person(conn: &mut DbConnection, user_id: &str) -> Result<Creator, ApiError> {
    Ok(match users::find_with_roles(conn, user_id)? {
        Some((user, roles)) if user.status == UserStatus::Active => {
            Creator::Standing(callers::person(user, roles))
        }
        _ => Creator::Fallen,
    })
}

/// A client as listed: the row, and whether it is suspended because its
/// creator no longer has the right to make it.
pub struct Listed {
    pub row: ApiClientRow,
    pub suspended: bool,
}

/// One page of the API clients the caller manages: all of them for platform
/// admins, their customers' for customer admins.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<Listed>, ApiError> {
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
            let rows = api_clients::list(
                conn,
                api_clients::KIND_CLIENT,
                scope.as_deref(),
                page.cursor.as_ref(),
                page.limit,
            )?;
            let page = page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            });
            let mut items = Vec::with_capacity(page.items.len());
            for row in page.items {
                let suspended = !holds_creators_rights(conn, &row)?;
                items.push(Listed { row, suspended });
            }
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
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
    let client = api_clients::find_live_of(conn, id, api_clients::KIND_CLIENT)?
        .ok_or(ApiError::NotFound("API client"))?;
    require(
        actor.manage_api_clients(client.customer_id.as_deref()),
        "API client",
    )?;
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
