//! EdDSA (Ed25519) access tokens and the JWKS that publishes their keys.
//!
//! The key comes from `ROSTER_JWT_KEY_FILE` (PKCS#8 PEM, one fixed key) or,
//! without it, from the database (`signing_keys`), so restarts and every
//! instance behind a load balancer share them. Stored keys rotate (`roster
//! keys rotate`): the newest signs, and a superseded key still verifies, and
//! stays in the JWKS, until every token it can have signed has expired
//! ([`grace_secs`]). A token's `kid` picks the key that verifies it.
//!
//! Stored keys are re-read (by `service::keys`) when the last read is
//! [`RELOAD_EVERY_SECS`] old, before signing or verifying, and at once when a
//! token names a key this instance does not know, at most every
//! [`UNKNOWN_KEY_RELOAD_SECS`]: so every instance signs with the newest key
//! within a minute of a rotation and accepts the others' new tokens at once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::TOKEN_AUDIENCE;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5;

/// Stored keys are re-read when the last read is this old (seconds), so an
/// instance signs with a superseded key for at most this long.
pub const RELOAD_EVERY_SECS: u64 = 60;

/// A token naming an unknown key re-reads the stored keys at most this
/// often (seconds): forged `kid`s cost at most one small query a second.
pub const UNKNOWN_KEY_RELOAD_SECS: u64 = 1;

/// Thumbprints are 43 characters; a longer `kid` is not ours.
const MAX_KID_LEN: usize = 64;

/// Access tokens whose signature and claims were already checked. A token's
/// bytes never change, so only its time window needs checking again; an
/// Ed25519 verification costs more than the rest of a simple read. Only
/// tokens that verified are kept, so forgeries cannot fill the cache. 4,096
/// tokens of about 600 bytes: a few MiB at most.
const VERIFIED_TOKENS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read ROSTER_JWT_KEY_FILE {path}: {cause}")]
    Read { path: String, cause: String },
    #[error("ROSTER_JWT_KEY_FILE is not an Ed25519 PKCS#8 PEM key: {0}")]
    Parse(String),
    #[error("a stored signing key is not an Ed25519 PKCS#8 PEM key: {0}")]
    Stored(String),
    #[error("there is no signing key")]
    Missing,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id, or the API client id for client tokens.
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// The user's session version when issued; a change revokes the token.
    #[serde(default)]
    pub sv: i32,
    /// Present (and equal to `sub`) on client-credentials tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// One public key in the JWKS (RFC 8037 OKP).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwk {
    #[schema(example = "OKP")]
    pub kty: &'static str,
    #[schema(example = "Ed25519")]
    pub crv: &'static str,
    /// The public key, base64url.
    pub x: String,
    pub kid: String,
    #[schema(example = "EdDSA")]
    pub alg: &'static str,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// A stored signing key: its PEM and when it was added (Unix seconds).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub pem: String,
    pub created_at: i64,
}

/// How long a superseded key keeps verifying: an instance may still sign
/// with it until it re-reads the keys, and each such token lives the
/// access-token TTL (with the leeway).
pub fn grace_secs(access_token_ttl: std::time::Duration) -> i64 {
    let secs = access_token_ttl
        .as_secs()
        .saturating_add(RELOAD_EVERY_SECS)
        .saturating_add(LEEWAY_SECS);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// One key in force.
struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
    /// When it stops verifying; `None` for the key that signs.
    retires_at: Option<i64>,
}

impl Key {
    fn parse(pem: &str, retires_at: Option<i64>) -> Result<Self, String> {
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        let kid = thumbprint(&x);
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let decoding = DecodingKey::from_ed_components(&x).map_err(|e| e.to_string())?;
        Ok(Key {
            jwk: Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x,
                kid: kid.clone(),
                alg: "EdDSA",
                use_: "sig",
            },
            kid,
            encoding,
            decoding,
            retires_at,
        })
    }

    fn live_at(&self, now: i64) -> bool {
        self.retires_at.is_none_or(|at| now < at)
    }
}

/// The keys in force, the signing one first.
struct Ring {
    keys: Vec<Key>,
}

impl Ring {
    fn signing(&self) -> &Key {
        &self.keys[0]
    }

    fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// The stored keys (newest first) still in force at `now`: the newest,
    /// and each older one until `grace` after the next one was added.
    fn stored(keys: &[StoredKey], grace: i64, now: i64) -> Result<Self, KeyError> {
        let mut ring = Vec::new();
        let mut successor: Option<i64> = None;
        for stored in keys {
            let retires_at = successor.map(|added| added.saturating_add(grace));
            if retires_at.is_some_and(|at| at <= now) {
                // Older keys were superseded even earlier.
                break;
            }
            ring.push(Key::parse(&stored.pem, retires_at).map_err(KeyError::Stored)?);
            successor = Some(stored.created_at);
        }
        if ring.is_empty() {
            return Err(KeyError::Missing);
        }
        Ok(Ring { keys: ring })
    }
}

/// What a presented token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid(Claims),
    /// Well formed, but its `kid` names no key this instance has: perhaps
    /// one another instance has just started to sign with.
    UnknownKey(String),
    Invalid,
}

/// Why the stored keys might be re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The last read is [`RELOAD_EVERY_SECS`] old.
    Periodic,
    /// A token names this key, which this instance does not have.
    UnknownKey(String),
}

pub struct JwtKeys {
    issuer: String,
    validation: Validation,
    /// Keys come from the database (and may be re-read), not from a file.
    stored: bool,
    grace: i64,
    ring: RwLock<Arc<Ring>>,
    /// Service-clock Unix seconds of the last read of the stored keys.
    loaded_at: AtomicI64,
    /// Held while re-reading, so concurrent callers read once.
    reloading: Mutex<()>,
    verified: quick_cache::sync::Cache<String, Claims>,
}

