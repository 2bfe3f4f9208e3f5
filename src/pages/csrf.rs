//! Form tokens against cross-site posting (a signed double-submit cookie).
//!
//! A page that shows a form sets a random nonce in a `SameSite=Strict`,
//! `HttpOnly` cookie and puts `HMAC-SHA256(nonce, action)` in the form,
//! where the action names what the form does and, for a link's form, the
//! link's own token (`activate:<token>`). A post counts only when the field
//! matches its cookie and its action: another site can neither read the
//! cookie nor make the browser send it, and a field taken from one link's
//! form is worthless for another link. No server secret is needed, so any
//! instance checks a form any other served.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The cookie's name; `__Host-` (which browsers honour only over HTTPS) on
/// a secure origin.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-roster_form"
    } else {
        "roster_form"
    }
}

/// How long a form stays usable after its page was shown.
pub const COOKIE_MAX_AGE_SECS: u64 = 2 * 60 * 60;

/// A fresh nonce for the cookie.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether a cookie value looks like a nonce this module made (so that a
/// page may keep it rather than replace it, and other tabs keep working).
pub fn is_nonce(value: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(value)
        .is_ok_and(|bytes| bytes.len() == 32)
}

/// The form field for `action` under `nonce`.
pub fn form_token(nonce: &str, action: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(nonce, action).finalize().into_bytes())
}

/// Whether `presented` is the form field for `action` under `nonce`
/// (compared in constant time).
pub fn verify(nonce: &str, action: &str, presented: &str) -> bool {
    if !is_nonce(nonce) {
        return false;
    }
    let Ok(tag) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    mac(nonce, action).verify_slice(&tag).is_ok()
}

fn mac(nonce: &str, action: &str) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(nonce.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(action.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_token_holds_for_its_nonce_and_action_only() {
        let nonce = new_nonce();
        let field = form_token(&nonce, "activate:rat_A");
        assert!(verify(&nonce, "activate:rat_A", &field));
        assert!(!verify(&nonce, "activate:rat_B", &field));
        assert!(!verify(&nonce, "reset-password:rat_A", &field));
        assert!(!verify(&new_nonce(), "activate:rat_A", &field));
        assert!(!verify(&nonce, "activate:rat_A", ""));
        assert!(!verify(&nonce, "activate:rat_A", "not base64 !"));
    }

    #[test]
    fn only_a_nonce_of_the_right_shape_is_kept() {
        assert!(is_nonce(&new_nonce()));
        assert!(!is_nonce("short"));
        assert!(!is_nonce(""));
        assert!(!verify(
            "short",
            "forgot-password",
            &form_token("short", "forgot-password")
        ));
    }
}
