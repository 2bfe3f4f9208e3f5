//! End-to-end tests over HTTP: every test spawns the real app with its own
//! database (SQLite by default, PostgreSQL with `TEST_DATABASE_URL`).

mod helpers;

mod admin;
mod audit;
mod authorization;
mod customer_users;
mod customers;
mod database_faults;
mod delivery;
mod dormancy;
mod email_delivery;
mod errors;
mod health;
mod hostile;
mod idempotency;
mod lifecycle;
mod openapi;
mod passwords;
mod people;
mod races;
mod sign_in;
mod tenancy;
mod tokens;
mod trusted_proxies;
mod users_admin;