impl JwtKeys {
    /// One fixed key (`ROSTER_JWT_KEY_FILE`'s, or a test's).
    pub fn from_pem(pem: &str, issuer: &str) -> Result<Self, KeyError> {
        let key = Key::parse(pem, None).map_err(KeyError::Parse)?;
        Ok(Self::new(Ring { keys: vec![key] }, issuer, false, 0, 0))
    }

    pub fn from_file(path: &std::path::Path, issuer: &str) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        Self::from_pem(&pem, issuer)
    }

    /// The stored keys (newest first) as read at `now`.
    pub fn stored(
        keys: &[StoredKey],
        issuer: &str,
        access_token_ttl: std::time::Duration,
        now: i64,
    ) -> Result<Self, KeyError> {
        let grace = grace_secs(access_token_ttl);
        let ring = Ring::stored(keys, grace, now)?;
        Ok(Self::new(ring, issuer, true, grace, now))
    }

    fn new(ring: Ring, issuer: &str, stored: bool, grace: i64, now: i64) -> Self {
        // `exp` and `nbf` are checked against the service clock in `check`
        // (tests shift it); the library still insists they are present.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        JwtKeys {
            issuer: issuer.to_string(),
            validation,
            stored,
            grace,
            ring: RwLock::new(Arc::new(ring)),
            loaded_at: AtomicI64::new(now),
            reloading: Mutex::new(()),
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
        }
    }

    fn ring(&self) -> Arc<Ring> {
        self.ring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the keys come from the database (and can rotate).
    pub fn is_stored(&self) -> bool {
        self.stored
    }

    /// The `kid` new tokens carry.
    pub fn kid(&self) -> String {
        self.ring().signing().kid.clone()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public keys that verify tokens at `now`, the signing one first.
    pub fn jwks(&self, now: i64) -> JwkSet {
        JwkSet {
            keys: self
                .ring()
                .keys
                .iter()
                .filter(|key| key.live_at(now))
                .map(|key| key.jwk.clone())
                .collect(),
        }
    }

    /// Signs with the newest key.
    pub fn sign(&self, claims: &Claims) -> String {
        let ring = self.ring();
        let key = ring.signing();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .expect("signing with a parsed Ed25519 key cannot fail")
    }

    /// The claims of a valid token (see [`JwtKeys::check`]).
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        match self.check(token, now) {
            Verdict::Valid(claims) => Some(claims),
            Verdict::UnknownKey(_) | Verdict::Invalid => None,
        }
    }

    /// Checks signature, algorithm, `kid` (which picks the key; a key past
    /// its grace verifies nothing), `iss`, `aud`, and `exp`/`nbf` against
    /// `now` (Unix seconds) with a 5 s leeway.
    pub fn check(&self, token: &str, now: i64) -> Verdict {
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => match self.verify_signed(token, now) {
                Verdict::Valid(claims) => {
                    self.verified.insert(token.to_string(), claims.clone());
                    claims
                }
                other => return other,
            },
        };
        let leeway = LEEWAY_SECS as i64;
        if now < claims.exp + leeway && claims.nbf <= now + leeway {
            Verdict::Valid(claims)
        } else {
            Verdict::Invalid
        }
    }

    /// Everything about the token that cannot change: signature, algorithm,
    /// `kid`, `iss`, `aud` and the presence of the required claims.
    fn verify_signed(&self, token: &str, now: i64) -> Verdict {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Verdict::Invalid;
        };
        let Some(kid) = header.kid.filter(|kid| kid.len() <= MAX_KID_LEN) else {
            return Verdict::Invalid;
        };
        if header.alg != Algorithm::EdDSA {
            return Verdict::Invalid;
        }
        let ring = self.ring();
        let Some(key) = ring.find(&kid) else {
            return Verdict::UnknownKey(kid);
        };
        if !key.live_at(now) {
            return Verdict::Invalid;
        }
        match jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation) {
            Ok(data) => Verdict::Valid(data.claims),
            Err(_) => Verdict::Invalid,
        }
    }

    /// Whether the stored keys should be re-read at `now` for `why`; never
    /// for a key file.
    pub fn reload_due(&self, why: &Reload, now: i64) -> bool {
        if !self.stored {
            return false;
        }
        let age = now.abs_diff(self.loaded_at.load(Ordering::Acquire));
        match why {
            Reload::Periodic => age >= RELOAD_EVERY_SECS,
            Reload::UnknownKey(kid) => {
                age >= UNKNOWN_KEY_RELOAD_SECS
                    && kid.len() <= MAX_KID_LEN
                    && self.ring().find(kid).is_none()
            }
        }
    }

    /// Held while re-reading the stored keys: a caller that waited for it
    /// asks [`JwtKeys::reload_due`] again before reading.
    pub fn reloading(&self) -> MutexGuard<'_, ()> {
        self.reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts the stored keys (newest first) as read at `now` in force.
    pub fn install(&self, keys: &[StoredKey], now: i64) -> Result<(), KeyError> {
        let ring = Arc::new(Ring::stored(keys, self.grace, now)?);
        *self.ring.write().unwrap_or_else(PoisonError::into_inner) = ring;
        self.loaded_at.store(now, Ordering::Release);
        Ok(())
    }
}

/// A new Ed25519 key as PKCS#8 PEM.
pub fn generate_pem() -> String {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    key.to_pkcs8_pem(Default::default())
        .expect("encoding a fresh key cannot fail")
        .to_string()
}

/// The `kid` tokens signed with this PEM key carry.
pub fn kid_of(pem: &str) -> Result<String, KeyError> {
    Key::parse(pem, None)
        .map(|key| key.kid)
        .map_err(KeyError::Stored)
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests;
