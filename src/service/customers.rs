//! Customers: create, read, list, edit.

use serde_json::Value;

use crate::db::customers::{self, CustomerChange, CustomerRow, NewCustomer};
use crate::db::DbConnection;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::{Access, Actor};
use crate::domain::profile::search_key;
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event};
use crate::service::guard::require;
use crate::service::idempotency::{create_once, Answer, Created, Once};
use crate::state::AppState;

/// A validated customer name and seat count.
pub struct CustomerInput {
    pub name: String,
    pub licensed_seats: Option<i32>,
}

/// Creates a customer (platform admins), once per `Idempotency-Key`;
/// `answer` shapes the stored response.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    input: CustomerInput,
    once: Once,
    answer: impl FnOnce(&CustomerRow) -> Result<Created, ApiError> + Send + 'static,
) -> Result<Answer, ApiError> {
    require(actor.platform(), "customer")?;
    let platform = actor.platform();
    create_once(
        state,
        actor,
        once,
        move |_| require(platform, "customer"),
        move |conn, state| {
            let row = create_in(conn, state, &context, input)?;
            answer(&row)
        },
    )
    .await
}

fn create_in(
    conn: &mut DbConnection,
    state: &AppState,
    context: &AuditContext,
    input: CustomerInput,
) -> Result<CustomerRow, ApiError> {
    let now = state.clock.now_db();
    let row = NewCustomer {
        id: crate::db::new_id(),
        name_lower: search_key(&input.name),
        name: input.name,
        licensed_seats: input.licensed_seats,
        created_at: now,
        updated_at: now,
    };
    customers::insert(conn, &row)?;
    Event::new(
        "customer.created",
        format!("Customer {} was created", row.name),
    )
    .in_customer(&row.id, &row.name)
    .change("name", Value::Null, &row.name)
    .change("licensed_seats", Value::Null, row.licensed_seats)
    .record(conn, state, context, now)?;
    customers::find(conn, &row.id)?.ok_or(ApiError::NotFound("customer"))
}

/// A customer the actor may see, with its named-user count.
/// A customer with its named users.
pub async fn get(
    state: &AppState,
    actor: &Actor,
    id: String,
) -> Result<(CustomerRow, i64), ApiError> {
    require(actor.view_customer(&id), "customer")?;
    state
        .read(move |conn, _| {
            let row = customers::find(conn, &id)?.ok_or(ApiError::NotFound("customer"))?;
            let named = row.named_users;
            Ok((row, named))
        })
        .await
}

/// One page of customers with their named users: every customer for
/// platform admins, the caller's own for everyone else.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    prefix: Option<String>,
    page: PageRequest,
) -> Result<Page<(CustomerRow, i64)>, ApiError> {
    let visible: Option<Vec<String>> =
        (!actor.platform_admin).then(|| actor.member_of.iter().cloned().collect());
    state
        .read(move |conn, _| {
            let rows = customers::list(
                conn,
                visible.as_deref(),
                prefix.as_deref(),
                page.cursor.as_ref(),
                page.limit,
            )?;
            let rows = page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            });
            Ok(rows.map(|row| {
                let named = row.named_users;
                (row, named)
            }))
        })
        .await
}

/// A requested edit: `licensed_seats: Some(None)` makes seats unlimited.
pub struct CustomerEdit {
    pub name: Option<String>,
    pub licensed_seats: Option<Option<i32>>,
}

/// Edits a customer (platform admins) if it is still at `expected_version`.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
    expected_version: Option<i32>,
    edit: CustomerEdit,
) -> Result<(CustomerRow, i64), ApiError> {
    require(actor.edit_customer(&id), "customer")?;
    state
        .write(move |conn, state| update_in(conn, state, &context, &id, expected_version, edit))
        .await
}

fn update_in(
    conn: &mut DbConnection,
    state: &AppState,
    context: &AuditContext,
    id: &str,
    expected_version: Option<i32>,
    edit: CustomerEdit,
) -> Result<(CustomerRow, i64), ApiError> {
    let before = customers::find(conn, id)?.ok_or(ApiError::NotFound("customer"))?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let name = edit.name.filter(|name| name != &before.name);
    let licensed_seats = edit
        .licensed_seats
        .filter(|seats| seats != &before.licensed_seats);
    if name.is_none() && licensed_seats.is_none() {
        // Nothing to do: nothing is recorded, nobody is emailed.
        let named = before.named_users;
        return Ok((before, named));
    }
    let change = CustomerChange {
        name_lower: name.as_deref().map(search_key),
        name,
        licensed_seats,
    };
    let now = state.clock.now_db();
    if !customers::update(conn, id, before.version, &change, now)? {
        return Err(ApiError::PreconditionFailed);
    }
    let after = customers::find(conn, id)?.ok_or(ApiError::NotFound("customer"))?;
    Event::new(
        "customer.updated",
        format!("Customer {} was updated", after.name),
    )
    .in_customer(id, &after.name)
    .changed("name", &before.name, &after.name)
    .changed(
        "licensed_seats",
        before.licensed_seats,
        after.licensed_seats,
    )
    .record(conn, state, context, now)?;
    let named = after.named_users;
    Ok((after, named))
}

/// The customer, if the actor administers it (403 for members, 404 for others).
pub fn administered(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<CustomerRow, ApiError> {
    match actor.administer_customer(id) {
        Access::Hidden => Err(ApiError::NotFound("customer")),
        _ => administered_of(actor, id, customers::find(conn, id)?),
    }
}

/// [`administered`], with the customer `id` already read (`found`).
pub fn administered_of(
    actor: &Actor,
    id: &str,
    found: Option<CustomerRow>,
) -> Result<CustomerRow, ApiError> {
    match actor.administer_customer(id) {
        Access::Hidden => Err(ApiError::NotFound("customer")),
        access => {
            let row = found.ok_or(ApiError::NotFound("customer"))?;
            require(access, "customer")?;
            Ok(row)
        }
    }
}
