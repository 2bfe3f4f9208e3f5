//! Sessions: sign-in grants, rotating refresh tokens, and the token pairs
//! they return.

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use time::PrimitiveDateTime;
use utoipa::ToSchema;

use crate::auth::jwt::Claims;
use crate::auth::tokens::{hash_token, PlainToken, TokenKind};
use crate::clock::span;
use crate::config::TOKEN_AUDIENCE;
use crate::db::refresh_tokens::{Family, RefreshTokenRow};
use crate::db::users::UserRow;
use crate::db::{api_clients, refresh_tokens, users, DbConnection, DbError};
use crate::domain::email::normalize;
use crate::domain::lifecycle::{activity_outdated, Standing, UserStatus};
use crate::email::{self, EmailKind, Message};
use crate::error::ApiError;
use crate::service::audit::{AuditContext, Event};
use crate::service::keys;
use crate::state::AppState;

/// An RFC 6749 token response.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT (EdDSA) to send as `Authorization: Bearer …`; verify it with `/.well-known/jwks.json` if you need to.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Absent for client-credentials grants. Keep it secret; trade it for a
    /// new pair with `grant_type=refresh_token` before the session ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
}

/// Why a grant failed, in RFC 6749 terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// Unknown email, wrong password, locked account, bad refresh token.
    InvalidGrant,
    /// The password was right but the account cannot sign in.
    AccountState(&'static str),
    InvalidClient,
}

pub fn access_claims(
    state: &AppState,
    subject: &str,
    session_version: i32,
    client: bool,
) -> Claims {
    let now = state.clock.now().unix_timestamp();
    let ttl = i64::try_from(state.settings.access_token_ttl.as_secs()).unwrap_or(900);
    Claims {
        iss: state.keys.issuer().to_string(),
        aud: TOKEN_AUDIENCE.to_string(),
        sub: subject.to_string(),
        exp: now + ttl,
        nbf: now,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        sv: session_version,
        client_id: client.then(|| subject.to_string()),
    }
}

/// Issues an access token and a refresh token in `family` (a new one, a
/// new session, if `None`). The refresh token expires after
/// `ROSTER_REFRESH_TOKEN_TTL`, but never past the session's
/// `ROSTER_SESSION_MAX_AGE`.
pub fn issue_pair(
    conn: &mut DbConnection,
    state: &AppState,
    user_id: &str,
    session_version: i32,
    family: Option<&Family>,
    now: PrimitiveDateTime,
) -> Result<TokenResponse, DbError> {
    let refresh = PlainToken::generate(TokenKind::Refresh);
    let family = family.cloned().unwrap_or_else(|| Family {
        id: crate::db::new_id(),
        started_at: now,
    });
    let expires_at = now
        .saturating_add(span(state.settings.refresh_token_ttl))
        .min(session_end(state, &family));
    refresh_tokens::insert(conn, &family, user_id, &refresh.hash(), now, expires_at)?;
    let claims = access_claims(state, user_id, session_version, false);
    Ok(TokenResponse {
        access_token: keys::sign(conn, state, &claims)?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl.as_secs(),
        refresh_token: Some(refresh.expose().to_string()),
    })
}

/// When the session `family` belongs to ends, whatever its refreshes.
fn session_end(state: &AppState, family: &Family) -> PrimitiveDateTime {
    family
        .started_at
        .saturating_add(span(state.settings.session_max_age))
}

/// A grant's outcome: a token pair, or why it was refused.
pub type Grant = Result<TokenResponse, GrantError>;

/// `grant_type=password`: checks the password (off the async workers, in a
/// bounded hashing queue: a full queue is 429), then decides under the
/// user's row lock from the account as it is by then (see
/// [`finish_password_grant`]).
pub async fn password_grant(
    state: &AppState,
    username: String,
    password: SecretString,
) -> Result<Grant, ApiError> {
    if username.contains(char::is_control) {
        return Ok(count_grant("password", Err(GrantError::InvalidGrant)));
    }
    let key = normalize(&username);
    let place = state.hasher.reserve()?;
    let user = state
        .read(move |conn, _| Ok(users::find_by_email(conn, &key)?))
        .await?;
    let verified_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = state
        .hasher
        .verify_reserved(place, password.clone(), verified_hash.clone())
        .await?;
    let rehashed = match &verified_hash {
        Some(hash) if matches && !state.hasher.is_current(hash) => rehash(state, password).await,
        _ => None,
    };
    let check = PasswordCheck {
        session_version: user.as_ref().map_or(0, |u| u.session_version),
        user_id: user.map(|u| u.id),
        verified_hash,
        matches,
        rehashed,
    };
    let grant = state
        .write(move |conn, state| finish_password_grant(conn, state, check))
        .await?;
    Ok(count_grant("password", grant))
}

