//! The test harness and the one vocabulary the tests speak to the app in.
//!
//! Every test spawns the real app on port 0 with a fresh database
//! ([`TestDatabase`]: SQLite by default, PostgreSQL with `TEST_DATABASE_URL`).
//!
//! - this file: spawning the app, raw requests, and reading answers
//!   ([`expect_json`], [`expect_problem`]);
//! - `helpers/endpoints.rs`: one typed method per endpoint. It takes the
//!   caller's token first, then the path's ids, then the body, and returns
//!   the raw response, so a test can assert any answer:
//!   `app.add_customer_user(&token, &cid, &body)`;
//! - `helpers/scenarios.rs`: building blocks that act as the platform admin
//!   and insist on success (`app.customer("Acme", None)`,
//!   `app.invite_and_activate(…)`, `app.admin_set_status(&uid, "retired")`),
//!   and what a test reads back (the outbox, audit events, User Info);
//! - `helpers/json.rs`: reading bodies (ids, list items, 422 fields);
//! - `helpers/database.rs`: the per-test database.
//!
//! `tests/process.rs` includes this file too, so the submodules are named by
//! explicit paths.

// Each test module (and `tests/process.rs`) uses a different subset.
#![allow(dead_code)]

#[path = "helpers/database.rs"]
mod database;
#[path = "helpers/endpoints.rs"]
mod endpoints;
#[path = "helpers/json.rs"]
mod json;
#[path = "helpers/scenarios.rs"]
mod scenarios;

pub use database::TestDatabase;
pub use json::*;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use roster::clock::Clock;
use roster::config::Settings;
use roster::startup::Application;
use roster::state::AppState;
use serde_json::{json, Value};

pub const ADMIN_EMAIL: &str = "root@roster.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const APP_URL: &str = "https://app.roster.test";
/// A password every test user may use.
pub const GOOD_PASSWORD: &str = "violet tugboat arithmetic";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub clock: Clock,
    pub db: TestDatabase,
    admin_token: String,
}

/// Spawns the app with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns the app; `overrides` replace the default test settings.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let db = TestDatabase::create();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("ROSTER_DATABASE_URL", &db.url),
        ("ROSTER_DATABASE_POOL_SIZE", "4"),
        ("ROSTER_DATABASE_TIMEOUT", "1s"),
        ("ROSTER_BIND", "127.0.0.1:0"),
        ("ROSTER_WORKERS", "1"),
        ("ROSTER_APP_URL", APP_URL),
        ("ROSTER_PRODUCT_NAME", "Utility Bill Management"),
        ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL),
        ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("ROSTER_HASH_CONCURRENCY", "2"),
        ("ROSTER_AUTH_RATE_LIMIT", "0"),
        ("ROSTER_MAIL_WORKER", "off"),
    ];
    for (key, value) in overrides {
        pairs.retain(|(k, _)| k != key);
        pairs.push((key, value));
    }
    let settings = Settings::from_pairs(&pairs).expect("valid test settings");
    let clock = Clock::default();
    let app = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut app = TestApp {
        address,
        client,
        state,
        clock,
        db,
        admin_token: String::new(),
    };
    if overrides
        .iter()
        .all(|(k, _)| *k != "ROSTER_BOOTSTRAP_ADMIN_PASSWORD")
    {
        app.admin_token = app
            .sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .access_token();
    }
    app
}

/// A token response, read loosely so tests can inspect failures too.
pub struct Tokens(pub Value);

impl Tokens {
    pub fn access_token(&self) -> String {
        self.0["access_token"]
            .as_str()
            .expect("an access token")
            .to_string()
    }

    pub fn refresh_token(&self) -> String {
        self.0["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_string()
    }
}

/// Raw requests, for what no typed helper says better (odd headers, bodies
/// that are not JSON, anonymous calls).
impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The bootstrap platform admin's access token.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token).send().await.unwrap()
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Response {
        self.request(method, path, token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send_json(Method::POST, path, token, body).await
    }

    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send_json(Method::PATCH, path, token, body).await
    }

    /// A bodiless `POST`.
    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::POST, path, token)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token)
            .send()
            .await
            .unwrap()
    }

    /// `GET` as the platform admin; asserts 200.
    pub async fn admin_get(&self, path: &str) -> Value {
        expect_json(
            self.get(path, Some(self.admin_token())).await,
            StatusCode::OK,
        )
        .await
    }
}

/// `path`, with `query` (without its `?`) when there is one.
fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// Reads a response as JSON, asserting its status first (and showing the body if not).
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }
}

/// Asserts a problem+json response with `status` and `code`; returns the body.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
    let content_type = header(&response, "content-type");
    let body = expect_json(response, status).await;
    assert_eq!(content_type, "application/problem+json", "body: {body}");
    assert_eq!(body["code"], json!(code), "body: {body}");
    assert_eq!(body["status"], json!(status.as_u16()));
    body
}
