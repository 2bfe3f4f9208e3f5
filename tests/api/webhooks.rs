//! Webhooks and the event feed (docs/webhooks.md): events written with
//! their change, signed deliveries (checked with the official Standard
//! Webhooks library and an independent HMAC), retries, ordering, tenancy,
//! the address rules, restart safety and two workers on one database.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{expect_json, expect_problem, spawn_app_with, TestApp};

/// The app with webhooks to private addresses allowed (the receiver is a
/// wiremock server on 127.0.0.1, over http), and the receiver.
async fn app_and_receiver(extra: &[(&str, &str)]) -> (TestApp, MockServer) {
    let mut settings = vec![("ROSTER_WEBHOOK_ALLOW_PRIVATE", "on")];
    settings.extend_from_slice(extra);
    let app = spawn_app_with(&settings).await;
    (app, MockServer::start().await)
}

async fn answer(receiver: &MockServer, status: u16) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(receiver)
        .await;
}

/// Makes an endpoint as `token`; (its id, its secret).
async fn endpoint(app: &TestApp, token: &str, body: Value) -> (String, String) {
    let made = app
        .post_json("/v1/webhook-endpoints", Some(token), &body)
        .await;
    let made = expect_json(made, StatusCode::CREATED).await;
    (
        made["id"].as_str().unwrap().to_string(),
        made["secret"].as_str().unwrap().to_string(),
    )
}

async fn platform_endpoint(app: &TestApp, receiver: &MockServer) -> (String, String) {
    let url = format!("{}/hook", receiver.uri());
    endpoint(app, app.admin_token(), json!({"url": url})).await
}

/// One round of the delivery worker.
async fn deliver(app: &TestApp) -> usize {
    roster::startup::delivery_worker(&app.state)
        .run_once()
        .await
}

/// What a receiver got: headers (lowercase names) and the raw body.
struct Received {
    headers: BTreeMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

async fn received(receiver: &MockServer) -> Vec<Received> {
    receiver
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|request| Received {
            headers: request
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_lowercase(),
                        value.to_str().unwrap_or("").to_string(),
                    )
                })
                .collect(),
            body: String::from_utf8(request.body).unwrap(),
        })
        .collect()
}

/// Checks a signature by the standard's recipe, independently of roster's code.
fn signed_by(secret: &str, delivery: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.{}",
            delivery.header("webhook-id"),
            delivery.header("webhook-timestamp"),
            delivery.body
        )
        .as_bytes(),
    );
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    delivery
        .header("webhook-signature")
        .split(' ')
        .any(|signature| signature == expected)
}

async fn deliveries(app: &TestApp, endpoint_id: &str) -> Vec<Value> {
    let page = app
        .admin_get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"))
        .await;
    page["items"].as_array().unwrap().clone()
}

async fn feed(app: &TestApp, token: &str, query: &str) -> Value {
    expect_json(
        app.get(&format!("/v1/events{query}"), Some(token)).await,
        StatusCode::OK,
    )
    .await
}

fn types_of(items: &Value) -> Vec<String> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_status_change_reaches_a_platform_endpoint_signed_with_from_and_to() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 204).await;
    let cid = app.customer("Acme", None).await;
    let uid = app
        .add_new_user(&cid, "jane@acme.test", "full_access")
        .await;
    app.activate("jane@acme.test").await;
    let (_, secret) = platform_endpoint(&app, &receiver).await;

    app.admin_set_status(&uid, "inactive").await;
    deliver(&app).await;

    let got = received(&receiver).await;
    let types: Vec<Value> = got.iter().map(|d| d.json()["type"].clone()).collect();
    assert_eq!(types, ["user.status_changed"]);
    let delivery = &got[0];
    assert!(signed_by(&secret, delivery), "{:?}", delivery.headers);
    assert_eq!(delivery.header("content-type"), "application/json");
    let body = delivery.json();
    assert_eq!(body["type"], "user.status_changed");
    assert_eq!(body["data"]["from"], "active");
    assert_eq!(body["data"]["to"], "inactive");
    assert_eq!(body["data"]["user"]["id"], json!(uid));
    assert_eq!(body["data"]["user"]["status"], "inactive");
    assert_eq!(body["data"]["actor"]["type"], "user");
    assert!(body["data"]["request_id"].is_string());
    // The user as User Info shows it, memberships aside.
    let mut info = app.user_info(&uid).await;
    info.as_object_mut().unwrap().remove("memberships");
    assert_eq!(body["data"]["user"], info);
    // The same event, with the same id, in the feed.
    let events = feed(&app, app.admin_token(), "?types=user.status_changed").await;
    assert_eq!(
        events["items"][0]["id"],
        json!(delivery.header("webhook-id"))
    );
    assert_eq!(events["items"][0]["data"], body["data"]);
}

