//! A user's own account: redeeming action tokens (activation, reset) and
//! setting passwords.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use time::PrimitiveDateTime;

use crate::auth::tokens::{hash_token, PlainToken, TokenKind};
use crate::clock::span;
use crate::db::action_tokens::{self, ActionTokenRow, Purpose};
use crate::db::users::UserRow;
use crate::db::{refresh_tokens, users, DbConnection};
use crate::domain::email::EmailAddress;
use crate::domain::lifecycle::UserStatus;
use crate::domain::password_policy::{check_password, PasswordContext};
use crate::email::{self, EmailKind, Message};
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event, Origin};
use crate::service::sessions::{issue_pair, TokenResponse};
use crate::state::AppState;

/// A live action token and its user.
pub struct Redeemable {
    pub token: ActionTokenRow,
    pub user: UserRow,
}

/// Looks a presented token up without consuming it: 404 if unknown, 410 if
/// used, superseded, expired, or its user can no longer use it.
pub fn peek(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
) -> Result<Redeemable, ApiError> {
    let token = action_tokens::find_by_hash(conn, &hash_token(presented))?
        .ok_or(ApiError::NotFound("action token"))?;
    if !token.is_live(state.clock.now_db()) {
        return Err(ApiError::Gone(
            "This link has expired or was already used; ask for a new one.".into(),
        ));
    }
    let user = users::find(conn, &token.user_id)?.ok_or(ApiError::NotFound("action token"))?;
    let fits = match token.purpose {
        Purpose::Activation => user.status == UserStatus::Invited,
        Purpose::PasswordReset => user.status == UserStatus::Active,
    };
    if !fits {
        return Err(ApiError::Gone(
            "This link no longer applies to the account; ask for a new one.".into(),
        ));
    }
    Ok(Redeemable { token, user })
}

/// Checks a new password against the policy for `user` (before any hashing);
/// a rejection is a 422 on `field`.
pub fn check_new_password(
    state: &AppState,
    user: &UserRow,
    password: &SecretString,
    field: &str,
) -> Result<(), ApiError> {
    let context = PasswordContext {
        email: &user.email,
        first_name: &user.first_name,
        last_name: &user.last_name,
    };
    check_password(
        password.expose_secret(),
        state.settings.password_min_length,
        &context,
    )
    .map_err(|why| ApiError::invalid(field, why.to_string()))
}

/// Issues a fresh action token of `purpose` (voiding older ones), queues its
/// email, and returns the link.
pub fn send_action_email(
    conn: &mut DbConnection,
    state: &AppState,
    user: &UserRow,
    purpose: Purpose,
    customer_name: Option<&str>,
    now: PrimitiveDateTime,
) -> Result<String, ApiError> {
    let token = PlainToken::generate(TokenKind::Action);
    let ttl = state.settings.action_token_ttl;
    action_tokens::issue(conn, &user.id, purpose, &token.hash(), now, now + span(ttl))?;
    let (kind, path) = match purpose {
        Purpose::Activation => (EmailKind::Activation, "activate"),
        Purpose::PasswordReset => (EmailKind::PasswordReset, "reset-password"),
    };
    let link = format!("{}/{path}?token={}", state.settings.app_url, token.expose());
    email::enqueue(
        conn,
        &state.templates,
        Message {
            kind,
            to: user.email.clone(),
            context: json!({
                "recipient_name": user.first_name,
                "link": link,
                "expires_hours": ttl.as_secs() / 3600,
                "customer_name": customer_name,
            }),
            user_id: Some(user.id.clone()),
            customer_id: None,
        },
        now,
    )?;
    Ok(link)
}

/// What an emailed link is for and whom; never consumes it (mail scanners
/// open links).
pub async fn inspect_link(state: &AppState, presented: String) -> Result<Redeemable, ApiError> {
    state
        .read(move |conn, state| peek(conn, state, &presented))
        .await
}

/// Checks the new password against the policy and hashes it, for the link
/// `presented` (policy errors are 422 and leave the link usable).
async fn hash_for_link(
    state: &AppState,
    presented: &str,
    password: SecretString,
) -> Result<String, ApiError> {
    let Redeemable { user, .. } = inspect_link(state, presented.to_string()).await?;
    check_new_password(state, &user, &password, "password")?;
    Ok(state.hasher.hash(password).await?)
}

/// Activates an invited account with its link: sets the password and signs in.
pub async fn activate(
    state: &AppState,
    presented: String,
    password: SecretString,
    origin: Origin,
) -> Result<TokenResponse, ApiError> {
    let hash = hash_for_link(state, &presented, password).await?;
    state
        .write(move |conn, state| activate_in(conn, state, &presented, &hash, &origin))
        .await
}

