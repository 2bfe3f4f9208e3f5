//! Two `roster serve` processes on one database deliver webhooks together;
//! one is killed with SIGKILL while deliveries are in flight, and every
//! event still reaches the receiver: at least once, and more than once only
//! for what the dead process had claimed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestDatabase, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{add_person, client, create_customer, sign_in, Roster, SERIAL};

const ENV: [(&str, &str); 6] = [
    ("ROSTER_WEBHOOK_ALLOW_PRIVATE", "on"),
    ("ROSTER_WEBHOOK_TIMEOUT", "1s"),
    ("ROSTER_MAIL_TIMEOUT", "1s"),
    ("ROSTER_MAIL_LEASE", "3s"),
    ("ROSTER_MAIL_POLL_INTERVAL", "50ms"),
    (
        "ROSTER_WEBHOOK_SEALING_KEY",
        "a shared sealing key for both instances",
    ),
];

/// `webhook-id` → how many times it arrived.
async fn arrivals(receiver: &MockServer) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for request in receiver.received_requests().await.unwrap_or_default() {
        let id = request.headers["webhook-id"].to_str().unwrap().to_string();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

#[tokio::test]
async fn two_instances_deliver_every_event_and_a_sigkill_loses_none() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let receiver = MockServer::start().await;
    // Slow enough that deliveries are in flight when one process dies.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(150)))
        .mount(&receiver)
        .await;
    let mut doomed = Roster::start(&db.url, &ENV).await;
    let survivor = Roster::start(&db.url, &ENV).await;
    let http = client();
    let token = sign_in(&http, &survivor, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let made = http
        .post(survivor.url("/v1/webhook-endpoints"))
        .bearer_auth(&token)
        .json(&json!({"url": format!("{}/hook", receiver.uri())}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let customer = create_customer(&http, &survivor, &token, "Two Instances").await;
    for n in 0..30 {
        add_person(
            &http,
            &survivor,
            &token,
            &customer,
            &format!("p{n}@two.test"),
        )
        .await;
    }
    // Every event of the feed, by id.
    let feed: Value = http
        .get(survivor.url("/v1/events?limit=200"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Vec<String> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        events.len(),
        61,
        "customer.created, then user.invited and membership.added each"
    );

    // Kill one process once deliveries are under way.
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals(&receiver).await.len() < 10 {
        assert!(
            Instant::now() < deadline,
            "no deliveries:\n{}",
            doomed.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.sigkill();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = arrivals(&receiver).await;
        if events.iter().all(|id| seen.contains_key(id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} events arrived:\n{}",
            seen.len(),
            events.len(),
            survivor.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = arrivals(&receiver).await;
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    println!(
        "{} events, {} deliveries, repeated after the kill: {repeated:?}",
        events.len(),
        seen.values().sum::<usize>()
    );
    // Only what the dead process held may arrive twice: its sends in flight
    // and its local queue, each at most the concurrency (4 by default).
    assert!(repeated.len() <= 8, "{repeated:?}");
    assert!(repeated.iter().all(|(_, n)| **n == 2), "{repeated:?}");
    assert!(seen.keys().all(|id| events.contains(id)));
}
