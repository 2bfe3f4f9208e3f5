//! Signing, verifying and rotating access-token keys.

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
    assert_eq!(header.kid, Some(keys.kid()));
    assert_eq!(keys.jwks(now()).keys[0].kid, keys.kid());
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
    let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, keys.kid()));
    parts[0] = &none_header;
    parts[2] = "";
    assert_eq!(keys.verify(&parts.join("."), now()), None);
}

const TTL: std::time::Duration = std::time::Duration::from_secs(900);

/// Two stored keys, the newer added at `rotated`.
fn rotated_keys(rotated: i64, now: i64) -> (JwtKeys, Vec<StoredKey>) {
    let stored = vec![
        StoredKey {
            pem: generate_pem(),
            created_at: rotated,
        },
        StoredKey {
            pem: generate_pem(),
            created_at: rotated - 86_400,
        },
    ];
    let keys = JwtKeys::stored(&stored, "https://roster.test", TTL, now).unwrap();
    (keys, stored)
}

#[test]
fn the_newest_stored_key_signs_and_the_kid_picks_the_key_that_verifies() {
    let t = now();
    let (keys, stored) = rotated_keys(t, t);
    let old = JwtKeys::from_pem(&stored[1].pem, "https://roster.test").unwrap();
    let new = JwtKeys::from_pem(&stored[0].pem, "https://roster.test").unwrap();
    assert_eq!(keys.kid(), new.kid());
    let old_token = old.sign(&claims(t));
    assert!(keys.verify(&old_token, t).is_some());
    assert!(keys.verify(&keys.sign(&claims(t)), t).is_some());
    let kids: Vec<String> = keys.jwks(t).keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, [new.kid(), old.kid()]);
    // The old key's signature under the new key's kid does not pass.
    let (_, rest) = old_token.split_once('.').unwrap();
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"typ":"at+jwt","alg":"EdDSA","kid":"{}"}}"#,
        new.kid()
    ));
    assert_eq!(keys.verify(&format!("{header}.{rest}"), t), None);
}

#[test]
fn a_superseded_key_verifies_and_is_published_until_its_grace_ends() {
    let t = now();
    let (keys, stored) = rotated_keys(t, t);
    let old = JwtKeys::from_pem(&stored[1].pem, "https://roster.test").unwrap();
    let grace = grace_secs(TTL);
    assert_eq!(grace, 900 + 60 + 5);
    // A token the old key signed just before the rotation was noticed.
    let mut late = claims(t + 59);
    late.exp = t + 59 + 900;
    let token = old.sign(&late);
    // Its last valid second (the leeway) lies within the grace.
    assert!(keys.verify(&token, late.exp + 4).is_some());
    assert!(late.exp + 4 < t + grace);
    assert_eq!(keys.jwks(t + grace - 1).keys.len(), 2);
    assert_eq!(keys.jwks(t + grace).keys.len(), 1);
    assert_eq!(keys.check(&token, t + grace), Verdict::Invalid);
    // Read after its grace, the old key is not loaded at all.
    let later = JwtKeys::stored(&stored, "https://roster.test", TTL, t + grace).unwrap();
    assert_eq!(later.jwks(t + grace).keys.len(), 1);
    assert_eq!(
        later.check(&old.sign(&claims(t + grace)), t + grace),
        Verdict::UnknownKey(old.kid())
    );
}

#[test]
fn stored_keys_are_due_for_a_reload_every_minute_or_on_an_unknown_kid() {
    let t = now();
    let (keys, stored) = rotated_keys(t, t);
    let unknown = Reload::UnknownKey(kid_of(&generate_pem()).unwrap());
    assert!(!keys.reload_due(&Reload::Periodic, t + 59));
    assert!(keys.reload_due(&Reload::Periodic, t + 60));
    assert!(!keys.reload_due(&unknown, t));
    assert!(keys.reload_due(&unknown, t + 1));
    assert!(!keys.reload_due(&Reload::UnknownKey(keys.kid()), t + 1));
    assert!(!keys.reload_due(&Reload::UnknownKey("k".repeat(65)), t + 1));
    keys.install(&stored, t + 60).unwrap();
    assert!(!keys.reload_due(&Reload::Periodic, t + 60));
    // A key file never reloads.
    let fixed = JwtKeys::from_pem(&stored[0].pem, "https://roster.test").unwrap();
    assert!(!fixed.reload_due(&Reload::Periodic, t + 3600));
    assert!(!fixed.is_stored());
}

#[test]
fn an_empty_store_is_an_error() {
    assert!(matches!(
        JwtKeys::stored(&[], "https://roster.test", TTL, now()),
        Err(KeyError::Missing)
    ));
}
