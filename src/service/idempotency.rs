//! `Idempotency-Key` on creating requests. The key is reserved in its own
//! transaction (so a concurrent duplicate sees "in progress"), then the
//! creation and the stored answer commit together: a replay can never
//! disagree with what was created.
//!
//! Nothing stored is of use without the caller's key: the row is found by a
//! one-way derivation of it, and the answer (which may carry a secret, such
//! as a new API client's) is sealed under another. A replay is given only to
//! a caller who may still make the request.

use serde::{Deserialize, Serialize};

use crate::auth::sealing::{derive, Sealer};
use crate::clock::span;
use crate::db::{idempotency, DbConnection};
use crate::domain::permissions::Actor;
use crate::error::{ApiError, FieldError};
use crate::state::AppState;

const KEY_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The status every stored answer has: these are all creations.
const CREATED: i32 = 201;

/// What a creation answers: a body and where the new thing lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    pub body: serde_json::Value,
    pub location: String,
    pub etag: Option<String>,
}

/// A creation's answer, and whether it is the replay of an earlier one.
pub struct Answer {
    pub created: Created,
    pub replayed: bool,
}

/// The caller's `Idempotency-Key` (if any) and a fingerprint of the request
/// it names, so that the same key with another request is refused.
pub struct Once {
    pub key: Option<String>,
    pub fingerprint: String,
}

/// Runs `create` in one write transaction, once per `(caller, key)`;
/// repeats replay the first answer. `authorize` is the permission check of
/// the request (404/403); a repeat must pass it again, so a caller who lost
/// the right meanwhile gets no replay.
pub async fn create_once<A, F>(
    state: &AppState,
    actor: &Actor,
    once: Once,
    authorize: A,
    create: F,
) -> Result<Answer, ApiError>
where
    A: FnOnce(&mut DbConnection) -> Result<(), ApiError> + Send + 'static,
    F: FnOnce(&mut DbConnection, &AppState) -> Result<Created, ApiError> + Send + 'static,
{
    let Some(key) = once.key else {
        let created = state.write(create).await?;
        return Ok(Answer {
            created,
            replayed: false,
        });
    };
    let principal = actor.principal_key();
    let sealed = SealedKey::derive(&principal, &key)?;
    let lookup = sealed.lookup.clone();
    if let Some(created) = reserve(state, &principal, &sealed, &once.fingerprint, authorize).await?
    {
        return Ok(Answer {
            created,
            replayed: true,
        });
    }
    let principal2 = principal.clone();
    let outcome = state
        .write(move |conn, state| {
            let created = create(conn, state)?;
            idempotency::complete(
                conn,
                &principal2,
                &sealed.lookup,
                CREATED,
                &sealed.seal(&principal2, &created)?,
            )?;
            Ok(created)
        })
        .await;
    match outcome {
        Ok(created) => Ok(Answer {
            created,
            replayed: false,
        }),
        Err(err) => {
            // Free the key so the client can retry once the problem is fixed.
            state
                .write(move |conn, _| Ok(idempotency::release(conn, &principal, &lookup)?))
                .await?;
            Err(err)
        }
    }
}

/// Checks the caller's permission and reserves the key, in one transaction;
/// returns the stored answer when the key was used before.
async fn reserve<A>(
    state: &AppState,
    principal: &str,
    sealed: &SealedKey,
    fingerprint: &str,
    authorize: A,
) -> Result<Option<Created>, ApiError>
where
    A: FnOnce(&mut DbConnection) -> Result<(), ApiError> + Send + 'static,
{
    let (principal2, lookup, hash) = (
        principal.to_string(),
        sealed.lookup.clone(),
        fingerprint.to_string(),
    );
    let existing = state
        .write(move |conn, state| {
            authorize(conn)?;
            let now = state.clock.now_db();
            let expires = now + span(KEY_LIFETIME);
            Ok(idempotency::reserve(
                conn,
                &principal2,
                &lookup,
                &hash,
                now,
                expires,
            )?)
        })
        .await?;
    let Some(row) = existing else {
        return Ok(None);
    };
    if row.request_hash != fingerprint {
        return Err(ApiError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "was already used with a different request body",
        )])
        .with_code(crate::error::ErrorCode::IdempotencyKeyReused));
    }
    let (Some(status), Some(body)) = (row.response_status, row.response_body) else {
        return Err(ApiError::conflict(
            crate::error::ErrorCode::IdempotencyRequestInProgress,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        ));
    };
    debug_assert_eq!(status, CREATED);
    sealed.open(principal, &body).map(Some)
}

