//! The test harness: the real app on port 0 with a fresh database per test.
//!
//! Without `TEST_DATABASE_URL` each test gets a temporary SQLite file; with
//! `TEST_DATABASE_URL=postgres://…` each test gets its own PostgreSQL
//! database, dropped when the test ends.

// Each test module uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use roster::clock::Clock;
use roster::config::Settings;
use roster::db::outbox::{self, OutboxFilter, OutboxRow};
use roster::startup::Application;
use roster::state::AppState;
use serde_json::{json, Value};

pub const ADMIN_EMAIL: &str = "root@roster.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const APP_URL: &str = "https://app.roster.test";
/// A password every test user may use.
pub const GOOD_PASSWORD: &str = "violet tugboat arithmetic";

pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => Self::postgres(admin_url),
            _ => Self::sqlite(),
        }
    }

    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = dir.path().join("roster.db").display().to_string();
        TestDatabase {
            url,
            postgres: None,
            _dir: Some(dir),
        }
    }

    fn postgres(admin_url: String) -> Self {
        let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
            panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create the test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        TestDatabase {
            url: format!("{base}/{name}"),
            postgres: Some((admin_url.clone(), name)),
            _dir: None,
        }
    }

    /// Runs SQL as the PostgreSQL superuser (fault injection).
    pub fn admin_sql(&self, sql: &str) {
        let (admin_url, _) = self.postgres.as_ref().expect("a PostgreSQL test");
        let mut admin = PgConnection::establish(admin_url).expect("admin connection");
        diesel::sql_query(sql)
            .execute(&mut admin)
            .expect("admin SQL");
    }

    pub fn name(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, name)| name.as_str())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

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

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

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

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/auth/token` with a form body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/v1/auth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn password_grant(&self, email: &str, password: &str) -> Response {
        self.token_request(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .await
    }

    /// Signs in and insists on success.
    pub async fn sign_in(&self, email: &str, password: &str) -> Tokens {
        let response = self.password_grant(email, password).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "sign-in of {email} failed: {body}");
        Tokens(body)
    }

    /// Every outbox row, newest first.
    pub async fn outbox(&self) -> Vec<OutboxRow> {
        self.state
            .db
            .run(|conn| Ok(outbox::list(conn, &OutboxFilter::default(), None, 1000)?))
            .await
            .unwrap()
    }

    /// The newest queued email of `kind` to `recipient`.
    pub async fn last_email(&self, kind: &str, recipient: &str) -> OutboxRow {
        self.outbox()
            .await
            .into_iter()
            .find(|row| row.kind == kind && row.recipient.eq_ignore_ascii_case(recipient))
            .unwrap_or_else(|| panic!("no {kind} email to {recipient}"))
    }

    /// The token in the newest `kind` email's link to `recipient`.
    pub async fn token_from_email(&self, kind: &str, recipient: &str) -> String {
        let email = self.last_email(kind, recipient).await;
        link_token(&email.text_body)
            .unwrap_or_else(|| panic!("no link in {kind} email: {}", email.text_body))
    }
}

/// Pulls `token=…` out of an email body.
pub fn link_token(body: &str) -> Option<String> {
    let start = body.find("token=")? + "token=".len();
    Some(
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect(),
    )
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
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = expect_json(response, status).await;
    assert_eq!(content_type, "application/problem+json", "body: {body}");
    assert_eq!(body["code"], json!(code), "body: {body}");
    assert_eq!(body["status"], json!(status.as_u16()));
    body
}

// Admin helpers for the customers, users, authorization, idempotency and
// audit tests.

/// Every field of a user, in User Info and in both user lists.
pub const USER_FIELDS: [&str; 15] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "job_title",
    "status",
    "locked",
    "locked_at",
    "platform_role",
    "invited_at",
    "activated_at",
    "last_login_at",
    "retired_at",
    "created_at",
    "updated_at",
];

/// An add-user body for a new person.
pub fn new_person(email: &str) -> Value {
    json!({"email": email, "first_name": "Pat", "last_name": "Lee"})
}

/// A response header as text ("" when absent).
pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The `id` of a JSON object.
pub fn id_of(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

/// The `field` of every error in a 422 problem.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The `items` of a list page.
pub fn items(page: &Value) -> &Vec<Value> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
}

/// `key` of every item of a list page, as text.
pub fn item_strings(page: &Value, key: &str) -> Vec<String> {
    items(page)
        .iter()
        .map(|item| item[key].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Whether `value` is an RFC 3339 timestamp.
pub fn is_timestamp(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

impl TestApp {
    /// `POST /v1/customers` as the platform admin; asserts 201.
    pub async fn create_customer(&self, name: &str, seats: Option<i32>) -> Value {
        let response = self
            .post_json(
                "/v1/customers",
                Some(self.admin_token()),
                &json!({"name": name, "licensed_seats": seats}),
            )
            .await;
        expect_json(response, StatusCode::CREATED).await
    }

    /// `POST /v1/customers/{cid}/users` with `body`.
    pub async fn add_user(&self, cid: &str, body: &Value, token: &str) -> Response {
        self.post_json(&format!("/v1/customers/{cid}/users"), Some(token), body)
            .await
    }

    /// Adds a new person as the platform admin; asserts 201 and returns the user id.
    pub async fn add_new_user(&self, cid: &str, email: &str, role: &str) -> String {
        let mut body = new_person(email);
        body["role"] = json!(role);
        let response = self.add_user(cid, &body, self.admin_token()).await;
        id_of(&expect_json(response, StatusCode::CREATED).await)
    }

    /// Adds a new person and redeems their activation email; returns (user id, access token).
    pub async fn invite_and_activate(
        &self,
        cid: &str,
        email: &str,
        role: &str,
    ) -> (String, String) {
        let user_id = self.add_new_user(cid, email, role).await;
        let token = self.token_from_email("activation", email).await;
        let response = self
            .post_json(
                "/v1/auth/activate",
                None,
                &json!({"token": token, "password": GOOD_PASSWORD}),
            )
            .await;
        (
            user_id,
            Tokens(expect_json(response, StatusCode::OK).await).access_token(),
        )
    }

    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send_json(Method::PATCH, path, token, body).await
    }

    /// `PUT /v1/users/{uid}/status` with `body`.
    pub async fn put_status(&self, uid: &str, body: &Value, token: &str) -> Response {
        self.send_json(
            Method::PUT,
            &format!("/v1/users/{uid}/status"),
            Some(token),
            body,
        )
        .await
    }

    /// A bodiless `POST`.
    pub async fn post_empty(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::POST, path, token)
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

    /// How many queued emails of `kind` went to `recipient`.
    pub async fn count_emails(&self, kind: &str, recipient: &str) -> usize {
        self.outbox()
            .await
            .iter()
            .filter(|row| row.kind == kind && row.recipient.eq_ignore_ascii_case(recipient))
            .count()
    }

    /// Audit events matching `query` (e.g. `action=user.updated`), as the platform admin.
    pub async fn audit_events(&self, query: &str) -> Vec<Value> {
        let page = self.admin_get(&format!("/v1/audit-events?{query}")).await;
        items(&page).clone()
    }

    /// A second active platform admin (as `roster admin create` makes one); returns its token.
    pub async fn another_platform_admin(&self, email: &str) -> String {
        roster::service::bootstrap::create_admin(
            &self.state,
            email,
            Some(secrecy::SecretString::from(GOOD_PASSWORD)),
        )
        .await
        .expect("a second platform admin");
        self.sign_in(email, GOOD_PASSWORD).await.access_token()
    }

    /// The id of the user behind `token`.
    pub async fn my_id(&self, token: &str) -> String {
        id_of(&expect_json(self.get("/v1/me", Some(token)).await, StatusCode::OK).await)
    }
}
