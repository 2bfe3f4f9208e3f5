//! Process faults and load against the real binary: `roster serve` runs as a
//! child process on a fresh database per test (a temporary SQLite file, or
//! its own PostgreSQL database with `TEST_DATABASE_URL`), is killed with
//! SIGKILL mid-load and restarted, stopped with SIGTERM while requests and
//! sends are in flight, flooded with sign-ins, and kept busy to show that
//! memory, metric series and the log stay bounded.
//!
//! The tests run one at a time (`support::SERIAL`): each keeps the machine busy.

#[path = "api/helpers.rs"]
mod helpers;

#[path = "process/support.rs"]
mod support;

#[path = "process/check.rs"]
mod check;
#[path = "process/imports.rs"]
mod imports;
#[path = "process/kill.rs"]
mod kill;
#[path = "process/load.rs"]
mod load;
#[path = "process/scale_out.rs"]
mod scale_out;
#[path = "process/sigterm.rs"]
mod sigterm;
#[path = "process/steady.rs"]
mod steady;
#[path = "process/webhooks.rs"]
mod webhooks;