/// What the caller's `Idempotency-Key` yields (HKDF-SHA-256, salted with the
/// caller): the id its row is stored under, and the key its answer is
/// sealed with (ChaCha20-Poly1305). Neither gives back the other or the
/// `Idempotency-Key`.
struct SealedKey {
    lookup: String,
    sealer: Sealer,
}

const LOOKUP_INFO: &[u8] = b"roster idempotency-key lookup v1";
const SEAL_INFO: &[u8] = b"roster idempotency-key seal v1";

impl SealedKey {
    fn derive(principal: &str, key: &str) -> Result<Self, ApiError> {
        let (salt, material) = (principal.as_bytes(), key.as_bytes());
        let lookup = derive(salt, material, LOOKUP_INFO).map_err(ApiError::internal)?;
        let seal = derive(salt, material, SEAL_INFO).map_err(ApiError::internal)?;
        Ok(SealedKey {
            lookup: lookup.iter().map(|b| format!("{b:02x}")).collect(),
            sealer: Sealer::new(seal),
        })
    }

    /// The answer, sealed and bound to its row.
    fn seal(&self, principal: &str, created: &Created) -> Result<String, ApiError> {
        let plain = serde_json::to_vec(created).map_err(ApiError::internal)?;
        self.sealer
            .seal(&plain, &self.aad(principal))
            .map_err(ApiError::internal)
    }

    /// The stored answer. Failing to open one means the row was altered:
    /// nothing a caller did.
    fn open(&self, principal: &str, stored: &str) -> Result<Created, ApiError> {
        let plain = self
            .sealer
            .open(stored, &self.aad(principal))
            .map_err(|_| ApiError::internal("a stored idempotent answer does not open"))?;
        serde_json::from_slice(&plain).map_err(ApiError::internal)
    }

    fn aad(&self, principal: &str) -> Vec<u8> {
        format!("{principal}\n{}", self.lookup).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    fn answer() -> Created {
        Created {
            body: json!({"client_secret": "rcs_secret"}),
            location: "/v1/api-clients/1".into(),
            etag: Some("\"1\"".into()),
        }
    }

    #[test]
    fn a_sealed_answer_opens_with_the_same_caller_and_key_only() {
        let key = SealedKey::derive("user:1", "key-1").unwrap();
        let stored = key.seal("user:1", &answer()).unwrap();
        assert!(!stored.contains("rcs_secret"));
        let opened = key.open("user:1", &stored).unwrap();
        assert_eq!(opened.body, answer().body);
        assert_eq!(opened.location, "/v1/api-clients/1");
        assert_eq!(opened.etag.as_deref(), Some("\"1\""));
        let other_key = SealedKey::derive("user:1", "key-2").unwrap();
        assert!(other_key.open("user:1", &stored).is_err());
        let other_caller = SealedKey::derive("user:2", "key-1").unwrap();
        assert!(other_caller.open("user:2", &stored).is_err());
        // The same key moved to another caller's row does not open either.
        assert!(key.open("user:2", &stored).is_err());
    }

    #[test]
    fn the_lookup_id_depends_on_caller_and_key_and_shows_neither() {
        let lookup = |p: &str, k: &str| SealedKey::derive(p, k).unwrap().lookup;
        assert_eq!(lookup("user:1", "k"), lookup("user:1", "k"));
        assert_ne!(lookup("user:1", "k"), lookup("user:2", "k"));
        assert_ne!(lookup("user:1", "k"), lookup("user:1", "k2"));
        let id = lookup("user:1", "my-own-key");
        assert_eq!(id.len(), 64);
        assert!(!id.contains("my-own-key") && !id.contains("user"));
    }

    #[test]
    fn a_tampered_answer_does_not_open() {
        let key = SealedKey::derive("user:1", "k").unwrap();
        let stored = key.seal("user:1", &answer()).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&stored).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(key.open("user:1", &URL_SAFE_NO_PAD.encode(bytes)).is_err());
        assert!(key.open("user:1", "short").is_err());
    }
}
