//! Outbound email end to end: the real app and database, a fake Postmark, and
//! delivery workers the test starts and stops itself (`ROSTER_MAIL_WORKER=off`
//! keeps the app's own worker out of the way) or the app's own worker; and
//! an admin re-queueing a failed email (`/v1/email-deliveries`).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roster::db::outbox::{self, OutboxRow};
use roster::email::providers::Mailer;
use roster::email::worker::DeliveryWorker;
use roster::email::{EmailKind, Message};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{expect_json, link_token, spawn_app_with, TestApp, ADMIN_EMAIL, APP_URL};

/// How long a test waits for something the worker does (real time).
const PATIENCE: Duration = Duration::from_secs(20);

/// An app sending as Postmark to `server`, polling every 50 ms, with its own
/// worker off (tests start theirs) and a 2 s provider timeout.
async fn app_sending_to(server: &MockServer) -> TestApp {
    app_sending_with(server, "off", "2s").await
}

/// An app sending as Postmark to `server`, polling every 50 ms, with its own
/// worker `on` or `off` and a provider timeout of `timeout`.
async fn app_sending_with(server: &MockServer, worker: &str, timeout: &str) -> TestApp {
    spawn_app_with(&[
        ("ROSTER_MAIL_PROVIDER", "postmark"),
        ("ROSTER_MAIL_API_URL", &server.uri()),
        ("ROSTER_MAIL_API_KEY", "test-key"),
        ("ROSTER_MAIL_POLL_INTERVAL", "50ms"),
        ("ROSTER_MAIL_TIMEOUT", timeout),
        ("ROSTER_MAIL_WORKER", worker),
    ])
    .await
}

/// A worker started by the test, stopped by it.
struct Worker {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

fn start_worker(app: &TestApp) -> Worker {
    let (stop, stopped) = watch::channel(false);
    let handle = DeliveryWorker::spawn(
        app.state.db.clone(),
        Mailer::new(&app.state.settings.mail),
        app.state.settings.mail.clone(),
        app.clock.clone(),
        stopped,
    );
    Worker { stop, handle }
}

impl Worker {
    /// Signals shutdown and waits for the worker to finish what it started.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(PATIENCE, self.handle)
            .await
            .expect("the worker stops")
            .expect("the worker did not panic");
    }
}

fn accepted(message_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "To": "someone", "SubmittedAt": "2026-11-22T10:00:00Z",
        "MessageID": message_id, "ErrorCode": 0, "Message": "OK"
    }))
}

/// Queues an activation email to `to` whose link carries a fresh token.
async fn queue(app: &TestApp, to: &str) -> String {
    let (state, to) = (app.state.clone(), to.to_string());
    let token = format!("rat_{}", uuid::Uuid::new_v4().simple());
    app.state
        .write(move |conn, _| {
            let message = Message {
                kind: EmailKind::Activation,
                to,
                context: json!({
                    "recipient_name": "Pat",
                    "link": format!("{APP_URL}/activate?token={token}"),
                    "expires_hours": 48,
                    "customer_name": "Acme",
                }),
                user_id: None,
                customer_id: None,
            };
            Ok(roster::email::enqueue(
                conn,
                &state.templates,
                message,
                state.clock.now_db(),
            )?)
        })
        .await
        .unwrap()
}

async fn row(app: &TestApp, id: &str) -> OutboxRow {
    let id = id.to_string();
    app.state
        .read(move |conn, _| Ok(outbox::find(conn, &id)?.expect("the outbox row")))
        .await
        .unwrap()
}

