//! Steady under sustained load: memory does not grow with the number of
//! requests when nothing scrapes `/metrics`, no request can add a metric
//! series, and a flood of refused sign-ins is summarised in the log instead
//! of writing a line each.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::distributions::Alphanumeric;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestDatabase, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{client, curl, free_port, proc_status, sign_in, Roster, Shot, SERIAL};

/// Requests sent while nothing scrapes, and what they may add to the
/// process's own (anonymous) memory. The issue asks for under 5 MB; an
/// unscraped recorder keeps 8 bytes a request, 1.7-1.8 MB here (measured
/// before the fix), which 5 MB would let through: the bound is 1 MiB.
/// Upkeep leaves at most 5 s of samples (about 0.1 MB) and growth of 0 to
/// 50 KiB was measured with it.
const UNSCRAPED_REQUESTS: usize = 200_000;
const WARM_UP_REQUESTS: usize = 30_000;
const GROWTH_BOUND_KIB: u64 = 1024;
/// Requests with made-up methods, and how many come before the first count.
const INVENTED_REQUESTS: usize = 100_000;
const FIRST_INVENTED: usize = 2_000;
/// Sign-ins refused by the full hashing queue, and the lines they may cost.
const SHED_SIGN_INS: usize = 5_000;
const FLOOD_LINE_BOUND: usize = 50;
const CURL_PROCESSES: usize = 4;
const STANDARD_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];
/// What an operator who wants no access log runs with (and what the issue's
/// measurements ran with): per-request spans and lines cost nothing.
const QUIET: &str = "warn";

fn unscraped_mix(roster: &Roster, token: &str, user_id: &str, total: usize) -> Vec<Shot> {
    // Mostly the cheapest request there is, so the count is high; one in
    // eight is a 404, one in 256 reads a user with a token (a debug build
    // takes 10 times as long for that).
    let user = Shot {
        bearer: Some(token.to_string()),
        ..Shot::get(&roster.url(&format!("/v1/users/{user_id}")))
    };
    let (healthz, nowhere) = (
        Shot::get(&roster.url("/healthz")),
        Shot::get(&roster.url("/no/such/place")),
    );
    (0..total)
        .map(|n| match (n % 256, n % 8) {
            (0, _) => user.clone(),
            (_, 1) => nowhere.clone(),
            _ => healthz.clone(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_scrape_do_not_grow_memory() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let bind = format!("127.0.0.1:{}", free_port());
    let roster = Roster::start(
        &db.url,
        &[
            ("ROSTER_MAIL_WORKER", "off"),
            ("RUST_LOG", QUIET),
            ("ROSTER_BIND", &bind),
        ],
    )
    .await;
    let http = client();
    let token = sign_in(&http, &roster, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let me: Value = http
        .get(roster.url("/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_id = me["id"].as_str().unwrap();

    // Warm up: connections, pools, caches and allocator arenas settle.
    curl(
        unscraped_mix(&roster, &token, user_id, WARM_UP_REQUESTS),
        CURL_PROCESSES,
    )
    .await;
    let before = proc_status(roster.pid, "RssAnon:");
    let statuses = curl(
        unscraped_mix(&roster, &token, user_id, UNSCRAPED_REQUESTS),
        CURL_PROCESSES,
    )
    .await;
    let after = proc_status(roster.pid, "RssAnon:");

    let not_found = (0..UNSCRAPED_REQUESTS)
        .filter(|n| n % 256 != 0 && n % 8 == 1)
        .count();
    let expected = BTreeMap::from([(200, UNSCRAPED_REQUESTS - not_found), (404, not_found)]);
    assert_eq!(statuses, expected, "every request is answered");
    let growth = after.saturating_sub(before);
    eprintln!(
        "anonymous memory {before} KiB -> {after} KiB over {UNSCRAPED_REQUESTS} requests (+{growth} KiB)"
    );
    assert!(
        growth < GROWTH_BOUND_KIB,
        "{UNSCRAPED_REQUESTS} requests with no scrape grew anonymous memory by {growth} KiB \
         ({before} -> {after} KiB), bound {GROWTH_BOUND_KIB} KiB"
    );
}

/// `(name, labels)` of every sample line of the request metrics.
fn request_series(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("roster_http_requests_total{")
                || line.starts_with("roster_http_request_duration_seconds_count{")
        })
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_string()))
        .collect()
}

/// The values of `label` in a series line such as `name{a="1",b="2"}`.
fn label<'a>(series: &'a str, label: &str) -> Option<&'a str> {
    let start = series.find(&format!("{label}=\""))? + label.len() + 2;
    let rest = &series[start..];
    Some(&rest[..rest.find('"')?])
}

