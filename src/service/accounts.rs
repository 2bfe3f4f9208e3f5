//! A user's own account: redeeming action tokens (activation, reset),
//! setting passwords, and asking for a link when the password is forgotten.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use time::PrimitiveDateTime;

use crate::auth::tokens::{hash_token, PlainToken, TokenKind};
use crate::clock::span;
use crate::db::action_tokens::{self, ActionTokenRow, Purpose};
use crate::db::users::UserRow;
use crate::db::{outbox, refresh_tokens, users, DbConnection};
use crate::domain::email::EmailAddress;
use crate::domain::lifecycle::UserStatus;
use crate::domain::password_policy::{check_password, PasswordContext, PasswordRejection};
use crate::email::{self, EmailKind, Message, RequestKind};
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event, Origin};
use crate::service::guard::lock_user;
use crate::service::sessions::{issue_pair, TokenResponse};
use crate::state::AppState;

/// A live action token and its user.
pub struct Redeemable {
    pub token: ActionTokenRow,
    pub user: UserRow,
}

/// Why an emailed link cannot be used (the pages say which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// No such link (or one for another purpose than the page's).
    Unknown,
    Expired,
    /// Used, or replaced by a newer link.
    Used,
    /// Its account has changed status since.
    NoLongerApplies,
}

impl LinkProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkProblem::Unknown => "unknown",
            LinkProblem::Expired => "expired",
            LinkProblem::Used => "used",
            LinkProblem::NoLongerApplies => "no_longer_applies",
        }
    }

    /// The JSON API's answer: 404 if unknown, else 410.
    fn into_error(self) -> ApiError {
        match self {
            LinkProblem::Unknown => ApiError::NotFound("action token"),
            LinkProblem::Expired | LinkProblem::Used => ApiError::Gone(
                "This link has expired or was already used; ask for a new one.".into(),
            ),
            LinkProblem::NoLongerApplies => ApiError::Gone(
                "This link no longer applies to the account; ask for a new one.".into(),
            ),
        }
    }
}

/// Looks a presented token up without consuming it: the live token and its
/// user, or why it cannot be used.
fn classify(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
) -> Result<Result<Redeemable, LinkProblem>, ApiError> {
    let Some(token) = action_tokens::find_by_hash(conn, &hash_token(presented))? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    if token.used_at.is_some() || token.revoked_at.is_some() {
        return Ok(Err(LinkProblem::Used));
    }
    if !token.is_live(state.clock.now_db()) {
        return Ok(Err(LinkProblem::Expired));
    }
    let Some(user) = users::find(conn, &token.user_id)? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    let fits = match token.purpose {
        Purpose::Activation => user.status == UserStatus::Invited,
        Purpose::PasswordReset => user.status == UserStatus::Active,
    };
    if !fits {
        return Ok(Err(LinkProblem::NoLongerApplies));
    }
    Ok(Ok(Redeemable { token, user }))
}

/// Looks a presented token up without consuming it: 404 if unknown, 410 if
/// used, superseded, expired, or its user can no longer use it.
pub fn peek(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
) -> Result<Redeemable, ApiError> {
    classify(conn, state, presented)?.map_err(LinkProblem::into_error)
}

/// Checks a new password against the policy for `user` (before any hashing);
/// a rejection is a 422 on `field`.
pub fn check_new_password(
    state: &AppState,
    user: &UserRow,
    password: &SecretString,
    field: &str,
) -> Result<(), ApiError> {
    policy_check(state, user, password).map_err(|why| ApiError::invalid(field, why.to_string()))
}

fn policy_check(
    state: &AppState,
    user: &UserRow,
    password: &SecretString,
) -> Result<(), PasswordRejection> {
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
    let link = format!(
        "{}/{path}?token={}",
        state.settings.link_base(),
        token.expose()
    );
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

/// A live link as its page shows it.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub email: String,
    pub expires_at: PrimitiveDateTime,
}

/// What the page of a `purpose` link shows: whom it is for, or why it
/// cannot be used (a link of the other purpose is unknown there). Never
/// consumes it (mail scanners open links).
pub async fn open_link(
    state: &AppState,
    presented: String,
    purpose: Purpose,
) -> Result<Result<LinkView, LinkProblem>, ApiError> {
    let found = state
        .read(move |conn, state| classify(conn, state, &presented))
        .await?;
    Ok(found.and_then(|Redeemable { token, user }| {
        if token.purpose == purpose {
            Ok(LinkView {
                email: user.email,
                expires_at: token.expires_at,
            })
        } else {
            Err(LinkProblem::Unknown)
        }
    }))
}