/// The right password hashed again with the current parameters, for a hash
/// made with others (`ROSTER_HASH_MEMORY` changed since). Best effort: when
/// hashing is busy the sign-in goes ahead and the next one tries again.
async fn rehash(state: &AppState, password: SecretString) -> Option<String> {
    match state.hasher.hash(password).await {
        Ok(hash) => Some(hash),
        Err(cause) => {
            tracing::info!(%cause, "password hash left for a later sign-in to redo");
            None
        }
    }
}

/// `grant_type=refresh_token`: rotates the refresh token.
pub async fn refresh_grant(state: &AppState, presented: String) -> Result<Grant, ApiError> {
    let grant = state
        .write(move |conn, state| rotate_refresh_token(conn, state, &presented))
        .await?;
    Ok(count_grant("refresh_token", grant))
}

/// `grant_type=client_credentials`: an API client's id and secret.
pub async fn client_credentials_grant(
    state: &AppState,
    client_id: String,
    secret: SecretString,
) -> Result<Grant, ApiError> {
    let grant = match uuid::Uuid::parse_str(client_id.trim()) {
        Err(_) => Err(GrantError::InvalidClient),
        Ok(id) => {
            let id = id.to_string();
            state
                .write(move |conn, state| {
                    check_client_credentials(conn, state, &id, secret.expose_secret())
                })
                .await?
        }
    };
    Ok(count_grant("client_credentials", grant))
}

fn count_grant(grant_type: &str, grant: Grant) -> Grant {
    crate::metrics::sign_in(
        grant_type,
        match &grant {
            Ok(_) => "success",
            Err(GrantError::AccountState(code)) => code,
            Err(GrantError::InvalidGrant) => "invalid_grant",
            Err(GrantError::InvalidClient) => "invalid_client",
        },
    );
    grant
}

/// RFC 7009: revokes the refresh token's family; unknown tokens are ignored.
pub async fn revoke(state: &AppState, presented: String) -> Result<(), ApiError> {
    state
        .write(move |conn, state| {
            if let Some(row) = find_with_user_locked(conn, &presented)? {
                refresh_tokens::revoke_family(conn, &row.family_id, state.clock.now_db())?;
            }
            Ok(())
        })
        .await
}

/// What the password check found, before any write: the user it was
/// checked for, the hash it was checked against and the account's session
/// version then, whether it matched, and the password hashed with the
/// current parameters if that one was not.
struct PasswordCheck {
    user_id: Option<String>,
    verified_hash: Option<String>,
    session_version: i32,
    matches: bool,
    rehashed: Option<String>,
}

/// Decides a password sign-in under the user's row lock, from the account
/// as it is now rather than as it was before the (slow) password check: a
/// wrong password (or one that matched a hash replaced meanwhile) counts,
/// and an account locked by then gets no tokens, right password or not.
/// Only an unlocked account with the right password learns its status.
fn finish_password_grant(
    conn: &mut DbConnection,
    state: &AppState,
    check: PasswordCheck,
) -> Result<Grant, ApiError> {
    let Some(id) = &check.user_id else {
        return Ok(Err(GrantError::InvalidGrant));
    };
    let Some(user) = locked_user(conn, id)? else {
        return Ok(Err(GrantError::InvalidGrant));
    };
    let right = check.matches && same_password(&user, &check);
    if !right {
        count_failure(conn, state, &user)?;
        return Ok(Err(GrantError::InvalidGrant));
    }
    match user.standing() {
        Standing::Locked => Ok(Err(GrantError::InvalidGrant)),
        Standing::Refused(code) => Ok(Err(GrantError::AccountState(code))),
        Standing::Usable => {
            let now = state.clock.now_db();
            users::record_login(conn, &user.id, now)?;
            if let Some(hash) = &check.rehashed {
                users::replace_password_hash(conn, &user.id, hash)?;
            }
            Ok(Ok(issue_pair(
                conn,
                state,
                &user.id,
                user.session_version,
                None,
                now,
            )?))
        }
    }
}

/// Whether the account still has the password that was checked: the same
/// hash, or one a concurrent sign-in stored re-hashing it. A password
/// change always ends the sessions (bumps the session version); a re-hash
/// never does.
fn same_password(user: &UserRow, check: &PasswordCheck) -> bool {
    user.password_hash == check.verified_hash
        || (user.password_hash.is_some() && user.session_version == check.session_version)
}

/// The user, re-read after taking their row lock (`None` if deleted).
fn locked_user(conn: &mut DbConnection, id: &str) -> Result<Option<UserRow>, ApiError> {
    crate::service::guard::lock_user(conn, id)?;
    Ok(users::find(conn, id)?)
}

/// Counts a wrong password for the user, under their row lock (see
/// [`count_failure`]).
pub fn count_failed_sign_in(
    conn: &mut DbConnection,
    state: &AppState,
    user_id: &str,
) -> Result<(), ApiError> {
    match locked_user(conn, user_id)? {
        Some(user) => count_failure(conn, state, &user),
        None => Ok(()),
    }
}

