//! End-to-end tests over HTTP: every test spawns the real app with its own
//! database (SQLite by default, PostgreSQL with `TEST_DATABASE_URL`).

mod helpers;

mod database_faults;
mod errors;
mod health;
mod openapi;
mod sign_in;
