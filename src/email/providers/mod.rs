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
mod tests;