/// Waits until the row satisfies `done`, and returns it.
async fn row_when(
    app: &TestApp,
    id: &str,
    what: &str,
    done: impl Fn(&OutboxRow) -> bool,
) -> OutboxRow {
    let started = Instant::now();
    loop {
        let current = row(app, id).await;
        if done(&current) {
            return current;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "email {id} never {what}: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn settled(app: &TestApp, id: &str, status: &str) -> OutboxRow {
    row_when(app, id, &format!("became {status}"), |r| {
        r.status.as_str() == status
    })
    .await
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

/// Lets the worker poll several times (50 ms each) without moving the clock.
async fn a_few_polls() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn seconds_between(earlier: time::PrimitiveDateTime, later: time::PrimitiveDateTime) -> f64 {
    (later - earlier).as_seconds_f64()
}

#[tokio::test]
async fn a_reset_email_is_delivered_once_and_its_token_does_not_stay_in_the_database() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/email"))
        .and(header("X-Postmark-Server-Token", "test-key"))
        .and(header("Accept", "application/json"))
        .respond_with(accepted("pm-reset-1"))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let worker = start_worker(&app);

    app.forgot_password(ADMIN_EMAIL).await;
    let started = Instant::now();
    let id = loop {
        if let Some(row) = app
            .outbox()
            .await
            .into_iter()
            .find(|r| r.kind == "password_reset")
        {
            break row.id;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "no password_reset email queued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let sent = settled(&app, &id, "sent").await;
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.provider_message_id.as_deref(), Some("pm-reset-1"));
    assert_eq!(sent.last_error, None);
    assert_eq!(sent.lease_owner, None);
    assert!(sent.sent_at.is_some());

    // The provider got the live link ...
    let received = requests(&server).await;
    assert_eq!(received.len(), 1);
    let body: Value = received[0].body_json().unwrap();
    assert_eq!(body["To"], ADMIN_EMAIL);
    assert_eq!(body["Tag"], "password_reset");
    assert_eq!(body["MessageStream"], "outbound");
    let text = body["TextBody"].as_str().unwrap();
    assert!(
        text.contains(&format!("{APP_URL}/reset-password?token=rat_")),
        "{text}"
    );
    let token = link_token(text).expect("a token in the sent link");
    assert!(body["HtmlBody"].as_str().unwrap().contains(&token));

    // ... the database keeps only a redacted copy.
    for stored in [&sent.text_body, &sent.html_body] {
        assert!(!stored.contains(&token), "{stored}");
        assert!(
            stored.contains("reset-password?token=[redacted]"),
            "{stored}"
        );
    }

    // Nothing is sent twice, however often the worker polls.
    app.clock.advance(Duration::from_secs(3600));
    a_few_polls().await;
    assert_eq!(requests(&server).await.len(), 1);
    worker.stop().await;
}

#[tokio::test]
async fn a_server_error_is_retried_after_a_backoff_and_then_delivered_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("try later"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-2"))
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let id = queue(&app, "pat@acme.test").await;
    let worker = start_worker(&app);

    let waiting = row_when(&app, &id, "failed once", |r| r.attempts == 1).await;
    assert_eq!(waiting.status.as_str(), "pending");
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("500 Internal Server Error: try later")
    );
    assert_eq!(waiting.lease_owner, None);
    let backoff = seconds_between(waiting.updated_at, waiting.next_attempt_at);
    assert!((0.8..=1.2).contains(&backoff), "first backoff {backoff}s");

    app.clock.advance(Duration::from_secs(2));
    let sent = settled(&app, &id, "sent").await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.provider_message_id.as_deref(), Some("pm-2"));
    assert_eq!(sent.last_error, None);
    assert_eq!(requests(&server).await.len(), 2);
    worker.stop().await;
}

#[tokio::test]
async fn a_429_with_retry_after_1_waits_at_least_a_second() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-3"))
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let id = queue(&app, "pat@acme.test").await;
    let worker = start_worker(&app);

    let waiting = row_when(&app, &id, "was throttled", |r| r.attempts == 1).await;
    assert_eq!(waiting.status.as_str(), "pending");
    assert!(waiting.last_error.unwrap().starts_with("429"));
    // max(backoff 0.8–1.2 s, Retry-After 1 s)
    let wait = seconds_between(waiting.updated_at, waiting.next_attempt_at);
    assert!((1.0..=1.2).contains(&wait), "waits {wait}s");

    app.clock.advance(Duration::from_millis(1300));
    let sent = settled(&app, &id, "sent").await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(requests(&server).await.len(), 2);
    worker.stop().await;
}

#[tokio::test]
async fn a_long_retry_after_holds_the_email_back_until_it_has_passed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-4"))
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let id = queue(&app, "pat@acme.test").await;
    let worker = start_worker(&app);

    row_when(&app, &id, "was throttled", |r| r.attempts == 1).await;
    // Well past the backoff (≤ 1.2 s), well short of Retry-After.
    app.clock.advance(Duration::from_secs(5));
    a_few_polls().await;
    assert_eq!(
        requests(&server).await.len(),
        1,
        "retried before Retry-After"
    );
    assert_eq!(row(&app, &id).await.status.as_str(), "pending");

    app.clock.advance(Duration::from_secs(26));
    assert_eq!(settled(&app, &id, "sent").await.attempts, 2);
    worker.stop().await;
}

