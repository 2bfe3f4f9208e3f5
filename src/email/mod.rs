//! Outbound email: every message is rendered from a template and written to
//! the outbox in the caller's transaction; the worker delivers it later.

pub mod providers;
pub mod templates;
pub mod worker;

use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;
use utoipa::ToSchema;

use crate::db::outbox::{self, OutboxRow};
use crate::db::{DbConnection, DbError};
use crate::domain::delivery::DeliveryStatus;
pub use crate::domain::delivery::RequestKind;
pub use templates::{EmailTemplates, RenderedEmail};

/// The kinds of email roster sends; used as the provider's tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    Activation,
    PasswordReset,
    PasswordChanged,
    AccountDeactivated,
    AccountLocked,
    MembershipAdded,
    MembershipRemoved,
    ActionConfirmation,
    EmailChanged,
}

impl EmailKind {
    pub const ALL: [EmailKind; 9] = [
        EmailKind::Activation,
        EmailKind::PasswordReset,
        EmailKind::PasswordChanged,
        EmailKind::AccountDeactivated,
        EmailKind::AccountLocked,
        EmailKind::MembershipAdded,
        EmailKind::MembershipRemoved,
        EmailKind::ActionConfirmation,
        EmailKind::EmailChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::Activation => "activation",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::PasswordChanged => "password_changed",
            EmailKind::AccountDeactivated => "account_deactivated",
            EmailKind::AccountLocked => "account_locked",
            EmailKind::MembershipAdded => "membership_added",
            EmailKind::MembershipRemoved => "membership_removed",
            EmailKind::ActionConfirmation => "action_confirmation",
            EmailKind::EmailChanged => "email_changed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        EmailKind::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

/// What can go wrong queueing an email.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// A template could not be rendered with the message's context.
    #[error("cannot render the email: {0}")]
    Render(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for EmailError {
    fn from(err: diesel::result::Error) -> Self {
        EmailError::Db(err.into())
    }
}

/// An email to queue: the template context is completed by [`EmailTemplates`].
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: EmailKind,
    pub to: String,
    pub context: serde_json::Value,
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
}

/// Renders `message` and writes it to the outbox on `conn` (the caller's transaction).
pub fn enqueue(
    conn: &mut DbConnection,
    templates: &EmailTemplates,
    message: Message,
    now: PrimitiveDateTime,
) -> Result<String, EmailError> {
    let rendered = templates
        .render(message.kind, &message.context)
        .map_err(|err| EmailError::Render(err.to_string()))?;
    let mut row = pending(message.kind.as_str(), message.to, now);
    row.subject = rendered.subject;
    row.text_body = rendered.text;
    row.html_body = rendered.html;
    row.user_id = message.user_id;
    row.customer_id = message.customer_id;
    outbox::insert(conn, &row)?;
    Ok(row.id)
}

/// Writes a request about `about` (an address) to the outbox on `conn`, for
/// the delivery worker to resolve; the same single row whatever it is about.
pub fn enqueue_request(
    conn: &mut DbConnection,
    kind: RequestKind,
    about: String,
    now: PrimitiveDateTime,
) -> Result<String, EmailError> {
    let row = pending(kind.as_str(), about, now);
    outbox::insert(conn, &row)?;
    Ok(row.id)
}

/// A pending outbox row of `kind` to `recipient`, due `now`, with empty bodies.
pub fn pending(kind: &str, recipient: String, now: PrimitiveDateTime) -> OutboxRow {
    OutboxRow {
        id: crate::db::new_id(),
        kind: kind.to_string(),
        recipient,
        subject: String::new(),
        text_body: String::new(),
        html_body: String::new(),
        user_id: None,
        customer_id: None,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        lease_owner: None,
        lease_expires_at: None,
        last_error: None,
        provider_message_id: None,
        created_at: now,
        updated_at: now,
        sent_at: None,
        event_id: None,
        event_seq: None,
        response_status: None,
        latency_ms: None,
    }
}
