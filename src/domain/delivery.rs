//! Where an email is on its way out, and the requests the outbox holds
//! beside emails.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// An outbox row's state: waiting (or retrying), delivered, or given up.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sent,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(DeliveryStatus::Pending),
            "sent" => Some(DeliveryStatus::Sent),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// The outbox `kind` of a webhook delivery (docs/webhooks.md): its
/// recipient is the endpoint's id, its text body the signed payload.
pub const WEBHOOK_KIND: &str = "webhook";

/// Work queued in the outbox beside the emails: the delivery worker resolves
/// a request into the emails it comes to (or none) before sending anything,
/// so a request is as durable as an email, and its answer says nothing.
/// Requests are never listed as emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `POST /v1/auth/forgot-password`; the row's recipient is the address
    /// asked about, kept only until the request is resolved.
    ForgotPassword,
    /// A bulk user import to work through; the row's recipient is the job's
    /// id, and the row stays due until the job is done (each claim runs a
    /// few batches, see `service::user_imports`).
    UserImport,
}

impl RequestKind {
    pub const ALL: [RequestKind; 2] = [RequestKind::ForgotPassword, RequestKind::UserImport];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::ForgotPassword => "forgot_password_request",
            RequestKind::UserImport => "user_import",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        RequestKind::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// The outbox `kind` of every request.
    pub fn names() -> Vec<&'static str> {
        RequestKind::ALL
            .into_iter()
            .map(RequestKind::as_str)
            .collect()
    }
}
