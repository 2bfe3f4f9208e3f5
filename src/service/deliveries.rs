//! The email outbox as platform admins see it: what was sent, what failed,
//! and sending a failed email again.

use crate::db::outbox::{self, OutboxFilter, OutboxRow};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::Actor;
use crate::email::EmailKind;
use crate::error::ApiError;
use crate::service::guard::require;
use crate::state::AppState;

/// An email in the outbox, with its kind read from the row.
pub type Delivery = (EmailKind, OutboxRow);

/// The row's kind; anything but an email kind here is a broken invariant
/// (the list holds emails only), reported rather than guessed.
fn delivery(row: OutboxRow) -> Result<Delivery, ApiError> {
    let kind = EmailKind::parse(&row.kind).ok_or_else(|| {
        ApiError::internal(format!("outbox row {} has kind `{}`", row.id, row.kind))
    })?;
    Ok((kind, row))
}

/// One page of the outbox, newest first (platform admins).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    filter: OutboxFilter,
    page: PageRequest,
) -> Result<Page<Delivery>, ApiError> {
    require(actor.platform(), "email delivery")?;
    state
        .read(move |conn, _| {
            let rows = outbox::list(conn, &filter, page.cursor.as_ref(), page.limit)?;
            let page = page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            });
            let items = page
                .items
                .into_iter()
                .map(delivery)
                .collect::<Result<_, _>>()?;
            Ok(Page {
                items,
                next_cursor: page.next_cursor,
            })
        })
        .await
}

/// Queues a failed email again (platform admins); anything else is 409.
pub async fn retry(state: &AppState, actor: &Actor, id: String) -> Result<Delivery, ApiError> {
    require(actor.platform(), "email delivery")?;
    state
        .write(move |conn, state| {
            let row = outbox::find(conn, &id)?
                .filter(|row| EmailKind::parse(&row.kind).is_some())
                .ok_or(ApiError::NotFound("email delivery"))?;
            if !outbox::retry(conn, &id, state.clock.now_db())? {
                return Err(ApiError::conflict(
                    crate::error::ErrorCode::NotFailed,
                    format!(
                        "This email is {}; only failed emails can be retried.",
                        row.status.as_str()
                    ),
                ));
            }
            delivery(outbox::find(conn, &id)?.ok_or(ApiError::NotFound("email delivery"))?)
        })
        .await
}
