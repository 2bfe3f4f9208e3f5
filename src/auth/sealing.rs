//! Sealing stored secrets: a key derived with HKDF-SHA-256 from input key
//! material, a salt and a purpose, and ChaCha20-Poly1305 with associated
//! data that binds the sealed value to where it is stored (so a value moved
//! to another row does not open). Stored as base64url of nonce and ciphertext.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

const NONCE_LEN: usize = 12;

/// Sealing or opening failed: a broken key derivation, or a stored value
/// that was altered (or belongs elsewhere).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SealError(&'static str);

impl SealError {
    pub fn new(why: &'static str) -> Self {
        SealError(why)
    }
}

/// HKDF-SHA-256 of `material` salted with `salt`, expanded for `info`.
pub fn derive(salt: &[u8], material: &[u8], info: &[u8]) -> Result<[u8; 32], SealError> {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), material)
        .expand(info, &mut out)
        .map_err(|_| SealError("cannot derive a key"))?;
    Ok(out)
}

/// A sealing key.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Sealer {
            cipher: ChaCha20Poly1305::new(&key.into()),
        }
    }

    /// `plain` sealed and bound to `aad`.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<String, SealError> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| SealError("cannot seal"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(stored))
    }

    /// What [`Sealer::seal`] sealed under the same key and `aad`.
    pub fn open(&self, stored: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let broken = SealError("a sealed value does not open");
        let bytes = URL_SAFE_NO_PAD.decode(stored).map_err(|_| broken)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError("a sealed value does not open"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| SealError("a sealed value does not open"))?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad })
            .map_err(|_| SealError("a sealed value does not open"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_binding() {
        let sealer = Sealer::new(derive(b"salt", b"material", b"purpose").unwrap());
        let stored = sealer.seal(b"whsec_secret", b"row-1").unwrap();
        assert!(!stored.contains("whsec"));
        assert_eq!(sealer.open(&stored, b"row-1").unwrap(), b"whsec_secret");
        assert!(sealer.open(&stored, b"row-2").is_err());
        let other = Sealer::new(derive(b"salt", b"material", b"other purpose").unwrap());
        assert!(other.open(&stored, b"row-1").is_err());
        assert!(sealer.open("short", b"row-1").is_err());
    }
}
