//! Rotating the signing key with `roster keys rotate` while the service
//! runs: new tokens use the new key, the old one keeps verifying (and stays
//! in the JWKS) until every token it signed has expired, and every instance
//! on the database agrees.

use std::process::{Command, Output};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use roster::clock::Clock;
use roster::startup::Application;
use serde_json::Value;

use crate::helpers::{
    expect_json, spawn_app, spawn_app_with, TestApp, Tokens, APP_URL, GOOD_PASSWORD,
};

/// `roster <args>` on the test's database, as an operator would run it.
async fn roster_cli(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ROSTER_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env("ROSTER_DATABASE_URL", &app.db.url)
        .env("ROSTER_APP_URL", APP_URL)
        .envs(env.iter().copied());
    tokio::task::spawn_blocking(move || command.output().expect("the roster binary runs"))
        .await
        .unwrap()
}

/// `roster keys rotate`, insisting on success.
async fn rotate(app: &TestApp) {
    let output = roster_cli(app, &["keys", "rotate"], &[]).await;
    assert!(
        output.status.success(),
        "roster keys rotate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_string()
}

/// The kids the JWKS at `address` publishes.
async fn published(app: &TestApp, address: &str) -> Vec<String> {
    let response = app
        .client
        .get(format!("{address}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let jwks = expect_json(response, StatusCode::OK).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn after_a_rotation_new_tokens_use_the_new_key_and_the_old_one_verifies_until_its_tokens_expire(
) {
    let app = spawn_app().await;
    app.active_member("pat@acme.test").await;
    let before = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    let old_kid = kid_of(&before.access_token());
    assert_eq!(published(&app, &app.address).await, [old_kid.as_str()]);

    rotate(&app).await;
    // The running instance picks the rotation up within a minute.
    app.clock.advance(Duration::from_secs(61));
    let after = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    let new_kid = kid_of(&after.access_token());
    assert_ne!(new_kid, old_kid);
    assert_eq!(
        published(&app, &app.address).await,
        [new_kid.as_str(), old_kid.as_str()]
    );
    // `kid` picks the key: tokens of both verify.
    for token in [before.access_token(), after.access_token()] {
        expect_json(app.me(&token).await, StatusCode::OK).await;
    }
    let refreshed =
        Tokens(expect_json(app.refresh(&after.refresh_token()).await, StatusCode::OK).await);
    assert_eq!(kid_of(&refreshed.access_token()), new_kid);

    // Until the old key's last token has expired, the JWKS keeps it.
    app.clock.advance(Duration::from_secs(13 * 60));
    expect_json(app.me(&before.access_token()).await, StatusCode::OK).await;
    assert!(published(&app, &app.address).await.contains(&old_kid));
    // Then it goes.
    app.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(published(&app, &app.address).await, [new_kid.as_str()]);
    let later = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    assert_eq!(kid_of(&later.access_token()), new_kid);
    expect_json(app.me(&later.access_token()).await, StatusCode::OK).await;
}

#[tokio::test]
async fn another_instance_on_the_database_accepts_the_new_keys_tokens_at_once() {
    let app = spawn_app().await;
    app.active_member("pat@acme.test").await;
    let mut settings = (*app.state.settings).clone();
    settings.bind = "127.0.0.1:0".parse().unwrap();
    // Its clock runs as the first one will once that is advanced below.
    let other_clock = Clock::default();
    other_clock.advance(Duration::from_secs(61));
    let other = Application::build_with_clock(settings, other_clock.clone())
        .await
        .unwrap();
    let other_address = format!("http://127.0.0.1:{}", other.port());
    tokio::spawn(other.run_until_stopped());
    let old_kid = kid_of(app.admin_token());
    assert_eq!(published(&app, &other_address).await, [old_kid.as_str()]);

    rotate(&app).await;
    app.clock.advance(Duration::from_secs(61));
    let tokens = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    let new_kid = kid_of(&tokens.access_token());
    assert_ne!(new_kid, old_kid);
    // The other instance read its keys before the rotation and is not due
    // to read them again for a minute, but a token naming a key it does not
    // know makes it look (at most once a second).
    other_clock.advance(Duration::from_secs(2));
    let me = app
        .client
        .get(format!("{other_address}/v1/me"))
        .bearer_auth(tokens.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        published(&app, &other_address).await,
        published(&app, &app.address).await
    );
}

#[tokio::test]
async fn with_a_key_file_rotate_refuses_and_the_file_key_keeps_signing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.key");
    std::fs::write(&path, roster::auth::jwt::generate_pem()).unwrap();
    let path = path.display().to_string();
    let app = spawn_app_with(&[("ROSTER_JWT_KEY_FILE", &path)]).await;
    let kids = published(&app, &app.address).await;
    assert_eq!(kids, [kid_of(app.admin_token())]);

    let output = roster_cli(&app, &["keys", "rotate"], &[("ROSTER_JWT_KEY_FILE", &path)]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ROSTER_JWT_KEY_FILE"), "{stderr}");

    app.clock.advance(Duration::from_secs(61));
    app.active_member("pat@acme.test").await;
    let tokens = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    assert_eq!([kid_of(&tokens.access_token())], kids.as_slice());
    assert_eq!(published(&app, &app.address).await, kids);
}
