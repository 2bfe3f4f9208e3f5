//! Delivery cases beyond `email_delivery.rs`: a provider timeout, and an
//! admin re-queueing a failed email.

use std::time::Duration;

use reqwest::StatusCode;
use roster::db::outbox::{self, OutboxRow};
use roster::email::{EmailKind, Message};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{expect_json, spawn_app_with, TestApp};

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
        if current.status.as_str() == status {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("email {id} never became {status}: {:?}", row(app, id).await);
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
