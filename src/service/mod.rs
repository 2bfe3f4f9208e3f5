//! Use cases: each runs the domain rules, the database writes, the audit
//! event and the outbox rows of one request in one transaction.

pub mod accounts;
pub mod api_clients;
pub mod audit;
pub mod bootstrap;
pub mod callers;
pub mod customers;
pub mod deliveries;
pub mod guard;
pub mod idempotency;
pub mod keys;
pub mod maintenance;
pub mod members;
pub mod seats;
pub mod sessions;
pub mod users;
