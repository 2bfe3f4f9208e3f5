//! Signing in as the bootstrap admin and using the token.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    expect_json, expect_problem, spawn_app, spawn_app_with, ADMIN_EMAIL, ADMIN_PASSWORD,
};

#[tokio::test]
async fn the_bootstrap_admin_signs_in_and_reads_me() {
    let app = spawn_app().await;
    let response = app.password_grant(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens = expect_json(response, StatusCode::OK).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("rrt_"));
    let me = expect_json(
        app.get("/v1/me", tokens["access_token"].as_str()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["platform_role"], "admin");
    assert_eq!(me["status"], "active");
}

#[tokio::test]
async fn sign_in_accepts_json_as_well_as_a_form() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/auth/token",
            None,
            &json!({"grant_type": "password", "username": "ROOT@roster.test", "password": ADMIN_PASSWORD}),
        )
        .await;
    expect_json(response, StatusCode::OK).await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_answer_the_same() {
    let app = spawn_app().await;
    let wrong = expect_json(
        app.password_grant(ADMIN_EMAIL, "not the password").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let unknown = expect_json(
        app.password_grant("nobody@roster.test", "not the password")
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"], "invalid_grant");
    assert!(wrong.get("code").is_none());
}

#[tokio::test]
async fn an_unsupported_grant_type_is_an_oauth_error() {
    let app = spawn_app().await;
    let body = expect_json(
        app.token_request(&[("grant_type", "implicit")]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn a_forged_token_is_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().to_string();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let forged = parts.join(".");
    expect_problem(
        app.me(&forged).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.me("garbage").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn the_jwks_publishes_the_key_that_signs_tokens() {
    let app = spawn_app().await;
    let jwks = expect_json(
        app.get("/.well-known/jwks.json", None).await,
        StatusCode::OK,
    )
    .await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    let header = app.admin_token().split('.').next().unwrap().to_string();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "EdDSA");
}

#[tokio::test]
async fn sessions_survive_a_restart_because_the_key_is_kept() {
    let app = spawn_app().await;
    let jwks_before = expect_json(
        app.get("/.well-known/jwks.json", None).await,
        StatusCode::OK,
    )
    .await;
    let settings = roster::config::Settings::from_pairs(&[
        ("ROSTER_DATABASE_URL", &app.db.url),
        ("ROSTER_BIND", "127.0.0.1:0"),
        ("ROSTER_APP_URL", crate::helpers::APP_URL),
        ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL),
    ])
    .unwrap();
    let second = roster::startup::Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    let me = app
        .client
        .get(format!("{address}/v1/me"))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let jwks_after: serde_json::Value = app
        .client
        .get(format!("{address}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_before, jwks_after);
}

#[tokio::test]
async fn without_bootstrap_settings_an_invited_admin_gets_a_working_link() {
    let app = spawn_app_with(&[
        ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", ""),
        ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", ""),
    ])
    .await;
    let state = app.state.clone();
    let settings = (*state.settings).clone();
    // A restart while the admin is still invited prints a fresh link.
    let restarted = roster::startup::Application::build(roster::config::Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..settings
    })
    .await
    .unwrap();
    let roster::service::bootstrap::Bootstrap::Invited { email, link } = restarted.bootstrap()
    else {
        panic!("expected an invited admin");
    };
    assert_eq!(email, "admin@localhost");
    assert!(link.starts_with("https://app.roster.test/activate?token=rat_"));
    let token = link.rsplit("token=").next().unwrap();
    let info = expect_json(app.action_token(token).await, StatusCode::OK).await;
    assert_eq!(info["purpose"], "activation");
    assert_eq!(info["email"], "admin@localhost");
    let tokens = expect_json(
        app.activate_account(token, crate::helpers::GOOD_PASSWORD)
            .await,
        StatusCode::OK,
    )
    .await;
    let me = expect_json(
        app.get("/v1/me", tokens["access_token"].as_str()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["platform_role"], "admin");
    assert_eq!(me["status"], "active");
}

#[tokio::test]
async fn a_bootstrap_password_that_breaks_the_policy_stops_start_up() {
    let db = crate::helpers::TestDatabase::create();
    let settings = roster::config::Settings::from_pairs(&[
        ("ROSTER_DATABASE_URL", &db.url),
        ("ROSTER_BIND", "127.0.0.1:0"),
        ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", "boss@roster.test"),
        ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", "password1234"),
    ])
    .unwrap();
    let Err(err) = roster::startup::Application::build(settings).await else {
        panic!("start-up should fail");
    };
    assert!(
        err.to_string().contains("ROSTER_BOOTSTRAP_ADMIN_PASSWORD"),
        "{err}"
    );
}
