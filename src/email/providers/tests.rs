//! The provider clients against a fake provider (wiremock).

use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn settings(provider: MailProvider, url: &str) -> MailSettings {
    MailSettings {
        provider,
        api_url: url.to_string(),
        api_key: Some(SecretString::from("key-123")),
        from: "Roster <no-reply@roster.test>".into(),
        poll_interval: Duration::from_millis(50),
        max_attempts: 3,
        concurrency: 2,
        timeout: Duration::from_millis(500),
        lease: Duration::from_secs(5),
        worker: true,
    }
}

fn mailer(provider: MailProvider, server: &MockServer) -> Mailer {
    Mailer::new(&settings(provider, &server.uri()))
}

const EMAIL: OutgoingEmail<'static> = OutgoingEmail {
    id: "0190-outbox-id",
    kind: "activation",
    to: "jane@example.com",
    subject: "Your account has been set up",
    text: "Hello",
    html: "<p>Hello</p>",
};

#[tokio::test]
async fn postmark_gets_its_token_header_and_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/email"))
        .and(header("X-Postmark-Server-Token", "key-123"))
        .and(header("Accept", "application/json"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({
            "From": "Roster <no-reply@roster.test>", "To": "jane@example.com",
            "Subject": "Your account has been set up", "TextBody": "Hello",
            "HtmlBody": "<p>Hello</p>", "Tag": "activation", "MessageStream": "outbound"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "To": "jane@example.com", "SubmittedAt": "2026-11-22T10:00:00Z",
            "MessageID": "pm-1", "ErrorCode": 0, "Message": "OK"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sent = mailer(MailProvider::Postmark, &server).send(&EMAIL).await;
    assert_eq!(sent.unwrap().provider_message_id.as_deref(), Some("pm-1"));
}

#[tokio::test]
async fn sendgrid_gets_a_bearer_token_and_personalizations() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("Authorization", "Bearer key-123"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({
            "personalizations": [{"to": [{"email": "jane@example.com"}]}],
            "from": {"email": "no-reply@roster.test", "name": "Roster"},
            "subject": "Your account has been set up",
            "content": [{"type": "text/plain", "value": "Hello"}, {"type": "text/html", "value": "<p>Hello</p>"}],
            "categories": ["activation"],
            "custom_args": {"outbox_id": "0190-outbox-id"}
        })))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "sg-1"))
        .expect(1)
        .mount(&server)
        .await;
    let sent = mailer(MailProvider::Sendgrid, &server).send(&EMAIL).await;
    assert_eq!(sent.unwrap().provider_message_id.as_deref(), Some("sg-1"));
}

#[tokio::test]
async fn sendgrid_gets_a_bare_sender_without_a_name() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(wiremock::matchers::body_partial_json(
            json!({"from": {"email": "ops@roster.test"}}),
        ))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let mut settings = settings(MailProvider::Sendgrid, &server.uri());
    settings.from = "ops@roster.test".into();
    let sent = Mailer::new(&settings).send(&EMAIL).await.unwrap();
    assert_eq!(sent.provider_message_id, None);
    let body: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert!(body["from"].get("name").is_none(), "{body}");
}

#[tokio::test]
async fn resend_gets_the_outbox_id_as_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(header("Authorization", "Bearer key-123"))
        .and(header("Idempotency-Key", "0190-outbox-id"))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({
            "from": "Roster <no-reply@roster.test>", "to": ["jane@example.com"],
            "subject": "Your account has been set up", "text": "Hello", "html": "<p>Hello</p>",
            "tags": [{"name": "kind", "value": "activation"}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "rs-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let sent = mailer(MailProvider::Resend, &server).send(&EMAIL).await;
    assert_eq!(sent.unwrap().provider_message_id.as_deref(), Some("rs-1"));
}

#[tokio::test]
async fn the_log_mailer_succeeds_without_a_network() {
    let mut settings = settings(MailProvider::Log, "");
    settings.api_key = None;
    let sent = Mailer::new(&settings).send(&EMAIL).await;
    assert_eq!(
        sent,
        Ok(Delivered {
            provider_message_id: None
        })
    );
}

#[tokio::test]
async fn a_server_error_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream exploded"))
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Postmark, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Retryable {
            reason: "500 Internal Server Error: upstream exploded".into(),
            retry_after: None
        }
    );
}