/// The official library, in Python: `scripts/verify_webhook.py` (CI installs
/// `standardwebhooks` from PyPI and sets `STANDARDWEBHOOKS_PYTHON`).
fn verified_by_the_official_library(secret: &str, delivery: &Received) -> Option<bool> {
    use std::io::Write as _;
    let python = std::env::var("STANDARDWEBHOOKS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_webhook.py");
    let mut child = std::process::Command::new(&python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let input = json!({"secret": secret, "headers": delivery.headers, "body": delivery.body});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    match child.wait().unwrap().code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => None,
    }
}

#[tokio::test]
async fn the_standard_webhooks_library_verifies_deliveries_before_and_after_a_rotation() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 200).await;
    let (id, old_secret) = platform_endpoint(&app, &receiver).await;
    app.customer("Acme", None).await;
    deliver(&app).await;
    let rotated = app
        .post_empty(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            Some(app.admin_token()),
        )
        .await;
    let rotated = expect_json(rotated, StatusCode::OK).await;
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    app.customer("Bravo", None).await;
    deliver(&app).await;

    let got = received(&receiver).await;
    assert_eq!(got.len(), 2);
    assert!(signed_by(&old_secret, &got[0]));
    assert!(!signed_by(&new_secret, &got[0]));
    // During the overlap both secrets sign.
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 2);
    assert!(signed_by(&old_secret, &got[1]) && signed_by(&new_secret, &got[1]));
    let mut tampered = Received {
        headers: got[1].headers.clone(),
        body: got[1].body.replace("Bravo", "Brava"),
    };
    assert!(!signed_by(&new_secret, &tampered));

    let required = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(first) = verified_by_the_official_library(&old_secret, &got[0]) else {
        assert!(
            !required,
            "CI needs python with `standardwebhooks` (STANDARDWEBHOOKS_PYTHON)"
        );
        eprintln!("skipping the official-library check: no python with `standardwebhooks`");
        return;
    };
    assert!(first);
    assert_eq!(
        verified_by_the_official_library(&new_secret, &got[1]),
        Some(true)
    );
    assert_eq!(
        verified_by_the_official_library(&old_secret, &got[1]),
        Some(true)
    );
    assert_eq!(
        verified_by_the_official_library(&new_secret, &got[0]),
        Some(false)
    );
    tampered.headers = got[1].headers.clone();
    assert_eq!(
        verified_by_the_official_library(&new_secret, &tampered),
        Some(false)
    );
}

#[tokio::test]
async fn a_5xx_is_retried_with_the_same_webhook_id_until_it_is_delivered() {
    let (app, receiver) = app_and_receiver(&[]).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&receiver)
        .await;
    answer(&receiver, 200).await;
    let (id, _) = platform_endpoint(&app, &receiver).await;
    app.customer("Acme", None).await;

    deliver(&app).await;
    let first = deliveries(&app, &id).await;
    assert_eq!(first[0]["status"], "pending");
    assert_eq!(first[0]["attempts"], 1);
    assert_eq!(first[0]["response_status"], 500);
    assert!(first[0]["next_attempt_at"].is_string());
    assert!(first[0]["latency_ms"].is_number());
    // Not due yet: nothing is sent.
    deliver(&app).await;
    assert_eq!(received(&receiver).await.len(), 1);
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(120));
        deliver(&app).await;
    }
    let got = received(&receiver).await;
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|d| d.header("webhook-id") == got[0].header("webhook-id")));
    let done = deliveries(&app, &id).await;
    assert_eq!(done[0]["status"], "sent");
    assert_eq!(done[0]["attempts"], 3);
    assert_eq!(done[0]["response_status"], 200);
    assert!(done[0]["next_attempt_at"].is_null());
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_in_time_is_retried() {
    let (app, receiver) = app_and_receiver(&[("ROSTER_WEBHOOK_TIMEOUT", "300ms")]).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&receiver)
        .await;
    let (id, _) = platform_endpoint(&app, &receiver).await;
    app.customer("Acme", None).await;
    deliver(&app).await;
    let rows = deliveries(&app, &id).await;
    assert_eq!(rows[0]["status"], "pending");
    assert!(rows[0]["response_status"].is_null());
    assert!(
        rows[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within"),
        "{}",
        rows[0]
    );
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_says_why() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 410).await;
    let (id, _) = platform_endpoint(&app, &receiver).await;
    app.customer("Acme", None).await;
    app.customer("Bravo", None).await;
    deliver(&app).await;
    let shown = app.admin_get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(shown["enabled"], false);
    assert!(shown["disabled_reason"].as_str().unwrap().contains("410"));
    // Nothing more goes to it; its queued deliveries failed.
    let rows = deliveries(&app, &id).await;
    assert!(rows.iter().all(|row| row["status"] == "failed"), "{rows:?}");
    let sent = received(&receiver).await.len();
    app.customer("Charlie", None).await;
    deliver(&app).await;
    assert_eq!(received(&receiver).await.len(), sent);
    // A test needs it enabled again.
    let test = app
        .post_empty(
            &format!("/v1/webhook-endpoints/{id}/test"),
            Some(app.admin_token()),
        )
        .await;
    expect_problem(test, StatusCode::CONFLICT, "endpoint_disabled").await;
}

