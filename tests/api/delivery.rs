//! Email delivery through a fake provider: once, with retries, never twice.

use std::time::Duration;

use reqwest::StatusCode;
use roster::db::outbox::{self, OutboxRow};
use roster::email::providers::Mailer;
use roster::email::worker::DeliveryWorker;
use roster::email::{EmailKind, Message};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{expect_json, spawn_app_with, TestApp, ADMIN_EMAIL};

/// An app whose worker sends to `server` as Postmark, polling every 50 ms.
async fn app_sending_to(server: &MockServer, worker: &str) -> TestApp {
    spawn_app_with(&[
        ("ROSTER_MAIL_PROVIDER", "postmark"),
        ("ROSTER_MAIL_API_URL", &server.uri()),
        ("ROSTER_MAIL_API_KEY", "test-key"),
        ("ROSTER_MAIL_POLL_INTERVAL", "50ms"),
        ("ROSTER_MAIL_TIMEOUT", "500ms"),
        ("ROSTER_MAIL_WORKER", worker),
    ])
    .await
}

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"MessageID": "pm-42", "ErrorCode": 0}))
}

async fn queue(app: &TestApp, to: &str) -> String {
    let (state, to) = (app.state.clone(), to.to_string());
    app.state
        .db
        .write(move |conn| {
            let message = Message {
                kind: EmailKind::PasswordChanged,
                to,
                context: json!({"recipient_name": "Pat", "changed_at": "2026-11-22T10:00:00Z"}),
                user_id: None,
                customer_id: None,
            };
            roster::email::enqueue(conn, &state.templates, message, state.clock.now_db())
        })
        .await
        .unwrap()
}

async fn row(app: &TestApp, id: &str) -> OutboxRow {
    let id = id.to_string();
    app.state
        .db
        .run(move |conn| Ok(outbox::find(conn, &id)?.unwrap()))
        .await
        .unwrap()
}

/// Waits (up to 10 s) until the row reaches `status`.
async fn settled(app: &TestApp, id: &str, status: &str) -> OutboxRow {
    for _ in 0..200 {
        let current = row(app, id).await;
        if current.status == status {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("email {id} never became {status}: {:?}", row(app, id).await);
}

#[tokio::test]
async fn a_reset_email_is_delivered_once_and_its_link_is_redacted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/email"))
        .and(header("X-Postmark-Server-Token", "test-key"))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    let app = app_sending_to(&server, "on").await;
    app.post_json(
        "/v1/auth/forgot-password",
        None,
        &json!({"email": ADMIN_EMAIL}),
    )
    .await;
    let id = loop {
        if let Some(row) = app
            .outbox()
            .await
            .into_iter()
            .find(|r| r.kind == "password_reset")
        {
            break row.id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let sent = settled(&app, &id, "sent").await;
    assert_eq!(sent.provider_message_id.as_deref(), Some("pm-42"));
    assert_eq!(sent.attempts, 1);
    assert!(
        sent.text_body.contains("token=[redacted]"),
        "{}",
        sent.text_body
    );
    assert!(!sent.text_body.contains("rat_"));
    let request = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = request.body_json().unwrap();
    assert_eq!(body["Tag"], "password_reset");
    assert!(body["TextBody"]
        .as_str()
        .unwrap()
        .contains("/reset-password?token=rat_"));
}

#[tokio::test]
async fn a_server_error_is_retried_after_a_backoff_then_delivered() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let app = app_sending_to(&server, "on").await;
    let id = queue(&app, "pat@acme.test").await;
    let waiting = loop {
        let current = row(&app, &id).await;
        if current.attempts == 1 {
            break current;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(waiting.status, "pending");
    assert!(waiting.last_error.unwrap().starts_with("500"));
    app.clock.advance(Duration::from_secs(2));
    let sent = settled(&app, &id, "sent").await;
    assert_eq!(sent.attempts, 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_before_the_next_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let app = app_sending_to(&server, "on").await;
    let id = queue(&app, "pat@acme.test").await;
    while row(&app, &id).await.attempts == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        row(&app, &id).await.status,
        "pending",
        "retried before Retry-After"
    );
    app.clock.advance(Duration::from_secs(61));
    settled(&app, &id, "sent").await;
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted().set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let app = app_sending_to(&server, "on").await;
    let id = queue(&app, "pat@acme.test").await;
    while row(&app, &id).await.attempts == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
        .respond_with(accepted())
        .mount(&server)
        .await;
    let app = app_sending_to(&server, "on").await;
    let id = queue(&app, "pat@acme.test").await;
    let failed = settled(&app, &id, "failed").await;
    assert_eq!(failed.attempts, 1);
    assert!(failed.last_error.unwrap().contains("Invalid 'To' address"));
    let listed = expect_json(
        app.get(
            "/v1/email-deliveries?status=failed",
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert!(listed["items"][0].get("text_body").is_none());
    let retried = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/email-deliveries/{id}/retry"),
            Some(app.admin_token()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    settled(&app, &id, "sent").await;
    let again = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/email-deliveries/{id}/retry"),
            Some(app.admin_token()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn two_workers_on_one_database_send_each_email_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted().set_delay(Duration::from_millis(20)))
        .expect(20)
        .mount(&server)
        .await;
    let app = app_sending_to(&server, "off").await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(queue(&app, &format!("user{n}@acme.test")).await);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            DeliveryWorker::spawn(
                app.state.db.clone(),
                Mailer::new(&app.state.settings.mail),
                app.state.settings.mail.clone(),
                app.clock.clone(),
                stopped.clone(),
            )
        })
        .collect();
    for id in &ids {
        settled(&app, id, "sent").await;
    }
    stop.send(true).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    // MockServer verifies `expect(20)` when dropped.
}

#[tokio::test]
async fn an_email_claimed_by_a_crashed_sender_is_sent_after_its_lease() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    let app = app_sending_to(&server, "off").await;
    let id = queue(&app, "pat@acme.test").await;
    // A sender claims the email and dies before recording anything.
    let state = app.state.clone();
    let claimed = app
        .state
        .db
        .write(move |conn| {
            let now = state.clock.now_db();
            Ok(outbox::claim_due(
                conn,
                "crashed-sender",
                now,
                now + time::Duration::seconds(60),
                100,
            )?)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = DeliveryWorker::spawn(
        app.state.db.clone(),
        Mailer::new(&app.state.settings.mail),
        app.state.settings.mail.clone(),
        app.clock.clone(),
        stopped,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        row(&app, &id).await.status,
        "pending",
        "sent while another sender held the lease"
    );
    app.clock.advance(Duration::from_secs(61));
    settled(&app, &id, "sent").await;
    stop.send(true).unwrap();
    worker.await.unwrap();
}
