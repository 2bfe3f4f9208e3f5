//! The mail providers' HTTP APIs (Postmark, SendGrid, Resend) and the `log`
//! mailer. One reqwest client with a timeout; the base URL is configurable so
//! tests point it at a fake.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::config::{MailProvider, MailSettings};
use crate::domain::email::mask;

/// One email as the worker hands it over.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingEmail<'a> {
    /// The outbox id: the idempotency key where the provider takes one.
    pub id: &'a str,
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
    /// 5xx, 429 or a network failure: try again later (not before `retry_after`).
    #[error("{reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Any other 4xx: the provider will never accept this email.
    #[error("{reason}")]
    Permanent { reason: String },
}

#[derive(Clone)]
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

    pub async fn send(&self, email: &OutgoingEmail<'_>) -> Result<Delivered, SendError> {
        let request = match self.provider {
            MailProvider::Log => return Ok(self.log(email)),
            MailProvider::Postmark => self.postmark(email),
            MailProvider::Sendgrid => self.sendgrid(email),
            MailProvider::Resend => self.resend(email),
        };
        let response = request.send().await.map_err(|err| SendError::Retryable {
            reason: if err.is_timeout() {
                "the provider did not answer in time".into()
            } else {
                format!("cannot reach the provider: {err}")
            },
            retry_after: None,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(self.delivered(response).await);
        }
        Err(classify(status, response).await)
    }

    fn key(&self) -> &str {
        self.api_key.as_ref().map_or("", |k| k.expose_secret())
    }

    fn log(&self, email: &OutgoingEmail<'_>) -> Delivered {
        tracing::info!(
            kind = email.kind,
            to = %mask(email.to),
            subject = email.subject,
            "email (log mailer):\n{}",
            email.text
        );
        Delivered {
            provider_message_id: None,
        }
    }

    fn postmark(&self, email: &OutgoingEmail<'_>) -> RequestBuilder {
        self.client
            .post(format!("{}/email", self.base_url))
            .header("X-Postmark-Server-Token", self.key())
            .header("Accept", "application/json")
            .json(&json!({
                "From": self.from,
                "To": email.to,
                "Subject": email.subject,
                "TextBody": email.text,
                "HtmlBody": email.html,
                "Tag": email.kind,
                "MessageStream": "outbound",
            }))
    }

    fn sendgrid(&self, email: &OutgoingEmail<'_>) -> RequestBuilder {
        let (name, address) = split_from(&self.from);
        let mut from = json!({ "email": address });
        if let Some(name) = name {
            from["name"] = json!(name);
        }
        self.client
            .post(format!("{}/v3/mail/send", self.base_url))
            .bearer_auth(self.key())
            .json(&json!({
                "personalizations": [{ "to": [{ "email": email.to }] }],
                "from": from,
                "subject": email.subject,
                "content": [
                    { "type": "text/plain", "value": email.text },
                    { "type": "text/html", "value": email.html },
                ],
                "categories": [email.kind],
                "custom_args": { "outbox_id": email.id },
            }))
    }

    fn resend(&self, email: &OutgoingEmail<'_>) -> RequestBuilder {
        self.client
            .post(format!("{}/emails", self.base_url))
            .bearer_auth(self.key())
            .header("Idempotency-Key", email.id)
            .json(&json!({
                "from": self.from,
                "to": [email.to],
                "subject": email.subject,
                "text": email.text,
                "html": email.html,
                "tags": [{ "name": "kind", "value": email.kind }],
            }))
    }

    async fn delivered(&self, response: Response) -> Delivered {
        let header_id = response
            .headers()
            .get("x-message-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = response.json().await.unwrap_or(Value::Null);
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
    let body = response.text().await.unwrap_or_default();
    let reason = format!("{status}: {}", truncate(&provider_message(&body), 500));
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        SendError::Retryable {
            reason,
            retry_after,
        }
    } else {
        SendError::Permanent { reason }
    }
}

/// The human part of a provider's error body, or the body itself.
fn provider_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return body.trim().to_string();
    };
    value["Message"]
        .as_str()
        .or_else(|| value["message"].as_str())
        .or_else(|| value["errors"][0]["message"].as_str())
        .map_or_else(|| body.trim().to_string(), str::to_string)
}

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

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// `Name <addr@x>` → (Some(Name), addr@x); a bare address → (None, address).
fn split_from(from: &str) -> (Option<&str>, &str) {
    match (from.find('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = from[..open].trim().trim_matches('"');
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
            worker: true,
        }
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
            .and(body_json(json!({
                "From": "Roster <no-reply@roster.test>", "To": "jane@example.com",
                "Subject": "Your account has been set up", "TextBody": "Hello",
                "HtmlBody": "<p>Hello</p>", "Tag": "activation", "MessageStream": "outbound"
            })))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"MessageID": "pm-1", "ErrorCode": 0})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let sent = Mailer::new(&settings(MailProvider::Postmark, &server.uri()))
            .send(&EMAIL)
            .await;
        assert_eq!(sent.unwrap().provider_message_id.as_deref(), Some("pm-1"));
    }

    #[tokio::test]
    async fn sendgrid_gets_a_bearer_token_and_personalizations() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v3/mail/send"))
            .and(header("Authorization", "Bearer key-123"))
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
        let sent = Mailer::new(&settings(MailProvider::Sendgrid, &server.uri()))
            .send(&EMAIL)
            .await;
        assert_eq!(sent.unwrap().provider_message_id.as_deref(), Some("sg-1"));
    }

    #[tokio::test]
    async fn resend_gets_the_outbox_id_as_idempotency_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/emails"))
            .and(header("Authorization", "Bearer key-123"))
            .and(header("Idempotency-Key", "0190-outbox-id"))
            .and(body_json(json!({
                "from": "Roster <no-reply@roster.test>", "to": ["jane@example.com"],
                "subject": "Your account has been set up", "text": "Hello", "html": "<p>Hello</p>",
                "tags": [{"name": "kind", "value": "activation"}]
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "rs-1"})))
            .expect(1)
            .mount(&server)
            .await;
        let sent = Mailer::new(&settings(MailProvider::Resend, &server.uri()))
            .send(&EMAIL)
            .await;
        assert_eq!(sent.unwrap().provider_message_id.as_deref(), Some("rs-1"));
    }

    #[tokio::test]
    async fn a_server_error_or_429_is_retryable_and_honours_retry_after() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let mailer = Mailer::new(&settings(MailProvider::Postmark, &server.uri()));
        let throttled = mailer.send(&EMAIL).await.unwrap_err();
        assert!(
            matches!(throttled, SendError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
        assert!(matches!(
            mailer.send(&EMAIL).await,
            Err(SendError::Retryable {
                retry_after: None,
                ..
            })
        ));
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
        let err = Mailer::new(&settings(MailProvider::Postmark, &server.uri()))
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
    async fn a_timeout_is_retryable() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .mount(&server)
            .await;
        let err = Mailer::new(&settings(MailProvider::Resend, &server.uri()))
            .send(&EMAIL)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
    }

    #[test]
    fn a_sender_splits_into_name_and_address() {
        assert_eq!(split_from("Roster <a@b.c>"), (Some("Roster"), "a@b.c"));
        assert_eq!(split_from("a@b.c"), (None, "a@b.c"));
        assert_eq!(
            split_from("\"Ops Team\" <ops@b.c>"),
            (Some("Ops Team"), "ops@b.c")
        );
    }
}
