//! The first platform admin, so a fresh install can be signed into.
//!
//! - `ROSTER_BOOTSTRAP_ADMIN_EMAIL` + `_PASSWORD`: an active admin.
//! - the email alone: an invited admin; the activation link is logged (and emailed).
//! - neither, and no admin yet: an invited `admin@localhost`, link logged.
//!
//! An existing account is never overwritten.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::auth::tokens::{PlainToken, TokenKind};
use crate::clock::span;
use crate::db::action_tokens::{self, Purpose};
use crate::db::users::{self, NewUser};
use crate::domain::email::EmailAddress;
use crate::domain::lifecycle::UserStatus;
use crate::domain::password_policy::{check_password, PasswordContext};
use crate::domain::roles::PlatformRole;
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event};
use crate::state::AppState;

pub const DEFAULT_ADMIN_EMAIL: &str = "admin@localhost";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("{variable}: {message}")]
    Invalid {
        variable: &'static str,
        message: String,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// What start-up did about the first admin.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    Nothing,
    CreatedActive(String),
    /// The email and the activation link to print.
    Invited {
        email: String,
        link: String,
    },
}

pub async fn ensure_admin(state: &AppState) -> Result<Bootstrap, BootstrapError> {
    let settings = &state.settings;
    let configured = settings.bootstrap_admin_email.is_some();
    let raw_email = settings
        .bootstrap_admin_email
        .clone()
        .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_string());
    let email = EmailAddress::parse(&raw_email).map_err(|why| BootstrapError::Invalid {
        variable: "ROSTER_BOOTSTRAP_ADMIN_EMAIL",
        message: format!("`{raw_email}` {why}"),
    })?;
    let key = email.key();
    let (existing, any_admin) = state
        .read(move |conn, _| {
            Ok((
                users::find_by_email(conn, &key)?,
                users::any_platform_admin(conn)?,
            ))
        })
        .await?;
    if !configured
        && any_admin
        && existing
            .as_ref()
            .is_none_or(|u| u.status != UserStatus::Invited)
    {
        return Ok(Bootstrap::Nothing);
    }
    match (&existing, &settings.bootstrap_admin_password) {
        (Some(user), _) if user.status != UserStatus::Invited => Ok(Bootstrap::Nothing),
        (Some(_), Some(_)) => Ok(Bootstrap::Nothing),
        (None, Some(password)) => {
            create_active(state, &email, password, "ROSTER_BOOTSTRAP_ADMIN_PASSWORD").await
        }
        (_, None) => invite(state, &email, configured).await,
    }
}

/// `roster admin create`: a new platform admin, active with `password`, or
/// invited (the returned link activates it).
pub async fn create_admin(
    state: &AppState,
    email: &str,
    password: Option<SecretString>,
) -> Result<Bootstrap, BootstrapError> {
    let email = EmailAddress::parse(email).map_err(|why| BootstrapError::Invalid {
        variable: "--email",
        message: format!("`{email}` {why}"),
    })?;
    let key = email.key();
    if state
        .read(move |conn, _| Ok(users::find_by_email(conn, &key)?))
        .await?
        .is_some()
    {
        return Err(BootstrapError::Invalid {
            variable: "--email",
            message: format!("a user with {email} already exists"),
        });
    }
    match password {
        Some(password) => create_active(state, &email, &password, "--password-stdin").await,
        None => invite(state, &email, false).await,
    }
}

async fn create_active(
    state: &AppState,
    email: &EmailAddress,
    password: &SecretString,
    source: &'static str,
) -> Result<Bootstrap, BootstrapError> {
    let context = PasswordContext {
        email: email.as_str(),
        ..Default::default()
    };
    check_password(
        password.expose_secret(),
        state.settings.password_min_length,
        &context,
    )
    .map_err(|why| BootstrapError::Invalid {
        variable: source,
        message: format!("the password {why}"),
    })?;
    let hash = state
        .hasher
        .hash(password.clone())
        .await
        .map_err(ApiError::from)?;
    let email2 = email.clone();
    state
        .write(move |conn, state| {
            let now = state.clock.now_db();
            let user = new_admin(&email2, UserStatus::Active, Some(hash), now);
            users::insert(conn, &user)?;
            record_creation(conn, state, &user.id, now)
        })
        .await?;
    tracing::info!(email = %email, "created a platform admin");
    Ok(Bootstrap::CreatedActive(email.to_string()))
}

async fn invite(
    state: &AppState,
    email: &EmailAddress,
    send_email: bool,
) -> Result<Bootstrap, BootstrapError> {
    let email2 = email.clone();
    let link = state
        .write(move |conn, state| {
            let now = state.clock.now_db();
            let user = match users::find_by_email(conn, &email2.key())? {
                Some(user) => user,
                None => {
                    let new = new_admin(&email2, UserStatus::Invited, None, now);
                    users::insert(conn, &new)?;
                    record_creation(conn, state, &new.id, now)?;
                    users::find(conn, &new.id)?.ok_or(ApiError::NotFound("user"))?
                }
            };
            if send_email {
                return crate::service::accounts::send_action_email(
                    conn,
                    state,
                    &user,
                    Purpose::Activation,
                    None,
                    now,
                );
            }
            let token = PlainToken::generate(TokenKind::Action);
            let expires = now + span(state.settings.action_token_ttl);
            action_tokens::issue(
                conn,
                &user.id,
                Purpose::Activation,
                &token.hash(),
                now,
                expires,
            )?;
            Ok(format!(
                "{}/activate?token={}",
                state.settings.link_base(),
                token.expose()
            ))
        })
        .await?;
    Ok(Bootstrap::Invited {
        email: email.to_string(),
        link,
    })
}

fn new_admin(
    email: &EmailAddress,
    status: UserStatus,
    hash: Option<String>,
    now: time::PrimitiveDateTime,
) -> NewUser {
    NewUser {
        id: crate::db::new_id(),
        email: email.to_string(),
        email_lower: email.key(),
        first_name: "Platform".into(),
        first_name_lower: "platform".into(),
        last_name: "Admin".into(),
        last_name_lower: "admin".into(),
        job_title: None,
        status,
        platform_role: PlatformRole::Admin,
        password_changed_at: hash.as_ref().map(|_| now),
        activated_at: hash.as_ref().map(|_| now),
        password_hash: hash,
        invited_at: Some(now),
        status_changed_at: now,
        created_at: now,
        updated_at: now,
    }
}

fn record_creation(
    conn: &mut crate::db::DbConnection,
    state: &AppState,
    user_id: &str,
    now: time::PrimitiveDateTime,
) -> Result<(), ApiError> {
    Event::new(
        "user.bootstrapped",
        "the bootstrap platform admin was created",
    )
    .about(user_id)
    .change("platform_role", Value::Null, "admin")
    .record(conn, state, &AuditContext::system(), now)
}
