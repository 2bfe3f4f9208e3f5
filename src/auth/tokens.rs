//! Opaque secrets (action tokens, refresh tokens, client secrets): 256 random
//! bits with a recognisable prefix, stored only as their SHA-256.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Action,
    Refresh,
    ClientSecret,
    Scim,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Action => "rat_",
            TokenKind::Refresh => "rrt_",
            TokenKind::ClientSecret => "rcs_",
            TokenKind::Scim => "rst_",
        }
    }
}

/// A freshly minted secret. Its `Debug` never shows the value.
pub struct PlainToken(String);

impl PlainToken {
    pub fn generate(kind: TokenKind) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        PlainToken(format!(
            "{}{}",
            kind.prefix(),
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(<redacted>)")
    }
}

/// The stored form of a presented token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `token` looks like one of ours of `kind` (cheap rejection of junk).
pub fn has_shape(token: &str, kind: TokenKind) -> bool {
    token.starts_with(kind.prefix()) && token.len() == kind.prefix().len() + 43
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_random_bits_and_their_prefix() {
        let a = PlainToken::generate(TokenKind::Action);
        let b = PlainToken::generate(TokenKind::Action);
        assert_ne!(a.expose(), b.expose());
        assert!(has_shape(a.expose(), TokenKind::Action));
        assert!(!has_shape(a.expose(), TokenKind::Refresh));
    }

    #[test]
    fn only_the_hash_is_stable_and_debug_is_redacted() {
        let token = PlainToken::generate(TokenKind::Refresh);
        assert_eq!(token.hash(), hash_token(token.expose()));
        assert_eq!(token.hash().len(), 64);
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