#[tokio::test]
async fn a_429_is_retryable_no_sooner_than_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Sendgrid, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{err:?}"
    );
}

#[tokio::test]
async fn retry_after_may_be_an_http_date() {
    let server = MockServer::start().await;
    let at = std::time::SystemTime::now() + Duration::from_secs(120);
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503).insert_header("Retry-After", httpdate::fmt_http_date(at)),
        )
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Resend, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    let SendError::Retryable {
        retry_after: Some(wait),
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert!(
        wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
}

#[tokio::test]
async fn a_rejected_email_is_permanent_with_the_providers_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"ErrorCode": 300, "Message": "Invalid 'To' address"})),
        )
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Postmark, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "422 Unprocessable Entity: Invalid 'To' address".into()
        }
    );
}

#[tokio::test]
async fn sendgrid_errors_are_read_from_their_list() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"errors": [
            {"message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email", "help": null},
            {"message": "The from address does not match a verified Sender Identity.", "field": "from", "help": null}
        ]})))
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Sendgrid, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "400 Bad Request: personalizations.0.to.0.email: Does not contain a valid address.; from: The from address does not match a verified Sender Identity.".into()
        }
    );
}

#[tokio::test]
async fn a_long_provider_message_is_truncated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_string("é".repeat(5000)))
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Resend, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}");
    };
    assert_eq!(reason.chars().count(), MAX_REASON_CHARS + 1, "{reason}");
    assert!(reason.starts_with("403 Forbidden: éé") && reason.ends_with('…'));
}

#[tokio::test]
async fn resends_concurrent_idempotent_request_is_retryable_but_a_reused_key_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "statusCode": 409, "name": "concurrent_idempotent_requests",
            "message": "Same idempotency key used while original request is still in progress."
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "statusCode": 409, "name": "invalid_idempotent_request",
            "message": "Same idempotency key used with a different request payload."
        })))
        .mount(&server)
        .await;
    let mailer = mailer(MailProvider::Resend, &server);
    assert!(matches!(
        mailer.send(&EMAIL).await,
        Err(SendError::Retryable { .. })
    ));
    assert!(matches!(
        mailer.send(&EMAIL).await,
        Err(SendError::Permanent { .. })
    ));
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Resend, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Retryable {
            reason: "the provider did not answer in time".into(),
            retry_after: None
        }
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_retryable() {
    // A port nobody listens on (wiremock pools its servers, so not one of those).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("http://127.0.0.1:{port}");
    let err = Mailer::new(&settings(MailProvider::Postmark, &uri))
        .send(&EMAIL)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Retryable { reason, .. } if reason.starts_with("cannot reach the provider")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("Location", "https://elsewhere.test/email"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = mailer(MailProvider::Postmark, &server)
        .send(&EMAIL)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
}

#[test]
fn the_api_key_never_shows_in_debug_output() {
    let mailer = Mailer::new(&settings(MailProvider::Postmark, "http://x.test"));
    assert!(!format!("{mailer:?}").contains("key-123"));
    assert!(mailer.secret_header("").unwrap().is_sensitive());
}

#[test]
fn a_sender_splits_into_name_and_address() {
    assert_eq!(split_from("Roster <a@b.c>"), (Some("Roster"), "a@b.c"));
    assert_eq!(split_from("a@b.c"), (None, "a@b.c"));
    assert_eq!(split_from(" <a@b.c> "), (None, "a@b.c"));
    assert_eq!(
        split_from("\"Ops Team\" <ops@b.c>"),
        (Some("Ops Team"), "ops@b.c")
    );
}

#[test]
fn truncation_counts_characters_not_bytes() {
    assert_eq!(truncate("abc", 3), "abc");
    assert_eq!(truncate("ééééé", 2), "éé…");
}
