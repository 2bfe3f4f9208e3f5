//! Signing secrets at rest: sealed (`auth::sealing`) under a key derived
//! from `ROSTER_WEBHOOK_SEALING_KEY`, or, when that is unset, from a random
//! key made at first use and kept in the `sealing_keys` table. Each sealed
//! secret is bound to its endpoint's id.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use secrecy::ExposeSecret;
use time::PrimitiveDateTime;

use crate::auth::sealing::{derive, SealError, Sealer};
use crate::config::WebhookSettings;
use crate::db::{webhooks, DbConnection};

const KEY_NAME: &str = "webhook_secrets";
const SALT: &[u8] = b"roster webhook secrets";
const SEAL_INFO: &[u8] = b"roster webhook secret seal v1";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// The sealer of webhook secrets, making the stored key on first use.
pub fn sealer(
    conn: &mut DbConnection,
    settings: &WebhookSettings,
    now: PrimitiveDateTime,
) -> Result<Sealer, SecretsError> {
    let material = match &settings.sealing_key {
        Some(key) => key.expose_secret().to_string(),
        None => webhooks::sealing_key(conn, KEY_NAME, &fresh_key(), now)?,
    };
    Ok(Sealer::new(derive(SALT, material.as_bytes(), SEAL_INFO)?))
}

fn fresh_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn seal(sealer: &Sealer, endpoint_id: &str, secret: &str) -> Result<String, SealError> {
    sealer.seal(secret.as_bytes(), endpoint_id.as_bytes())
}

pub fn open(sealer: &Sealer, endpoint_id: &str, stored: &str) -> Result<String, SealError> {
    let plain = sealer.open(stored, endpoint_id.as_bytes())?;
    String::from_utf8(plain).map_err(|_| SealError::new("a sealed secret is not text"))
}
