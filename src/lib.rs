//! roster: user administration for multi-tenant SaaS.

pub mod auth;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod rate_limit;
pub mod request_log;
pub mod routes;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod theme;
pub mod wal_checkpoint;
pub mod webhooks;