/// Sets a new password with a reset link; signs nobody in, ends every session.
pub async fn reset_password(
    state: &AppState,
    presented: String,
    password: SecretString,
    origin: Origin,
) -> Result<(), ApiError> {
    let hash = hash_for_link(state, &presented, password).await?;
    state
        .write(move |conn, state| reset_password_in(conn, state, &presented, &hash, &origin))
        .await
}

/// Queues a reset link (or, for an invited user, a new activation link) for
/// the address, after the caller has had its answer: the answer and its
/// timing are the same whether or not the address has an account.
pub fn forgot_password(state: &AppState, email: EmailAddress) {
    let state = state.clone();
    tokio::spawn(async move {
        let key = email.key();
        let result = state
            .write(move |conn, state| forgot_password_in(conn, state, &key))
            .await;
        if let Err(err) = result {
            tracing::error!(error = %err, "forgot-password email could not be queued");
        }
    });
}

/// Redeems an activation token: sets the password, activates, signs in.
fn activate_in(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
    password_hash: &str,
    origin: &Origin,
) -> Result<TokenResponse, ApiError> {
    let Redeemable { token, user } = peek(conn, state, presented)?;
    if token.purpose != Purpose::Activation {
        return Err(ApiError::invalid(
            "token",
            "is a password reset link, not an activation link",
        ));
    }
    let now = state.clock.now_db();
    consume(conn, &token, now)?;
    users::set_password(conn, &user.id, password_hash, true, now)?;
    action_tokens::void_all(conn, &user.id, now)?;
    Event::new(
        "user.activated",
        format!("{} activated their account", user.email),
    )
    .about(&user.id)
    .change("status", "invited", "active")
    .record(conn, state, &AuditContext::for_self(&user.id, origin), now)?;
    let session_version = user.session_version + 1;
    users::record_login(conn, &user.id, now)?;
    Ok(issue_pair(
        conn,
        state,
        &user.id,
        session_version,
        None,
        now,
    )?)
}

/// Redeems a reset token: sets the password, unlocks, ends every session,
/// and tells the user. Signs nobody in.
fn reset_password_in(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
    password_hash: &str,
    origin: &Origin,
) -> Result<(), ApiError> {
    let Redeemable { token, user } = peek(conn, state, presented)?;
    if token.purpose != Purpose::PasswordReset {
        return Err(ApiError::invalid(
            "token",
            "is an activation link, not a password reset link",
        ));
    }
    let now = state.clock.now_db();
    consume(conn, &token, now)?;
    password_changed(conn, state, &user, password_hash, None, now)?;
    Event::new(
        "user.password_reset",
        format!("{} reset their password", user.email),
    )
    .about(&user.id)
    .change("locked", user.locked_at.is_some(), false)
    .record(conn, state, &AuditContext::for_self(&user.id, origin), now)
}

/// Stores a new password for an active user: voids action tokens, revokes
/// refresh tokens (all, or all but `keep_family`), emails `password_changed`.
pub fn password_changed(
    conn: &mut DbConnection,
    state: &AppState,
    user: &UserRow,
    password_hash: &str,
    keep_family: Option<&str>,
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    users::set_password(conn, &user.id, password_hash, false, now)?;
    action_tokens::void_all(conn, &user.id, now)?;
    refresh_tokens::revoke_user(conn, &user.id, keep_family, now)?;
    email::enqueue(
        conn,
        &state.templates,
        Message {
            kind: EmailKind::PasswordChanged,
            to: user.email.clone(),
            context: json!({
                "recipient_name": user.first_name,
                "changed_at": crate::clock::from_db(now)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            }),
            user_id: Some(user.id.clone()),
            customer_id: None,
        },
        now,
    )?;
    Ok(())
}

/// Sends a reset link to an active (or locked) user, a fresh activation link
/// to an invited one, and nothing to anybody else.
fn forgot_password_in(
    conn: &mut DbConnection,
    state: &AppState,
    email_key: &str,
) -> Result<(), ApiError> {
    let Some(user) = users::find_by_email(conn, email_key)? else {
        return Ok(());
    };
    let now = state.clock.now_db();
    match user.status {
        UserStatus::Active => {
            send_action_email(conn, state, &user, Purpose::PasswordReset, None, now).map(drop)
        }
        UserStatus::Invited => {
            send_action_email(conn, state, &user, Purpose::Activation, None, now).map(drop)
        }
        UserStatus::Inactive | UserStatus::Expired | UserStatus::Retired => Ok(()),
    }
}

fn consume(
    conn: &mut DbConnection,
    token: &ActionTokenRow,
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    if action_tokens::consume(conn, &token.id, now)? {
        Ok(())
    } else {
        Err(ApiError::Gone(
            "This link was just used; ask for a new one.".into(),
        ))
    }
}
