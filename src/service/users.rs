//! Changes to one user: profile, status, lock, emails, deletion.

use actix_web::web;
use serde_json::json;

use crate::db::users;
use crate::error::ApiError;
use crate::routes::me::ChangePasswordRequest;
use crate::service::accounts;
use crate::service::audit::{self, AuditContext, Event};
use crate::service::sessions::{issue_pair, TokenResponse};
use crate::state::AppState;

/// Verifies the current password (a wrong one counts toward lockout), checks
/// and hashes the new one, then stores it and issues a fresh session.
pub async fn change_own_password(
    state: &web::Data<AppState>,
    user_id: &str,
    request: ChangePasswordRequest,
    request_id: &str,
) -> Result<TokenResponse, ApiError> {
    let id = user_id.to_string();
    let user = state
        .db
        .run(move |conn| users::find(conn, &id)?.ok_or(ApiError::NotFound("user")))
        .await?;
    let current_ok = state
        .hasher
        .verify(request.current_password, user.password_hash.clone())
        .await?;
    if !current_ok {
        let (state2, id) = (state.clone(), user.id.clone());
        state
            .db
            .write(move |conn| {
                let now = state2.clock.now_db();
                users::record_failed_login(conn, &id, state2.settings.lockout_threshold, now)?;
                Ok(())
            })
            .await?;
        return Err(ApiError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    accounts::check_new_password(state, &user, &request.new_password, "new_password")?;
    let hash = state.hasher.hash(request.new_password).await?;
    let (state2, request_id) = (state.clone(), request_id.to_string());
    state
        .db
        .write(move |conn| {
            let now = state2.clock.now_db();
            accounts::password_changed(conn, &state2, &user, &hash, None, now)?;
            audit::record(
                conn,
                &state2.templates,
                &AuditContext::for_self(&user.id, &request_id),
                Event {
                    action: "user.password_changed",
                    customer_id: None,
                    target_user_id: Some(&user.id),
                    changes: json!({}),
                    summary: format!("{} changed their password", user.email),
                    customer_name: None,
                },
                now,
            )?;
            Ok(issue_pair(
                conn,
                &state2,
                &user.id,
                user.session_version + 1,
                None,
                now,
            )?)
        })
        .await
}
