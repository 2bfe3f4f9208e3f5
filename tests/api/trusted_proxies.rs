//! `ROSTER_TRUSTED_PROXIES`: `X-Forwarded-For`/`Forwarded` name the client
//! only when the TCP peer is a trusted proxy; the throttle and the audit log
//! follow. Settings outside their bounds stop the binary before it serves.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_json, spawn_app_with, TestApp, GOOD_PASSWORD};

/// A password grant for nobody, sent with `headers`.
async fn guess(app: &TestApp, headers: &[(&str, &str)]) -> Response {
    let mut request = app.client.post(app.url("/v1/auth/token")).form(&[
        ("grant_type", "password"),
        ("username", "nobody@acme.test"),
        ("password", "a wrong guess"),
    ]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn guess_from(app: &TestApp, forwarded_for: &str) -> StatusCode {
    guess(app, &[("x-forwarded-for", forwarded_for)])
        .await
        .status()
}

#[tokio::test]
async fn a_rotating_forwarded_header_from_an_untrusted_peer_stays_throttled() {
    for trusted in ["", "10.0.0.0/8, 192.168.0.0/16"] {
        let app = spawn_app_with(&[
            ("ROSTER_AUTH_RATE_LIMIT", "3"),
            ("ROSTER_TRUSTED_PROXIES", trusted),
        ])
        .await;
        // The admin's sign-in took one of the peer's three; each guess claims
        // to come from somewhere new.
        let mut statuses = Vec::new();
        for n in 1..=4 {
            let client = format!("203.0.113.{n}");
            let response = guess(
                &app,
                &[
                    ("x-forwarded-for", client.as_str()),
                    ("forwarded", &format!("for={client}")),
                ],
            )
            .await;
            statuses.push(response.status());
        }
        assert_eq!(
            statuses,
            [
                StatusCode::BAD_REQUEST,
                StatusCode::BAD_REQUEST,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::TOO_MANY_REQUESTS,
            ],
            "trusted proxies: {trusted:?}"
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = spawn_app_with(&[
        ("ROSTER_AUTH_RATE_LIMIT", "3"),
        ("ROSTER_TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(
            guess_from(&app, "203.0.113.1").await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        guess_from(&app, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Prepending an address of its choice does not give the client a new budget:
    // the right-most untrusted hop is still its own.
    assert_eq!(
        guess_from(&app, "198.51.100.7, 203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other clients behind the proxy are not affected, whichever header it uses.
    assert_eq!(
        guess_from(&app, "203.0.113.2").await,
        StatusCode::BAD_REQUEST
    );
    let via_forwarded = guess(&app, &[("forwarded", "for=\"[2001:db8::2]:4711\"")]).await;
    assert_eq!(via_forwarded.status(), StatusCode::BAD_REQUEST);
}

/// Creates a customer as the admin, sent with `headers`; returns the audit event.
async fn audited_creation(app: &TestApp, name: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = app
        .request(Method::POST, "/v1/customers", Some(app.admin_token()))
        .json(&json!({ "name": name }));
    for (header, value) in headers {
        request = request.header(*header, *value);
    }
    let customer = expect_json(request.send().await.unwrap(), StatusCode::CREATED).await;
    let events = app
        .audit_events(&format!(
            "action=customer.created&customer_id={}",
            customer["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    events[0].clone()
}

#[tokio::test]
async fn the_audit_log_records_the_forwarded_client_only_behind_a_trusted_proxy() {
    let spoofed = [("x-forwarded-for", "203.0.113.50")];

    let direct = spawn_app_with(&[]).await;
    let event = audited_creation(&direct, "Direct", &spoofed).await;
    assert_eq!(event["client_ip"], "127.0.0.1", "{event}");

    let proxied = spawn_app_with(&[("ROSTER_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let event = audited_creation(&proxied, "Proxied", &spoofed).await;
    assert_eq!(event["client_ip"], "203.0.113.50", "{event}");
    let event = audited_creation(&proxied, "Unforwarded", &[]).await;
    assert_eq!(event["client_ip"], "127.0.0.1", "{event}");

    // A person acting on their own account is recorded the same way.
    let cid = proxied.customer("Acme", None).await;
    let uid = proxied
        .add_new_user(&cid, "jane@acme.test", "full_access")
        .await;
    let token = proxied
        .token_from_email("activation", "jane@acme.test")
        .await;
    let activated = proxied
        .request(Method::POST, "/v1/auth/activate", None)
        .header("forwarded", "for=\"[2001:db8::5]\";proto=https")
        .json(&json!({"token": token, "password": GOOD_PASSWORD}))
        .send()
        .await
        .unwrap();
    expect_json(activated, StatusCode::OK).await;
    let events = proxied
        .audit_events(&format!("action=user.activated&user_id={uid}"))
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["client_ip"], "2001:db8::5", "{}", events[0]);
}

/// Runs `roster serve` with `setting` on top of a valid environment; it must
/// exit 2 at once, naming the variable. A binary that starts is stopped and
/// the test fails.
fn refuses_to_start(setting: (&str, &str), expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .env_clear()
        .env(
            "ROSTER_DATABASE_URL",
            dir.path().join("roster.db").to_str().unwrap(),
        )
        .env("ROSTER_BIND", "127.0.0.1:0")
        .env(setting.0, setting.1)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the roster binary runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("roster started with {}={}", setting.0, setting.1);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("configuration error: {expected}")),
        "{stderr}"
    );
}

#[test]
fn a_bad_or_unbounded_setting_stops_the_binary_naming_the_variable() {
    refuses_to_start(
        ("ROSTER_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
        "ROSTER_TRUSTED_PROXIES: `proxy.internal` is not a network",
    );
    refuses_to_start(
        ("ROSTER_REFRESH_TOKEN_TTL", "20y"),
        "ROSTER_REFRESH_TOKEN_TTL: 20years is out of range 1s..=10years",
    );
    refuses_to_start(
        ("ROSTER_DATABASE_POOL_SIZE", "0"),
        "ROSTER_DATABASE_POOL_SIZE: 0 is out of range 1..=1000",
    );
}