#[tokio::test]
async fn a_rejected_email_fails_at_once_with_the_providers_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"ErrorCode": 406, "Message": "You tried to send to recipient(s) that have been marked as inactive."}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let id = queue(&app, "bounced@acme.test").await;
    let worker = start_worker(&app);

    let failed = settled(&app, &id, "failed").await;
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.lease_owner, None);
    assert_eq!(failed.sent_at, None);
    let error = failed.last_error.unwrap();
    assert!(error.starts_with("422"), "{error}");
    assert!(
        error.contains("marked as inactive"),
        "the provider's message is kept: {error}"
    );

    // No retries, however long we wait.
    app.clock.advance(Duration::from_secs(24 * 3600));
    a_few_polls().await;
    assert_eq!(requests(&server).await.len(), 1);
    assert_eq!(row(&app, &id).await.status.as_str(), "failed");
    worker.stop().await;
}

#[tokio::test]
async fn two_workers_on_one_database_send_each_email_exactly_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/email"))
        .respond_with(accepted("pm-many").set_delay(Duration::from_millis(30)))
        .expect(20)
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(queue(&app, &format!("user{n}@acme.test")).await);
    }

    let workers = [start_worker(&app), start_worker(&app)];
    for id in &ids {
        let sent = settled(&app, id, "sent").await;
        assert_eq!(sent.attempts, 1);
        assert!(sent.text_body.contains("token=[redacted]"));
    }
    a_few_polls().await;
    for worker in workers {
        worker.stop().await;
    }

    let recipients: HashSet<String> = requests(&server)
        .await
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["To"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        recipients.len(),
        20,
        "every recipient got exactly one email"
    );
    // The mock server checks `expect(20)` when it is dropped.
}

#[tokio::test]
async fn an_email_claimed_by_a_crashed_sender_is_sent_once_its_lease_runs_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-5"))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let id = queue(&app, "pat@acme.test").await;

    // Another instance claims the email and dies before sending it.
    let clock = app.clock.clone();
    let claimed = app
        .state
        .write(move |conn, _| {
            let now = clock.now_db();
            Ok(outbox::claim_due(
                conn,
                "crashed-instance",
                now,
                now + time::Duration::seconds(60),
                10,
            )?)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    let worker = start_worker(&app);
    a_few_polls().await;
    let held = row(&app, &id).await;
    assert_eq!(held.status.as_str(), "pending");
    assert_eq!(held.lease_owner.as_deref(), Some("crashed-instance"));
    assert!(
        requests(&server).await.is_empty(),
        "sent under another's lease"
    );

    app.clock.advance(Duration::from_secs(61));
    let sent = settled(&app, &id, "sent").await;
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.lease_owner, None);
    worker.stop().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_send_finish_and_be_recorded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-6").set_delay(Duration::from_millis(500)))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_sending_to(&server).await;
    let id = queue(&app, "pat@acme.test").await;
    let worker = start_worker(&app);

    // Claimed means the send has started: stop while it is on the wire.
    row_when(&app, &id, "was claimed", |r| r.lease_owner.is_some()).await;
    worker.stop().await;

    let sent = row(&app, &id).await;
    assert_eq!(sent.status.as_str(), "sent", "{sent:?}");
    assert_eq!(sent.lease_owner, None);

    // A stopped worker claims nothing more.
    let later = queue(&app, "late@acme.test").await;
    a_few_polls().await;
    assert_eq!(row(&app, &later).await.status.as_str(), "pending");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_provider_timeout_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-7").set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-8"))
        .mount(&server)
        .await;
    let app = app_sending_with(&server, "on", "500ms").await;
    let id = queue(&app, "pat@acme.test").await;
    row_when(&app, &id, "was tried", |r| r.attempts >= 1).await;
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(settled(&app, &id, "sent").await.attempts, 2);
}

#[tokio::test]
async fn a_rejected_email_fails_at_once_and_an_admin_can_retry_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"ErrorCode": 300, "Message": "Invalid 'To' address"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted("pm-9"))
        .mount(&server)
        .await;
    let app = app_sending_with(&server, "on", "500ms").await;
    let id = queue(&app, "pat@acme.test").await;
    let failed = settled(&app, &id, "failed").await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.last_error.unwrap().contains("Invalid 'To' address"));
    let listed = expect_json(
        app.list_email_deliveries(app.admin_token(), "status=failed")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert!(listed["items"][0].get("text_body").is_none());
    let retried = app.retry_email_delivery(app.admin_token(), &id).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    settled(&app, &id, "sent").await;
    let again = app.retry_email_delivery(app.admin_token(), &id).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}
