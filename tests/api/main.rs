//! End-to-end tests over HTTP: every test spawns the real app with its own
//! database (SQLite by default, PostgreSQL with `TEST_DATABASE_URL`).
//!
//! One file per resource of docs/api.md ("Endpoints"), a few per concern:
//! - `tenancy.rs`: the authorization matrix, every operation by every kind
//!   of caller (docs/api.md, "Authorization");
//! - `customers.rs`, `customer_users.rs`, `users_admin.rs`, `lifecycle.rs`
//!   (status, unlock, link emails), `audit.rs`, `api_clients.rs`,
//!   `email_delivery.rs`;
//! - `sign_in.rs`, `tokens.rs`, `passwords.rs`, `dormancy.rs`: signing in
//!   and what keeps a session alive; `lockout.rs`, `session_lifetime.rs`,
//!   `signing_keys.rs`: the attacks those must withstand;
//! - `idempotency.rs`, `races.rs`, `walkthroughs.rs` (whole admin tasks),
//!   `groups.rs` (groups and external ids),
//!   `errors.rs`, `hostile.rs`, `database_faults.rs`, `health.rs`,
//!   `openapi.rs`, `confirmations.rs` (the per-caller cap);
//! - `links.rs` (forgot-password, link cooldowns, links dying with the
//!   account, email changes) and `no_ops.rs` (admin actions that change
//!   nothing).
//!
//! `helpers.rs` is the vocabulary they share.

mod helpers;

mod api_clients;
mod audit;
mod confirmations;
mod customer_users;
mod customers;
mod database_faults;
mod dormancy;
mod email_delivery;
mod errors;
mod groups;
mod health;
mod hostile;
mod idempotency;
mod lifecycle;
mod links;
mod lockout;
mod no_ops;
mod openapi;
mod pages;
mod passwords;
mod races;
mod scim;
mod session_lifetime;
mod sign_in;
mod signing_keys;
mod tenancy;
mod tokens;
mod trusted_proxies;
mod user_imports;
mod users_admin;
mod walkthroughs;
mod webhooks;
