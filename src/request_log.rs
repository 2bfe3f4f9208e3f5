//! What the log says about requests, so that its size follows what the
//! operator must act on rather than what clients send.
//!
//! - Each request ends with one `request finished` line of target
//!   `roster::access`: at `INFO` (an access log), but at `DEBUG` for a 4xx.
//! - Client errors are counted instead, and every [`SUMMARY_INTERVAL`] (and
//!   when roster stops) summed up: one `WARN` line per route that shed
//!   requests with 429 ("shed 12345 sign-ins in the last 60 s, top client
//!   203.0.113.7") and one `INFO` line for all other 4xx. The requests metrics
//!   count every one.
//! - A 5xx logs its cause at `ERROR` ([`server_error`]), cut to
//!   [`MAX_CAUSE_CHARS`]; every other field of a line is bounded already
//!   (route templates, a closed set of methods, request ids of at most 128
//!   characters), so no line grows with what a client sends.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use tracing::Span;

use crate::error::ApiError;

/// How often client errors are summed up in the log.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);
/// Distinct clients counted per summary line; beyond them a client still
/// counts in the total but cannot become the top client.
pub const MAX_CLIENTS: usize = 1024;
/// The longest cause a 5xx line carries, in characters.
pub const MAX_CAUSE_CHARS: usize = 1000;

/// The route whose 429s are sign-ins.
const TOKEN_ROUTE: &str = "/v1/auth/token";

/// Logs the end of a request (from the root span) and counts a client error.
pub fn finished<B: MessageBody>(
    span: &Span,
    outcome: &Result<ServiceResponse<B>, actix_web::Error>,
) {
    let (status, request) = match outcome {
        Ok(response) => (response.status(), Some(response.request())),
        Err(error) => (error.as_response_error().status_code(), None),
    };
    let code = status.as_u16();
    span.record("status", code);
    if !status.is_client_error() {
        span.in_scope(
            || tracing::info!(target: "roster::access", status = code, "request finished"),
        );
        return;
    }
    span.in_scope(|| tracing::debug!(target: "roster::access", status = code, "request finished"));
    let route = request.map_or_else(|| "unmatched".to_string(), crate::metrics::route_label);
    let client = request.and_then(|r| r.peer_addr()).map(|peer| peer.ip());
    WINDOW
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .count(status, route, client);
}

/// Logs the cause of a 5xx at `ERROR` (called where the error is rendered,
/// inside the request's span), bounded in size.
pub fn server_error(error: &ApiError) {
    match error {
        ApiError::Internal(cause) => tracing::error!(cause = %bounded(cause), "request failed"),
        ApiError::Unavailable(cause) => {
            tracing::error!(cause = %bounded(cause), "database unavailable")
        }
        _ => {}
    }
}

/// `text` cut to [`MAX_CAUSE_CHARS`] characters, with `…` when cut.
pub fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_CAUSE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    }
}

/// Sums up the client errors every [`SUMMARY_INTERVAL`], and once more when
/// `stopped` turns true (so a flood just before a stop is not lost).
pub fn spawn(mut stopped: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SUMMARY_INTERVAL) => report(),
                _ = stopped.changed() => {
                    report();
                    break;
                }
            }
        }
    })
}

/// Logs the summary of the window so far and starts a new one.
pub fn report() {
    let window = std::mem::take(&mut *WINDOW.lock().unwrap_or_else(PoisonError::into_inner));
    window.log();
}

static WINDOW: Mutex<Window> = Mutex::new(Window::new());

/// Client errors since the last summary.
struct Window {
    started: Option<Instant>,
    /// 429s by route.
    shed: BTreeMap<String, Tally>,
    /// Every other 4xx, by status.
    client_errors: BTreeMap<u16, u64>,
    client_error_clients: Clients,
}

impl Default for Window {
    fn default() -> Self {
        Window::new()
    }
}

impl Window {
    const fn new() -> Self {
        Window {
            started: None,
            shed: BTreeMap::new(),
            client_errors: BTreeMap::new(),
            client_error_clients: Clients::new(),
        }
    }