/// Why a page could not set the password.
#[derive(Debug)]
pub enum SetPasswordFailure {
    Link(LinkProblem),
    Password(PasswordRejection),
    Other(ApiError),
}

impl From<ApiError> for SetPasswordFailure {
    fn from(err: ApiError) -> Self {
        SetPasswordFailure::Other(err)
    }
}

/// Sets the password with a `purpose` link from its page: activates the
/// account (signing nobody in: the page has no session to give) or resets
/// the password, exactly as the JSON API does otherwise.
pub async fn set_password_with_link(
    state: &AppState,
    presented: String,
    purpose: Purpose,
    password: SecretString,
    origin: Origin,
) -> Result<(), SetPasswordFailure> {
    let lookup = presented.clone();
    let Redeemable { token, user } = state
        .read(move |conn, state| classify(conn, state, &lookup))
        .await?
        .map_err(SetPasswordFailure::Link)?;
    if token.purpose != purpose {
        return Err(SetPasswordFailure::Link(LinkProblem::Unknown));
    }
    policy_check(state, &user, &password).map_err(SetPasswordFailure::Password)?;
    let hash = state.hasher.hash(password).await.map_err(ApiError::from)?;
    let written = state
        .write(move |conn, state| match purpose {
            Purpose::Activation => {
                activate_account_in(conn, state, &presented, &hash, &origin).map(drop)
            }
            Purpose::PasswordReset => reset_password_in(conn, state, &presented, &hash, &origin),
        })
        .await;
    written.map_err(|err| match err {
        // Used (or replaced) between the look and the write.
        ApiError::Gone(_) => SetPasswordFailure::Link(LinkProblem::Used),
        ApiError::NotFound(_) => SetPasswordFailure::Link(LinkProblem::Unknown),
        other => SetPasswordFailure::Other(other),
    })
}

/// Stores a forgot-password request for the delivery worker, which turns it
/// into a reset link, a fresh activation link or nothing
/// ([`resolve_forgot_password`]). The request is one outbox row whether or
/// not the address has an account, so neither the answer nor its timing
/// tells; and it is stored before the answer, so an answered request is
/// never lost.
pub async fn forgot_password(state: &AppState, email: EmailAddress) -> Result<(), ApiError> {
    state
        .write(move |conn, state| {
            let now = state.clock.now_db();
            email::enqueue_request(conn, RequestKind::ForgotPassword, email.key(), now)?;
            Ok(())
        })
        .await
}

/// Resolves a forgot-password request the delivery worker took from the
/// outbox (`request_id`, about the address `email_key`), and removes it.
pub async fn resolve_forgot_password(
    state: &AppState,
    request_id: String,
    email_key: String,
) -> Result<(), ApiError> {
    state
        .write(move |conn, state| forgot_password_in(conn, state, &request_id, &email_key))
        .await
}

/// Redeems an activation token: sets the password, activates, signs in.
fn activate_in(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
    password_hash: &str,
    origin: &Origin,
) -> Result<TokenResponse, ApiError> {
    let user = activate_account_in(conn, state, presented, password_hash, origin)?;
    let now = state.clock.now_db();
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

/// Redeems an activation token: sets the password and activates; returns
/// the user as it was before.
fn activate_account_in(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
    password_hash: &str,
    origin: &Origin,
) -> Result<UserRow, ApiError> {
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
    Ok(user)
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
/// to an invited one, and nothing to anybody else, nor to a user who was
/// sent a link of that purpose within `ROSTER_RESET_EMAIL_COOLDOWN` (whose
/// link then keeps working). The request row goes in the same transaction;
/// when it is already gone another worker has resolved it.
fn forgot_password_in(
    conn: &mut DbConnection,
    state: &AppState,
    request_id: &str,
    email_key: &str,
) -> Result<(), ApiError> {
    if !outbox::take_request(conn, request_id)? {
        return Ok(());
    }
    let Some(found) = users::find_by_email(conn, email_key)? else {
        return Ok(());
    };
    // Held until the end, so two requests for the same user (or one and an
    // admin's link email) cannot both find the window empty.
    lock_user(conn, &found.id)?;
    let Some(user) = users::find(conn, &found.id)? else {
        return Ok(());
    };
    let purpose = match user.status {
        UserStatus::Active => Purpose::PasswordReset,
        UserStatus::Invited => Purpose::Activation,
        UserStatus::Inactive | UserStatus::Expired | UserStatus::Retired => return Ok(()),
    };
    let now = state.clock.now_db();
    let cooldown = state.settings.reset_email_cooldown;
    if !cooldown.is_zero()
        && action_tokens::issued_since(conn, &user.id, purpose, now - span(cooldown))?
    {
        return Ok(());
    }
    send_action_email(conn, state, &user, purpose, None, now).map(drop)
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
