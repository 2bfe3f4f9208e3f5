//! Periodic housekeeping: dormant accounts expire, stale idempotency keys
//! and events past their retention go.

use std::time::Duration;

use tokio::sync::watch;

use crate::clock::span;
use crate::db::{action_tokens, idempotency, refresh_tokens, users};
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event};
use crate::service::events;
use crate::state::AppState;

/// Moves `active` users without a sign-in (or reactivation) for
/// `ROSTER_DORMANCY_DAYS` to `expired`, ending their sessions and voiding
/// their links; returns how many. 0 days = off.
pub fn expire_dormant_users(
    conn: &mut crate::db::DbConnection,
    state: &AppState,
) -> Result<usize, ApiError> {
    let days = state.settings.dormancy_days;
    if days == 0 {
        return Ok(0);
    }
    let now = state.clock.now_db();
    let cutoff = now - span(Duration::from_secs(u64::from(days) * 86_400));
    let expired = users::expire_dormant(conn, cutoff, now)?;
    for id in &expired {
        refresh_tokens::revoke_user(conn, id, None, now)?;
        action_tokens::void_all(conn, id, now)?;
        Event::new(
            "user.status_changed",
            format!("A user expired after {days} days without sign-in"),
        )
        .about(id)
        .change("status", "active", "expired")
        .record(conn, state, &AuditContext::system(), now)?;
    }
    Ok(expired.len())
}

/// One round of housekeeping.
pub async fn run_once(state: &AppState) -> Result<usize, ApiError> {
    let expired = state.write(expire_dormant_users).await?;
    if expired > 0 {
        tracing::info!(expired, "dormant accounts expired");
    }
    let now = state.clock.now_db();
    state
        .write(move |conn, _| Ok(idempotency::purge_expired(conn, now)?))
        .await?;
    let pruned = state.write(events::prune).await?;
    if pruned > 0 {
        tracing::info!(pruned, "events past their retention removed");
    }
    Ok(expired)
}

/// Runs housekeeping every `ROSTER_DORMANCY_CHECK_INTERVAL` until shutdown.
pub fn spawn(state: AppState, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(state.settings.dormancy_check_interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if let Err(err) = run_once(&state).await {
                        tracing::warn!(error = %err, "housekeeping failed; will retry");
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    })
}
