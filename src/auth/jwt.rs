//! EdDSA (Ed25519) access tokens and the JWKS that publishes their key.
//!
//! The key comes from `ROSTER_JWT_KEY_FILE` (PKCS#8 PEM) or, without it, is
//! generated once and kept in the database, so restarts and every instance
//! behind a load balancer share it.

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

pub struct JwtKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    jwk: Jwk,
    issuer: String,
    verified: quick_cache::sync::Cache<String, Claims>,
}

impl JwtKeys {
    pub fn from_pem(pem: &str, issuer: &str) -> Result<Self, KeyError> {
        let signing =
            SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Parse(e.to_string()))?;
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        let kid = thumbprint(&x);
        let encoding =
            EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| KeyError::Parse(e.to_string()))?;
        let decoding =
            DecodingKey::from_ed_components(&x).map_err(|e| KeyError::Parse(e.to_string()))?;
        // `exp` and `nbf` are checked against the service clock in `verify`
        // (tests shift it); the library still insists they are present.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[TOKEN_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(JwtKeys {
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
            validation,
            issuer: issuer.to_string(),
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
        })
    }

    pub fn from_file(path: &std::path::Path, issuer: &str) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
            path: path.display().to_string(),
            cause: e.to_string(),
        })?;
        Self::from_pem(&pem, issuer)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("signing with a parsed Ed25519 key cannot fail")
    }

    /// Checks signature, algorithm, `kid`, `iss`, `aud`, and `exp`/`nbf`
    /// against `now` (Unix seconds) with a 5 s leeway.
    pub fn verify(&self, token: &str, now: i64) -> Option<Claims> {
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims = self.verify_signed(token)?;
                self.verified.insert(token.to_string(), claims.clone());
                claims
            }
        };
        let leeway = LEEWAY_SECS as i64;
        (now < claims.exp + leeway && claims.nbf <= now + leeway).then_some(claims)
    }
}

impl JwtKeys {
    /// Everything about the token that cannot change: signature, algorithm,
    /// `kid`, `iss`, `aud` and the presence of the required claims.
    fn verify_signed(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.kid.as_str()) {
            return None;
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// A new Ed25519 key as PKCS#8 PEM.
pub fn generate_pem() -> String {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    key.to_pkcs8_pem(Default::default())
        .expect("encoding a fresh key cannot fail")
        .to_string()
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::from_pem(&generate_pem(), "https://roster.test").unwrap()
    }

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "https://roster.test".into(),
            aud: TOKEN_AUDIENCE.into(),
            sub: "u1".into(),
            exp: now + 900,
            nbf: now,
            iat: now,
            jti: "j".into(),
            sv: 3,
            client_id: None,
        }
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn a_signed_token_verifies_and_names_its_key() {
        let keys = keys();
        let token = keys.sign(&claims(now()));
        assert_eq!(keys.verify(&token, now()), Some(claims_of(&token, &keys)));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(keys.kid()));
        assert_eq!(keys.jwks().keys[0].kid, keys.kid());
    }

    fn claims_of(token: &str, keys: &JwtKeys) -> Claims {
        keys.verify(token, now()).unwrap()
    }

    #[test]
    fn another_keys_token_is_rejected() {
        let token = keys().sign(&claims(now()));
        assert_eq!(keys().verify(&token, now()), None);
    }

    #[test]
    fn expired_future_and_foreign_tokens_are_rejected() {
        let keys = keys();
        let mut expired = claims(now() - 1000);
        expired.exp = now() - 90;
        assert_eq!(keys.verify(&keys.sign(&expired), now()), None);
        let mut early = claims(now());
        early.nbf = now() + 90;
        assert_eq!(keys.verify(&keys.sign(&early), now()), None);
        let mut foreign = claims(now());
        foreign.aud = "someone-else".into();
        assert_eq!(keys.verify(&keys.sign(&foreign), now()), None);
        let mut wrong_issuer = claims(now());
        wrong_issuer.iss = "https://evil.test".into();
        assert_eq!(keys.verify(&keys.sign(&wrong_issuer), now()), None);
    }

    #[test]
    fn the_leeway_is_five_seconds() {
        let keys = keys();
        let token = keys.sign(&claims(now()));
        let exp = now() + 900;
        assert!(keys.verify(&token, exp + 4).is_some());
        assert!(keys.verify(&token, exp + 5).is_none());
        assert!(keys.verify(&token, now() - 5).is_some());
        assert!(keys.verify(&token, now() - 10).is_none());
    }

    #[test]
    fn a_remembered_token_still_expires_and_its_forgeries_do_not_pass() {
        let keys = keys();
        let token = keys.sign(&claims(now()));
        assert!(keys.verify(&token, now()).is_some());
        assert!(keys.verify(&token, now()).is_some(), "from the cache");
        assert!(keys.verify(&token, now() + 905).is_none(), "expired");
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{signed}.{flipped}{}", &signature[1..]);
        assert!(keys.verify(&forged, now()).is_none());
        let mut payload = claims(now());
        payload.sub = "u2".into();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
        let header = signed.split('.').next().unwrap();
        assert!(keys
            .verify(&format!("{header}.{body}.{signature}"), now())
            .is_none());
    }

    #[test]
    fn an_unsigned_token_is_rejected() {
        let keys = keys();
        let token = keys.sign(&claims(now()));
        let mut parts: Vec<&str> = token.split('.').collect();
        let none_header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, keys.kid()));
        parts[0] = &none_header;
        parts[2] = "";
        assert_eq!(keys.verify(&parts.join("."), now()), None);
    }
}
