//! Outbound webhooks (docs/webhooks.md): Standard Webhooks signatures, the
//! address rules that keep endpoints off internal networks, and the HTTP
//! sender the delivery worker (`crate::email::worker`) uses for outbox rows
//! of kind `webhook`.

pub mod address;
pub mod courier;
pub mod secrets;
pub mod signature;