#[tokio::test]
async fn failing_for_the_whole_retry_window_disables_the_endpoint() {
    let (app, receiver) = app_and_receiver(&[("ROSTER_WEBHOOK_MAX_ATTEMPTS", "3")]).await;
    answer(&receiver, 503).await;
    let (id, _) = platform_endpoint(&app, &receiver).await;
    app.customer("Acme", None).await;
    for _ in 0..3 {
        deliver(&app).await;
        app.clock.advance(Duration::from_secs(60));
    }
    let shown = app.admin_get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(shown["enabled"], false, "{shown}");
    let reason = shown["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("3 attempts failed") && reason.contains("503"),
        "{reason}"
    );
    // Enabled again, a failed delivery can be retried, with the same id.
    let enabled = app
        .patch_json(
            &format!("/v1/webhook-endpoints/{id}"),
            Some(app.admin_token()),
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(expect_json(enabled, StatusCode::OK).await["enabled"], true);
    receiver.reset().await;
    answer(&receiver, 200).await;
    let failed = deliveries(&app, &id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let retried = app
        .post_empty(
            &format!("/v1/webhook-deliveries/{failed}/retry"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(
        expect_json(retried, StatusCode::OK).await["status"],
        "pending"
    );
    deliver(&app).await;
    assert_eq!(deliveries(&app, &id).await[0]["status"], "sent");
}

#[tokio::test]
async fn one_users_events_reach_an_endpoint_in_order_even_through_retries() {
    let (app, receiver) = app_and_receiver(&[]).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    answer(&receiver, 200).await;
    let cid = app.customer("Acme", None).await;
    let uid = app
        .add_new_user(&cid, "jane@acme.test", "full_access")
        .await;
    app.activate("jane@acme.test").await;
    platform_endpoint(&app, &receiver).await;
    app.admin_set_status(&uid, "inactive").await;
    app.admin_set_status(&uid, "active").await;
    app.admin_set_status(&uid, "retired").await;

    for _ in 0..6 {
        deliver(&app).await;
        app.clock.advance(Duration::from_secs(60));
    }
    let got = received(&receiver).await;
    let order: Vec<String> = got
        .iter()
        .map(|d| d.json()["data"]["to"].as_str().unwrap().to_string())
        .collect();
    // The first failed once and went again before the others.
    assert_eq!(order, ["inactive", "inactive", "active", "retired"]);
}

#[tokio::test]
async fn a_customers_endpoint_receives_only_that_customers_events() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 200).await;
    let a = app.customer("Acme", None).await;
    let b = app.customer("Bravo", None).await;
    let (_, admin_a) = app
        .invite_and_activate(&a, "admin@acme.test", "admin")
        .await;
    let url_a = format!("{}/a", receiver.uri());
    let url_b = format!("{}/b", receiver.uri());
    endpoint(&app, &admin_a, json!({"url": url_a, "customer_id": a})).await;
    endpoint(
        &app,
        app.admin_token(),
        json!({"url": url_b, "customer_id": b}),
    )
    .await;
    // A customer admin cannot make one for another customer, or the platform.
    let other = app
        .post_json(
            "/v1/webhook-endpoints",
            Some(&admin_a),
            &json!({"url": url_a, "customer_id": b}),
        )
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let platform = app
        .post_json(
            "/v1/webhook-endpoints",
            Some(&admin_a),
            &json!({"url": url_a}),
        )
        .await;
    assert_eq!(platform.status(), StatusCode::FORBIDDEN);

    let in_a = app.add_new_user(&a, "ann@acme.test", "full_access").await;
    let in_b = app.add_new_user(&b, "bob@bravo.test", "full_access").await;
    app.admin_set_status(&in_a, "retired").await;
    app.admin_set_status(&in_b, "retired").await;
    while deliver(&app).await > 0 {}

    let got = received(&receiver).await;
    let requests = receiver.received_requests().await.unwrap();
    for (delivery, request) in got.iter().zip(&requests) {
        let body = delivery.body.clone();
        match request.url.path() {
            "/a" => assert!(!body.contains(&in_b) && !body.contains("bravo"), "{body}"),
            "/b" => assert!(!body.contains(&in_a) && !body.contains("acme"), "{body}"),
            other => panic!("unexpected path {other}"),
        }
    }
    let to_a = requests.iter().filter(|r| r.url.path() == "/a").count();
    assert_eq!(
        to_a, 3,
        "user.invited, membership.added, user.status_changed"
    );

    // The feed is scoped the same way.
    let seen = feed(&app, &admin_a, "?limit=200").await;
    let text = seen.to_string();
    assert!(text.contains(&in_a) && !text.contains(&in_b) && !text.contains("bravo"));
    let member = app
        .invite_and_activate(&a, "m@acme.test", "full_access")
        .await
        .1;
    assert_eq!(
        app.get("/v1/events", Some(&member)).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_feed_reads_on_from_a_cursor_and_filters_by_type() {
    let app = spawn_app_with(&[]).await;
    let cid = app.customer("Acme", None).await;
    let uid = app
        .add_new_user(&cid, "jane@acme.test", "full_access")
        .await;
    let all = feed(&app, app.admin_token(), "").await;
    assert_eq!(
        types_of(&all),
        ["customer.created", "user.invited", "membership.added"]
    );
    let after = all["next_after"].as_str().unwrap().to_string();
    let nothing_new = feed(&app, app.admin_token(), &format!("?after={after}")).await;
    assert_eq!(nothing_new["items"], json!([]));
    assert_eq!(nothing_new["next_after"], json!(after));
    app.admin_set_status(&uid, "retired").await;
    let newer = feed(&app, app.admin_token(), &format!("?after={after}")).await;
    assert_eq!(types_of(&newer), ["user.status_changed"]);
    let only = feed(
        &app,
        app.admin_token(),
        "?types=membership.added,user.status_changed",
    )
    .await;
    assert_eq!(types_of(&only), ["membership.added", "user.status_changed"]);
    let first = feed(&app, app.admin_token(), "?limit=1").await;
    assert_eq!(types_of(&first), ["customer.created"]);

    let bad_type = app
        .get("/v1/events?types=user.exploded", Some(app.admin_token()))
        .await;
    expect_problem(
        bad_type,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let unknown = format!("?after={}", uuid::Uuid::new_v4());
    let gone = app
        .get(&format!("/v1/events{unknown}"), Some(app.admin_token()))
        .await;
    expect_problem(gone, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn an_event_exists_only_when_its_change_commits() {
    let app = spawn_app_with(&[("ROSTER_CONFIRMATION_EMAILS_PER_HOUR", "1")]).await;
    let cid = app.customer("Acme", None).await;
    let uid = app
        .add_new_user(&cid, "jane@acme.test", "full_access")
        .await;
    let edit = |title: &str| json!({"job_title": title, "confirmation_email": "boss@acme.test"});
    let first = app
        .update_user(app.admin_token(), &uid, &edit("Analyst"))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    // Over the confirmation cap: the edit is refused and commits nothing.
    let second = app
        .update_user(app.admin_token(), &uid, &edit("Director"))
        .await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    let updates = feed(&app, app.admin_token(), "?types=user.updated").await;
    assert_eq!(types_of(&updates), ["user.updated"]);
    assert_eq!(updates["items"][0]["data"]["user"]["job_title"], "Analyst");
}

#[tokio::test]
async fn what_people_do_themselves_and_lockouts_are_events_too() {
    let app = spawn_app_with(&[]).await;
    let cid = app.customer("Acme", None).await;
    let uid = app
        .add_new_user(&cid, "jane@acme.test", "full_access")
        .await;
    let tokens = app.activate("jane@acme.test").await;
    let changed = app
        .change_password(
            &tokens.access_token(),
            crate::helpers::GOOD_PASSWORD,
            "marble kettle horizon",
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    app.lock_out("jane@acme.test").await;
    let unlocked = app.unlock(app.admin_token(), &uid, "").await;
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    let deleted = app.delete_user(app.admin_token(), &uid, "").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let events = feed(
        &app,
        app.admin_token(),
        "?types=user.activated,user.password_changed,user.locked,user.unlocked,user.deleted",
    )
    .await;
    assert_eq!(
        types_of(&events),
        [
            "user.activated",
            "user.password_changed",
            "user.locked",
            "user.unlocked",
            "user.deleted"
        ]
    );
    let items = events["items"].as_array().unwrap();
    assert_eq!(
        items[0]["data"]["actor"],
        json!({"type": "user", "id": uid})
    );
    assert_eq!(items[2]["data"]["actor"]["type"], "system");
    assert_eq!(items[2]["data"]["user"]["locked"], true);
    assert_eq!(items[4]["data"]["user"], json!({"id": uid}));
}

#[tokio::test]
async fn internal_and_plain_http_addresses_are_refused_when_private_ones_are_not_allowed() {
    let app = spawn_app_with(&[]).await;
    for url in [
        "http://93.184.216.34/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://localhost/hook",
        "https://user:pw@93.184.216.34/hook",
        "not a url",
    ] {
        let refused = app
            .post_json(
                "/v1/webhook-endpoints",
                Some(app.admin_token()),
                &json!({"url": url}),
            )
            .await;
        let body = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
    }
    let public = app
        .post_json(
            "/v1/webhook-endpoints",
            Some(app.admin_token()),
            &json!({"url": "https://93.184.216.34/hook"}),
        )
        .await;
    assert_eq!(public.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_name_that_resolves_inside_is_refused_again_at_delivery() {
    // Made while private addresses were allowed (or by a name that resolved
    // outside then): at delivery the address is checked again.
    let receiver = MockServer::start().await;
    answer(&receiver, 200).await;
    let app = spawn_app_with(&[]).await;
    let port = receiver.address().port();
    for url in [
        format!("http://localhost:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
    ] {
        let id = roster::db::new_id();
        let now = app.clock.now_db();
        let row = roster::db::webhooks::EndpointRow {
            id: id.clone(),
            url,
            description: None,
            customer_id: None,
            event_types: "[]".into(),
            secret: "unused".into(),
            previous_secret: None,
            previous_secret_until: None,
            disabled_at: None,
            disabled_reason: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        app.state
            .write(move |conn, _| Ok(roster::db::webhooks::insert(conn, &row)?))
            .await
            .unwrap();
    }
    app.customer("Acme", None).await;
    deliver(&app).await;
    assert!(received(&receiver).await.is_empty());
}

#[tokio::test]
async fn a_delivery_claimed_by_a_crashed_worker_goes_out_once_its_lease_runs_out() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 200).await;
    let (id, _) = platform_endpoint(&app, &receiver).await;
    app.customer("Acme", None).await;
    let now = app.clock.now_db();
    let claimed = app
        .state
        .write(move |conn, _| {
            Ok(roster::db::outbox::claim_due(
                conn,
                "a-worker-killed-mid-send",
                now,
                now + time::Duration::minutes(1),
                10,
                roster::db::outbox::Lane::Webhooks,
            )?)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    deliver(&app).await;
    assert!(received(&receiver).await.is_empty(), "still leased");
    app.clock.advance(Duration::from_secs(61));
    deliver(&app).await;
    deliver(&app).await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("webhook-id"),
        claimed[0].event_id.as_deref().unwrap()
    );
    assert_eq!(deliveries(&app, &id).await[0]["status"], "sent");
}

#[tokio::test]
async fn two_workers_on_one_database_deliver_each_event_once() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 200).await;
    let cid = app.customer("Acme", None).await;
    let mut users = Vec::new();
    for n in 0..8 {
        users.push(
            app.add_new_user(&cid, &format!("u{n}@acme.test"), "full_access")
                .await,
        );
    }
    platform_endpoint(&app, &receiver).await;
    for uid in &users {
        app.admin_set_status(uid, "retired").await;
        app.admin_set_status(uid, "active").await;
    }
    let one = roster::startup::delivery_worker(&app.state);
    let two = roster::startup::delivery_worker(&app.state);
    loop {
        let (a, b) = tokio::join!(one.run_once(), two.run_once());
        if a + b == 0 {
            break;
        }
    }
    let got = received(&receiver).await;
    let mut ids: Vec<&str> = got.iter().map(|d| d.header("webhook-id")).collect();
    assert_eq!(ids.len(), 16);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "each event once");
    for uid in &users {
        let order: Vec<String> = got
            .iter()
            .map(Received::json)
            .filter(|body| body["data"]["user"]["id"] == json!(uid))
            .map(|body| body["data"]["to"].as_str().unwrap().to_string())
            .collect();
        // Reinstated before activation: invited again.
        assert_eq!(order, ["retired", "invited"]);
    }
}

#[tokio::test]
async fn a_test_sends_a_ping_to_that_endpoint_alone() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 200).await;
    let (id, secret) = platform_endpoint(&app, &receiver).await;
    let other = format!("{}/other", receiver.uri());
    endpoint(&app, app.admin_token(), json!({"url": other})).await;
    let sent = app
        .post_empty(
            &format!("/v1/webhook-endpoints/{id}/test"),
            Some(app.admin_token()),
        )
        .await;
    let sent = expect_json(sent, StatusCode::ACCEPTED).await;
    deliver(&app).await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    assert!(signed_by(&secret, &got[0]));
    assert_eq!(got[0].json()["type"], "ping");
    assert_eq!(got[0].json()["data"]["endpoint_id"], json!(id));
    assert_eq!(
        got[0].header("webhook-id"),
        sent["event_id"].as_str().unwrap()
    );
    // Never in the feed.
    assert_eq!(
        feed(&app, app.admin_token(), "?types=ping").await["items"],
        json!([])
    );
}

#[tokio::test]
async fn an_endpoint_gets_only_the_types_it_asked_for_and_the_secret_is_shown_once() {
    let (app, receiver) = app_and_receiver(&[]).await;
    answer(&receiver, 200).await;
    let url = format!("{}/hook", receiver.uri());
    let (id, secret) = endpoint(
        &app,
        app.admin_token(),
        json!({"url": url, "events": ["user.status_changed"], "description": "CRM sync"}),
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    assert!(STANDARD.decode(&secret[6..]).unwrap().len() >= 24);
    let shown = app.admin_get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert!(shown.get("secret").is_none());
    assert_eq!(shown["events"], json!(["user.status_changed"]));
    let listed = app.admin_get("/v1/webhook-endpoints").await;
    assert!(!listed.to_string().contains(&secret));
    let cid = app.customer("Acme", None).await;
    let uid = app
        .add_new_user(&cid, "jane@acme.test", "full_access")
        .await;
    app.admin_set_status(&uid, "retired").await;
    deliver(&app).await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "user.status_changed");
    let bad = app
        .post_json(
            "/v1/webhook-endpoints",
            Some(app.admin_token()),
            &json!({"url": url, "events": ["user.exploded"]}),
        )
        .await;
    expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let deleted = app
        .delete(
            &format!("/v1/webhook-endpoints/{id}"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app
        .get(
            &format!("/v1/webhook-endpoints/{id}"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn events_past_their_retention_are_pruned_by_housekeeping() {
    let app = spawn_app_with(&[
        ("ROSTER_EVENT_RETENTION", "1h"),
        ("ROSTER_ACCESS_TOKEN_TTL", "1d"),
    ])
    .await;
    app.customer("Acme", None).await;
    app.clock.advance(Duration::from_secs(3601));
    app.customer("Bravo", None).await;
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    let left = feed(&app, app.admin_token(), "").await;
    assert_eq!(left["items"].as_array().unwrap().len(), 1);
    assert_eq!(left["items"][0]["data"]["customer"]["name"], "Bravo");
}
