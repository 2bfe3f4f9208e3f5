//! Use cases, one public async function each, called alike by the HTTP
//! handlers, the CLI and background jobs. Each takes typed input, opens its
//! own transaction through [`crate::state::AppState::read`] or
//! [`crate::state::AppState::write`], and returns a typed result: the domain
//! rules, the database writes, the audit event and the outbox rows of one
//! request commit together or not at all. Work that must not hold a
//! transaction (password hashing) runs before it. A private `…_in` function
//! is a use case's body inside its transaction.
//!
//! Nothing here knows HTTP: errors are [`crate::error::ApiError`] values,
//! answers are rows and plain structs the handlers shape.

pub mod accounts;
pub mod api_clients;
pub mod audit;
pub mod bootstrap;
pub mod callers;
pub mod customers;
pub mod deliveries;
pub mod events;
pub mod groups;
pub mod guard;
pub mod idempotency;
pub mod keys;
pub mod maintenance;
pub mod members;
pub mod scim;
pub mod scim_tokens;
pub mod seats;
pub mod sessions;
pub mod user_imports;
pub mod users;
pub mod webhooks;
