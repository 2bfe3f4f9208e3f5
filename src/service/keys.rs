//! The signing keys as use cases: signing and verifying access tokens with
//! the keys in force (re-reading the stored ones when due, see `auth::jwt`),
//! the JWKS, and `roster keys rotate`.

use time::OffsetDateTime;

use crate::auth::jwt::{self, Claims, JwkSet, Reload, StoredKey, Verdict};
use crate::clock::{from_db, span};
use crate::db::{signing_keys, DbConnection, DbError};
use crate::error::ApiError;
use crate::state::AppState;

/// Keys superseded this long ago are deleted by the next rotation. Far
/// beyond any grace (the access-token TTL is at most a day), whatever TTL
/// the instances run with.
const DELETE_SUPERSEDED_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// The claims of a valid access token, `None` for any other token. A token
/// naming a key this instance does not have (another instance may have
/// started signing with a new one) re-reads the keys first, at most once a
/// second.
pub async fn verify_access_token(
    state: &AppState,
    token: String,
) -> Result<Option<Claims>, ApiError> {
    reload_if_due(state, Reload::Periodic).await?;
    let now = state.clock.now().unix_timestamp();
    match state.keys.check(&token, now) {
        Verdict::Valid(claims) => Ok(Some(claims)),
        Verdict::Invalid => Ok(None),
        Verdict::UnknownKey(kid) => {
            if !reload_if_due(state, Reload::UnknownKey(kid)).await? {
                return Ok(None);
            }
            let now = state.clock.now().unix_timestamp();
            Ok(state.keys.verify(&token, now))
        }
    }
}

/// Signs `claims` with the newest key, inside a transaction (re-reading
/// the keys first when due).
pub fn sign(conn: &mut DbConnection, state: &AppState, claims: &Claims) -> Result<String, DbError> {
    let now = state.clock.now().unix_timestamp();
    if state.keys.reload_due(&Reload::Periodic, now) {
        reload_in(conn, state, &Reload::Periodic)?;
    }
    Ok(state.keys.sign(claims))
}

/// The public keys that verify access tokens now.
pub async fn jwks(state: &AppState) -> Result<JwkSet, ApiError> {
    reload_if_due(state, Reload::Periodic).await?;
    Ok(state.keys.jwks(state.clock.now().unix_timestamp()))
}

/// What `roster keys rotate` did.
#[derive(Debug)]
pub struct Rotation {
    /// The new key's `kid`.
    pub kid: String,
    /// The key it supersedes.
    pub previous_kid: String,
    /// When the previous key stops verifying and leaves the JWKS.
    pub previous_retires_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(
        "ROSTER_JWT_KEY_FILE is set ({0}): tokens are signed with that file's key, which roster does \
         not rotate. Replace the file on every instance (tokens signed with the old key then stop \
         working), or unset ROSTER_JWT_KEY_FILE to have roster keep rotating keys in the database"
    )]
    KeyFileConfigured(String),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Adds a new key, which signs from now on (every instance takes it up
/// within a minute); the previous one verifies until every token it can
/// have signed has expired. Keys superseded long ago are deleted.
pub async fn rotate(state: &AppState) -> Result<Rotation, RotateError> {
    if let Some(path) = &state.settings.jwt_key_file {
        return Err(RotateError::KeyFileConfigured(path.display().to_string()));
    }
    let pem = jwt::generate_pem();
    let rotation = state
        .write(move |conn, state| rotate_in(conn, state, &pem))
        .await?;
    state
        .read(|conn, state| {
            let now = state.clock.now().unix_timestamp();
            let stored = stored_keys(conn)?;
            Ok(install(state, &stored, now)?)
        })
        .await?;
    Ok(rotation)
}

fn rotate_in(conn: &mut DbConnection, state: &AppState, pem: &str) -> Result<Rotation, ApiError> {
    let now = state.clock.now_db();
    let kid = jwt::kid_of(pem).map_err(|e| ApiError::internal(e.to_string()))?;
    let previous_kid = stored_keys(conn)?
        .first()
        .map(|key| jwt::kid_of(&key.pem))
        .transpose()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::internal("there is no signing key to rotate"))?;
    signing_keys::insert(conn, &kid, pem, now)?;
    let rows = signing_keys::all(conn)?;
    let cutoff = now - span(DELETE_SUPERSEDED_AFTER);
    let stale: Vec<String> = rows
        .windows(2)
        .filter(|pair| pair[0].created_at < cutoff)
        .map(|pair| pair[1].kid.clone())
        .collect();
    if !stale.is_empty() {
        signing_keys::delete(conn, &stale)?;
    }
    let grace = jwt::grace_secs(state.settings.access_token_ttl);
    Ok(Rotation {
        kid,
        previous_kid,
        previous_retires_at: from_db(now).saturating_add(time::Duration::seconds(grace)),
    })
}

/// The stored keys, newest first.
pub fn stored_keys(conn: &mut DbConnection) -> Result<Vec<StoredKey>, DbError> {
    Ok(signing_keys::all(conn)?
        .into_iter()
        .map(|row| StoredKey {
            pem: row.private_key_pem,
            created_at: from_db(row.created_at).unix_timestamp(),
        })
        .collect())
}

/// Re-reads the stored keys if `why` makes it due; whether it did.
async fn reload_if_due(state: &AppState, why: Reload) -> Result<bool, ApiError> {
    if !state
        .keys
        .reload_due(&why, state.clock.now().unix_timestamp())
    {
        return Ok(false);
    }
    state
        .read(move |conn, state| Ok(reload_in(conn, state, &why)?))
        .await?;
    Ok(true)
}

/// Re-reads the stored keys, once for all the callers that found it due at
/// the same time.
fn reload_in(conn: &mut DbConnection, state: &AppState, why: &Reload) -> Result<(), DbError> {
    let _reloading = state.keys.reloading();
    let now = state.clock.now().unix_timestamp();
    if !state.keys.reload_due(why, now) {
        return Ok(());
    }
    let stored = stored_keys(conn)?;
    install(state, &stored, now)
}

/// Puts `stored` in force. A stored key that does not parse is a row that
/// cannot be read.
fn install(state: &AppState, stored: &[StoredKey], now: i64) -> Result<(), DbError> {
    state
        .keys
        .install(stored, now)
        .map_err(|err| DbError::Query(diesel::result::Error::DeserializationError(Box::new(err))))
}
