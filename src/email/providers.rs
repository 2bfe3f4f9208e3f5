//! The mail providers' HTTP APIs (Postmark, SendGrid, Resend) and the `log`
//! mailer. One reqwest client with a timeout; the base URL is configurable so
//! tests point it at a fake.
//!
//! Request formats follow the providers' public API references:
//! - Postmark `POST /email` (`X-Postmark-Server-Token`), answer `{MessageID}`;
//! - SendGrid `POST /v3/mail/send` (Bearer), answer 202 with `X-Message-Id`;
//! - Resend `POST /emails` (Bearer, `Idempotency-Key`), answer `{id}`.
//!
//! A 5xx, 429, 408, a network failure or a timeout is [`SendError::Retryable`]
//! (with the `Retry-After` the provider asked for); any other 4xx is
//! [`SendError::Permanent`], with the provider's own message.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::config::{MailProvider, MailSettings};
use crate::domain::email::mask;

/// How much of a provider's error message is kept (characters).
const MAX_REASON_CHARS: usize = 500;
/// How much of a response body is read at most (bytes).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// One email as the worker hands it over.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingEmail<'a> {
    /// The outbox id: the idempotency key where the provider takes one.
    pub id: &'a str,
    /// The [`EmailKind`](super::EmailKind) as text; the provider's tag.
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub provider_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 5xx, 429, 408 or a network failure: try again later (not before `retry_after`).
    #[error("{reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Any other 4xx: the provider will never accept this email as it is.
    #[error("{reason}")]
    Permanent { reason: String },
}

/// Sends email through the configured provider. Cheap to clone (one shared client).
#[derive(Clone, Debug)]
pub struct Mailer {
    provider: MailProvider,
    client: reqwest::Client,
    base_url: String,
    api_key: Option<SecretString>,
    from: String,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Self {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            // An API never redirects a send; following one could hand the
            // token header to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a TLS-capable HTTP client builds");
        Mailer {
            provider: settings.provider,
            client,
            base_url: settings.api_url.trim_end_matches('/').to_string(),
            api_key: settings.api_key.clone(),
            from: settings.from.clone(),
        }
    }

    pub fn provider(&self) -> MailProvider {
        self.provider
    }