    fn count(&mut self, status: StatusCode, route: String, client: Option<IpAddr>) {
        self.started.get_or_insert_with(Instant::now);
        if status == StatusCode::TOO_MANY_REQUESTS {
            let tally = self.shed.entry(route).or_default();
            tally.count += 1;
            tally.clients.count(client);
        } else {
            *self.client_errors.entry(status.as_u16()).or_insert(0) += 1;
            self.client_error_clients.count(client);
        }
    }

    fn log(&self) {
        let Some(started) = self.started else {
            return;
        };
        let seconds = started.elapsed().as_secs().max(1);
        for (route, tally) in &self.shed {
            let what = if route == TOKEN_ROUTE {
                "sign-ins".to_string()
            } else {
                format!("requests to {route}")
            };
            let (top_client, top_client_count) = tally.clients.top();
            tracing::warn!(
                count = tally.count,
                seconds,
                route = %route,
                top_client = %top_client,
                top_client_count,
                "shed {} {what} in the last {seconds} s, top client {top_client}",
                tally.count
            );
        }
        let count: u64 = self.client_errors.values().sum();
        if count > 0 {
            let mut statuses = String::new();
            for (status, n) in &self.client_errors {
                let separator = if statuses.is_empty() { "" } else { ", " };
                let _ = write!(statuses, "{separator}{status}: {n}");
            }
            let (top_client, top_client_count) = self.client_error_clients.top();
            tracing::info!(
                count,
                seconds,
                statuses = %statuses,
                top_client = %top_client,
                top_client_count,
                "answered {count} requests with a client error in the last {seconds} s ({statuses}), top client {top_client}"
            );
        }
    }
}

#[derive(Default)]
struct Tally {
    count: u64,
    clients: Clients,
}

/// Requests per client address, for at most [`MAX_CLIENTS`] addresses.
#[derive(Default)]
struct Clients {
    counts: Option<HashMap<IpAddr, u64>>,
}

impl Clients {
    const fn new() -> Self {
        Clients { counts: None }
    }

    fn count(&mut self, client: Option<IpAddr>) {
        let Some(client) = client else {
            return;
        };
        let counts = self.counts.get_or_insert_with(HashMap::new);
        if let Some(n) = counts.get_mut(&client) {
            *n += 1;
        } else if counts.len() < MAX_CLIENTS {
            counts.insert(client, 1);
        }
    }

    /// The client with the most requests (`unknown` when none has an address).
    fn top(&self) -> (String, u64) {
        self.counts
            .iter()
            .flatten()
            .max_by_key(|(_, n)| **n)
            .map(|(ip, n)| (ip.to_string(), *n))
            .unwrap_or_else(|| ("unknown".to_string(), 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_cut_at_a_character_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(MAX_CAUSE_CHARS + 5);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_CAUSE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_window_tallies_sheds_by_route_and_other_errors_by_status() {
        let mut window = Window::new();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..3 {
            window.count(StatusCode::TOO_MANY_REQUESTS, TOKEN_ROUTE.into(), Some(a));
        }
        window.count(StatusCode::TOO_MANY_REQUESTS, TOKEN_ROUTE.into(), Some(b));
        window.count(StatusCode::NOT_FOUND, "unmatched".into(), Some(b));
        window.count(StatusCode::UNAUTHORIZED, "/v1/me".into(), None);
        let shed = &window.shed[TOKEN_ROUTE];
        assert_eq!(shed.count, 4);
        assert_eq!(shed.clients.top(), (a.to_string(), 3));
        assert_eq!(window.client_errors[&404], 1);
        assert_eq!(window.client_errors[&401], 1);
        assert_eq!(window.client_error_clients.top(), (b.to_string(), 1));
    }

    #[test]
    fn clients_beyond_the_cap_count_in_totals_only() {
        let mut window = Window::new();
        for n in 0..(MAX_CLIENTS as u32 + 100) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(n));
            window.count(StatusCode::TOO_MANY_REQUESTS, TOKEN_ROUTE.into(), Some(ip));
        }
        let shed = &window.shed[TOKEN_ROUTE];
        assert_eq!(shed.count, MAX_CLIENTS as u64 + 100);
        assert_eq!(shed.clients.counts.as_ref().unwrap().len(), MAX_CLIENTS);
    }
}
