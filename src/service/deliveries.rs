//! The email outbox as platform admins see it: what was sent, what failed,
//! and sending a failed email again.

use crate::db::outbox::{self, OutboxFilter, OutboxRow};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::Actor;
use crate::error::ApiError;
use crate::service::guard::require;
use crate::state::AppState;

/// One page of the outbox, newest first (platform admins).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    filter: OutboxFilter,
    page: PageRequest,
) -> Result<Page<OutboxRow>, ApiError> {
    require(actor.platform(), "email delivery")?;
    state
        .read(move |conn, _| {
            let rows = outbox::list(conn, &filter, page.cursor.as_ref(), page.limit)?;
            Ok(page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            }))
        })
        .await
}

/// Queues a failed email again (platform admins); anything else is 409.
pub async fn retry(state: &AppState, actor: &Actor, id: String) -> Result<OutboxRow, ApiError> {
    require(actor.platform(), "email delivery")?;
    state
        .write(move |conn, state| {
            let row = outbox::find(conn, &id)?.ok_or(ApiError::NotFound("email delivery"))?;
            if !outbox::retry(conn, &id, state.clock.now_db())? {
                return Err(ApiError::conflict(
                    "not_failed",
                    format!(
                        "This email is {}; only failed emails can be retried.",
                        row.status.as_str()
                    ),
                ));
            }
            outbox::find(conn, &id)?.ok_or(ApiError::NotFound("email delivery"))
        })
        .await
}