async fn scrape(roster: &Roster) -> String {
    let response = client().get(roster.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_and_paths_add_no_metric_series() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let bind = format!("127.0.0.1:{}", free_port());
    let roster = Roster::start(
        &db.url,
        &[
            ("ROSTER_MAIL_WORKER", "off"),
            ("RUST_LOG", QUIET),
            ("ROSTER_BIND", &bind),
        ],
    )
    .await;
    let base = roster.address.clone();
    // A made-up method (3 to 12 letters, now and then 200) on a known
    // route, a route with a random id, or a random path.
    let invented = |count: usize| -> Vec<Shot> {
        let mut rng = rand::thread_rng();
        (0..count)
            .map(|n| {
                let length = if n % 97 == 0 {
                    200
                } else {
                    rng.gen_range(3..=12)
                };
                let method = loop {
                    let name: String = (0..length)
                        .map(|_| char::from(rng.gen_range(b'A'..=b'Z')))
                        .collect();
                    if !STANDARD_METHODS.contains(&name.as_str()) {
                        break name;
                    }
                };
                let noise: String = (&mut rng)
                    .sample_iter(&Alphanumeric)
                    .take(12)
                    .map(char::from)
                    .collect();
                let path = match n % 4 {
                    0 => "/healthz".to_string(),
                    1 => format!("/v1/users/{}", uuid::Uuid::new_v4()),
                    2 => format!("/v1/{noise}"),
                    _ => format!("/{noise}/{noise}"),
                };
                Shot {
                    method,
                    url: format!("{base}{path}"),
                    bearer: None,
                    header: None,
                }
            })
            .collect()
    };

    // The scrape below counts itself in the next one.
    scrape(&roster).await;
    curl(invented(FIRST_INVENTED), CURL_PROCESSES).await;
    let first = request_series(&scrape(&roster).await);
    let mut sent = FIRST_INVENTED;
    while sent < INVENTED_REQUESTS {
        let batch = 14_000.min(INVENTED_REQUESTS - sent);
        let statuses = curl(invented(batch), CURL_PROCESSES).await;
        assert!(
            statuses.keys().all(|status| (400..500).contains(status)),
            "made-up methods are answered with a 4xx: {statuses:?}"
        );
        sent += batch;
        let now = request_series(&scrape(&roster).await);
        let added: Vec<_> = now.difference(&first).take(5).collect();
        assert!(
            added.is_empty(),
            "{} series appeared after {sent} requests with made-up methods, e.g. {added:?}",
            now.len().saturating_sub(first.len())
        );
    }
    for series in &first {
        let method = label(series, "method").unwrap_or_default();
        assert!(
            STANDARD_METHODS.contains(&method) || method == "other",
            "method label {method:?} in {series}"
        );
        let route = label(series, "route").unwrap_or_default();
        assert!(
            route == "unmatched" || route.starts_with('/') && route.len() < 64,
            "route label {route:?} in {series}"
        );
    }
    assert!(
        first
            .iter()
            .any(|series| label(series, "method") == Some("other")),
        "the made-up methods are counted, as `other`: {first:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_shed_sign_ins_is_summarised_not_logged_line_by_line() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    // One hashing slot and no queue: every sign-in beyond the one being
    // hashed is shed.
    let mut roster = Roster::start(
        &db.url,
        &[
            ("ROSTER_MAIL_WORKER", "off"),
            ("ROSTER_HASH_CONCURRENCY", "1"),
            ("ROSTER_HASH_QUEUE", "0"),
        ],
    )
    .await;
    let token_url = roster.url("/v1/auth/token");
    let shed = Arc::new(AtomicUsize::new(0));
    let others = Arc::new(AtomicUsize::new(0));
    let http = client();
    let from = roster.log_len();
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let (http, url, shed, others) = (
                http.clone(),
                token_url.clone(),
                shed.clone(),
                others.clone(),
            );
            tokio::spawn(async move {
                while shed.load(Ordering::Relaxed) < SHED_SIGN_INS {
                    let email = format!("nobody-{n}@flood.test");
                    let response = http
                        .post(&url)
                        .form(&[
                            ("grant_type", "password"),
                            ("username", email.as_str()),
                            ("password", "not the password at all"),
                        ])
                        .send()
                        .await
                        .unwrap();
                    match response.status() {
                        StatusCode::TOO_MANY_REQUESTS => shed.fetch_add(1, Ordering::Relaxed),
                        StatusCode::BAD_REQUEST => others.fetch_add(1, Ordering::Relaxed),
                        status => panic!("a sign-in flood answered {status}"),
                    };
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let shed = shed.load(Ordering::Relaxed);
    let refused = others.load(Ordering::Relaxed);
    assert!(shed >= SHED_SIGN_INS);

    // Metrics count every one.
    let metrics = scrape(&roster).await;
    let counted: usize = metrics
        .lines()
        .filter(|line| {
            line.starts_with("roster_http_requests_total{")
                && label(line, "route") == Some("/v1/auth/token")
                && label(line, "status") == Some("429")
        })
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as usize;
    assert_eq!(counted, shed, "every shed sign-in is counted");

    // The log: a few lines at most, and at the end (SIGTERM flushes the
    // window) one warning that sums the flood up.
    let flood_lines = roster.log_since(from);
    assert!(
        flood_lines.len() < FLOOD_LINE_BOUND,
        "{shed} shed and {refused} refused sign-ins wrote {} lines at the default level, e.g.\n{}",
        flood_lines.len(),
        flood_lines[..flood_lines.len().min(4)].join("\n")
    );
    roster.sigterm();
    assert!(roster.wait_exit(Duration::from_secs(40)).await.is_some());
    let lines = roster.log_since(from);
    assert!(
        lines.len() < FLOOD_LINE_BOUND,
        "{} lines in all",
        lines.len()
    );
    let entries: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let summary = entries
        .iter()
        .find(|entry| entry["level"] == "WARN" && entry["route"] == "/v1/auth/token")
        .unwrap_or_else(|| panic!("no warning sums up the flood:\n{}", lines.join("\n")));
    assert_eq!(summary["count"].as_u64(), Some(shed as u64), "{summary}");
    assert_eq!(summary["top_client"], "127.0.0.1", "{summary}");
    let message = summary["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("shed {shed} sign-ins in the last ")),
        "{message}"
    );
    assert!(message.ends_with(", top client 127.0.0.1"), "{message}");
    // Every other 4xx of the window is summed up too, at INFO.
    let client_errors = entries
        .iter()
        .filter(|entry| entry["level"] == "INFO")
        .filter_map(|entry| entry["message"].as_str())
        .find(|message| message.starts_with("answered "))
        .unwrap_or_else(|| panic!("no summary of the 400s:\n{}", lines.join("\n")));
    assert!(
        client_errors.contains(&format!("(400: {refused})")),
        "{client_errors}"
    );
}

/// Distinct client addresses that sign in once each, and how long an entry of
/// the throttle lives at the limit below: ten seconds to refill, then up to
/// one pruning interval (10 s) until it is dropped.
const DISTINCT_CLIENTS: usize = 5_000;
const THROTTLE_PER_MINUTE: &str = "6";
const FORGOTTEN_WITHIN: Duration = Duration::from_secs(45);

/// `roster_auth_throttle_clients` as `/metrics` reports it now.
async fn throttled_clients(roster: &Roster) -> usize {
    let metrics = scrape(roster).await;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("roster_auth_throttle_clients "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .expect("the throttle reports its clients") as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_throttle_forgets_clients_once_their_quota_refills() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let bind = format!("127.0.0.1:{}", free_port());
    let roster = Roster::start(
        &db.url,
        &[
            ("ROSTER_MAIL_WORKER", "off"),
            ("RUST_LOG", QUIET),
            ("ROSTER_BIND", &bind),
            ("ROSTER_AUTH_RATE_LIMIT", THROTTLE_PER_MINUTE),
            ("ROSTER_TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    )
    .await;
    // Behind a trusted proxy every request names another client.
    let shots = (0..DISTINCT_CLIENTS)
        .map(|n| Shot {
            method: "POST".into(),
            header: Some(format!("X-Forwarded-For: 10.7.{}.{}", n / 256, n % 256)),
            ..Shot::get(&roster.url("/v1/auth/token"))
        })
        .collect();
    let statuses = curl(shots, CURL_PROCESSES).await;
    assert_eq!(statuses.get(&429), None, "no client went over its quota");
    assert_eq!(statuses.values().sum::<usize>(), DISTINCT_CLIENTS);

    let tracked = throttled_clients(&roster).await;
    eprintln!("the throttle tracks {tracked} clients after {DISTINCT_CLIENTS} sign-ins");
    assert!(
        tracked > DISTINCT_CLIENTS / 2,
        "the throttle holds the recent clients ({tracked})"
    );
    let deadline = std::time::Instant::now() + FORGOTTEN_WITHIN;
    loop {
        let tracked = throttled_clients(&roster).await;
        if tracked == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{tracked} clients are still tracked {FORGOTTEN_WITHIN:?} after their last request"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