/// Counts a wrong password (atomically: the caller holds the user's row
/// lock and `user` was read under it). Any account with a password can be
/// locked, whatever its status; at the threshold it is, and its sessions
/// end. An account already locked counts nothing more.
fn count_failure(
    conn: &mut DbConnection,
    state: &AppState,
    user: &UserRow,
) -> Result<(), ApiError> {
    if user.locked_at.is_some() || user.password_hash.is_none() {
        return Ok(());
    }
    let now = state.clock.now_db();
    if users::record_failed_login(conn, &user.id, state.settings.lockout_threshold, now)? {
        crate::metrics::lockout();
        lock_consequences(conn, state, user, now)?;
    }
    Ok(())
}

/// What a lock does: sessions end, an audit event, and an `active` user is
/// told (the email offers a password reset, which only an active user can
/// make; someone whose account is off anyway is not mailed about it).
fn lock_consequences(
    conn: &mut DbConnection,
    state: &AppState,
    user: &UserRow,
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    refresh_tokens::revoke_user(conn, &user.id, None, now)?;
    if user.status == UserStatus::Active {
        email::enqueue(
            conn,
            &state.templates,
            Message {
                kind: EmailKind::AccountLocked,
                to: user.email.clone(),
                context: json!({
                    "recipient_name": user.first_name,
                    "forgot_password_url": format!("{}/forgot-password", state.settings.link_base()),
                }),
                user_id: Some(user.id.clone()),
                customer_id: None,
            },
            now,
        )?;
    }
    Event::new(
        "user.locked",
        format!("{} was locked after failed sign-ins", user.email),
    )
    .about(&user.id)
    .change("locked", false, true)
    .record(conn, state, &AuditContext::system(), now)
}

/// Rotates a refresh token. Presenting a rotated one revokes its family; so
/// does a session older than `ROSTER_SESSION_MAX_AGE` (sign in again). A
/// rotation is activity: it keeps the account from going dormant.
fn rotate_refresh_token(
    conn: &mut DbConnection,
    state: &AppState,
    presented: &str,
) -> Result<Grant, ApiError> {
    let now = state.clock.now_db();
    // The user's row lock first, then the token as of then: rotations and
    // revocations of one user's sessions run one after the other.
    let hash = hash_token(presented);
    let Some(user) = users::lock_refresh_token_owner(conn, &hash)? else {
        return Ok(Err(GrantError::InvalidGrant));
    };
    let Some(row) = refresh_tokens::find_by_hash(conn, &hash)? else {
        return Ok(Err(GrantError::InvalidGrant));
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Ok(Err(GrantError::InvalidGrant));
    }
    let family = Family {
        id: row.family_id.clone(),
        started_at: row.family_started_at,
    };
    if session_end(state, &family) <= now {
        refresh_tokens::revoke_family(conn, &family.id, now)?;
        return Ok(Err(GrantError::InvalidGrant));
    }
    if !refresh_tokens::rotate(conn, &row.id, now)? {
        tracing::warn!(family = %row.family_id, "refresh token reused; revoking its family");
        refresh_tokens::revoke_family(conn, &row.family_id, now)?;
        return Ok(Err(GrantError::InvalidGrant));
    }
    if user.standing() != Standing::Usable {
        refresh_tokens::revoke_family(conn, &row.family_id, now)?;
        return Ok(Err(GrantError::InvalidGrant));
    }
    if activity_outdated(user.last_active_at, now) {
        users::record_activity(conn, &user.id, now)?;
    }
    let pair = issue_pair(
        conn,
        state,
        &user.id,
        user.session_version,
        Some(&family),
        now,
    )?;
    Ok(Ok(pair))
}

/// Client credentials: secrets carry 256 random bits, so a SHA-256 compare
/// is as strong as a slow hash and costs nothing.
fn check_client_credentials(
    conn: &mut DbConnection,
    state: &AppState,
    client_id: &str,
    client_secret: &str,
) -> Result<Grant, ApiError> {
    let Some(client) = crate::service::api_clients::find_usable(conn, client_id)? else {
        return Ok(Err(GrantError::InvalidClient));
    };
    if client.secret_hash != hash_token(client_secret) {
        return Ok(Err(GrantError::InvalidClient));
    }
    api_clients::touch(conn, &client.id, state.clock.now_db())?;
    let claims = access_claims(state, &client.id, 0, true);
    Ok(Ok(TokenResponse {
        access_token: keys::sign(conn, state, &claims)?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl.as_secs(),
        refresh_token: None,
    }))
}

/// The presented refresh token as of now, read after taking its user's row
/// lock: rotations and revocations of one user's sessions then run one after
/// the other, so a revocation also ends the token a concurrent rotation
/// issues (PostgreSQL would otherwise not see that row yet).
fn find_with_user_locked(
    conn: &mut DbConnection,
    presented: &str,
) -> Result<Option<RefreshTokenRow>, ApiError> {
    let hash = hash_token(presented);
    let Some(row) = refresh_tokens::find_by_hash(conn, &hash)? else {
        return Ok(None);
    };
    crate::service::guard::lock_user(conn, &row.user_id)?;
    Ok(refresh_tokens::find_by_hash(conn, &hash)?)
}