    pub async fn send(&self, email: &OutgoingEmail<'_>) -> Result<Delivered, SendError> {
        let request = match self.provider {
            MailProvider::Log => return Ok(self.log(email)),
            MailProvider::Postmark => self.postmark(email)?,
            MailProvider::Sendgrid => self.sendgrid(email)?,
            MailProvider::Resend => self.resend(email)?,
        };
        let response = request.send().await.map_err(|err| SendError::Retryable {
            reason: if err.is_timeout() {
                "the provider did not answer in time".into()
            } else {
                format!("cannot reach the provider: {}", error_chain(&err))
            },
            retry_after: None,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(self.delivered(response).await);
        }
        Err(classify(status, response).await)
    }

    fn log(&self, email: &OutgoingEmail<'_>) -> Delivered {
        tracing::info!(
            id = email.id,
            kind = email.kind,
            to = %mask(email.to),
            subject = email.subject,
            "email (log mailer, not sent):\n{}",
            email.text
        );
        Delivered {
            provider_message_id: None,
        }
    }

    /// The API key as a header value that logs and debug output never show.
    fn secret_header(&self, prefix: &str) -> Result<HeaderValue, SendError> {
        let key = self.api_key.as_ref().map_or("", |k| k.expose_secret());
        let mut value =
            HeaderValue::from_str(&format!("{prefix}{key}")).map_err(|_| SendError::Permanent {
                reason: "ROSTER_MAIL_API_KEY is not a valid HTTP header value".into(),
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn postmark(&self, email: &OutgoingEmail<'_>) -> Result<RequestBuilder, SendError> {
        Ok(self
            .client
            .post(format!("{}/email", self.base_url))
            .header("X-Postmark-Server-Token", self.secret_header("")?)
            .header(ACCEPT, "application/json")
            .json(&json!({
                "From": self.from,
                "To": email.to,
                "Subject": email.subject,
                "TextBody": email.text,
                "HtmlBody": email.html,
                "Tag": email.kind,
                "MessageStream": "outbound",
            })))
    }

    fn sendgrid(&self, email: &OutgoingEmail<'_>) -> Result<RequestBuilder, SendError> {
        let (name, address) = split_from(&self.from);
        let mut from = json!({ "email": address });
        if let Some(name) = name {
            from["name"] = json!(name);
        }
        Ok(self
            .client
            .post(format!("{}/v3/mail/send", self.base_url))
            .header(AUTHORIZATION, self.secret_header("Bearer ")?)
            .header(ACCEPT, "application/json")
            .json(&json!({
                "personalizations": [{ "to": [{ "email": email.to }] }],
                "from": from,
                "subject": email.subject,
                // text/plain must come first.
                "content": [
                    { "type": "text/plain", "value": email.text },
                    { "type": "text/html", "value": email.html },
                ],
                "categories": [email.kind],
                "custom_args": { "outbox_id": email.id },
            })))
    }

    fn resend(&self, email: &OutgoingEmail<'_>) -> Result<RequestBuilder, SendError> {
        Ok(self
            .client
            .post(format!("{}/emails", self.base_url))
            .header(AUTHORIZATION, self.secret_header("Bearer ")?)
            .header(ACCEPT, "application/json")
            .header("Idempotency-Key", email.id)
            .json(&json!({
                "from": self.from,
                "to": [email.to],
                "subject": email.subject,
                "text": email.text,
                "html": email.html,
                "tags": [{ "name": "kind", "value": email.kind }],
            })))
    }

    async fn delivered(&self, response: Response) -> Delivered {
        let header_id = response
            .headers()
            .get("x-message-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_limited(response).await;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let body_id = match self.provider {
            MailProvider::Postmark => body["MessageID"].as_str(),
            MailProvider::Resend => body["id"].as_str(),
            _ => None,
        };
        Delivered {
            provider_message_id: body_id.map(str::to_string).or(header_id),
        }
    }
}

async fn classify(status: StatusCode, response: Response) -> SendError {
    let retry_after = retry_after(response.headers());
    let body = read_limited(response).await;
    let body = String::from_utf8_lossy(&body);
    let (message, name) = provider_message(&body);
    let reason = if message.is_empty() {
        status.to_string()
    } else {
        truncate(&format!("{status}: {message}"), MAX_REASON_CHARS)
    };
    let retryable = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        // Resend: the same idempotency key is still being processed.
        || (status == StatusCode::CONFLICT
            && name.as_deref() == Some("concurrent_idempotent_requests"))
        // Not an API answer at all (a redirect, say): the setup may be fixed.
        || !status.is_client_error();
    if retryable {
        SendError::Retryable {
            reason,
            retry_after,
        }
    } else {
        SendError::Permanent { reason }
    }
}

/// Reads at most [`MAX_BODY_BYTES`] of a body; what cannot be read is left out.
async fn read_limited(mut response: Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_BODY_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY_BYTES {
            break;
        }
    }
    body
}

/// The human part of a provider's error body (or the body itself), and the
/// error's machine name where the provider gives one (Resend's `name`).
///
/// Postmark: `{"ErrorCode": 300, "Message": "…"}`; SendGrid:
/// `{"errors": [{"message": "…", "field": "…"}]}`; Resend:
/// `{"statusCode": 422, "name": "…", "message": "…"}`.
fn provider_message(body: &str) -> (String, Option<String>) {
    let trimmed = body.trim();
    let Ok(value) = serde_json::from_str::<Value>(trimmed) else {
        return (trimmed.to_string(), None);
    };
    let name = value["name"].as_str().map(str::to_string);
    if let Some(message) = value["Message"]
        .as_str()
        .or_else(|| value["message"].as_str())
    {
        return (message.to_string(), name);
    }
    if let Some(errors) = value["errors"].as_array() {
        let messages: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                let message = e["message"].as_str()?;
                Some(match e["field"].as_str() {
                    Some(field) if !field.is_empty() => format!("{field}: {message}"),
                    _ => message.to_string(),
                })
            })
            .collect();
        if !messages.is_empty() {
            return (messages.join("; "), name);
        }
    }
    (trimmed.to_string(), name)
}

/// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// An error and its causes, one line (reqwest's own message hides the cause).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `Name <addr@x>` → (Some(Name), addr@x); a bare address → (None, address).
fn split_from(from: &str) -> (Option<&str>, &str) {
    match (from.find('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = from[..open].trim().trim_matches('"').trim();
            (
                (!name.is_empty()).then_some(name),
                from[open + 1..close].trim(),
            )
        }
        _ => (None, from.trim()),
    }
}

#[cfg(test)]
mod tests {
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
                ResponseTemplate::new(503)
                    .insert_header("Retry-After", httpdate::fmt_http_date(at)),
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
                ResponseTemplate::new(307)
                    .insert_header("Location", "https://elsewhere.test/email"),
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
}
