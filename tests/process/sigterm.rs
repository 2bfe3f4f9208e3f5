//! SIGTERM while sign-ins (argon2) and sends to a slow provider are in
//! flight: the requests get their normal answers, the sends finish or are
//! given back, and the process exits 0 well within the shutdown timeout.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestDatabase, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{
    add_person, client, create_customer, fake_postmark, pairs, postmark_env, received_emails,
    sign_in, Inspector, Roster, SERIAL,
};

/// actix-web's graceful shutdown timeout (`startup::serve`).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
const SIGN_INS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_and_sends_in_flight_finish_and_exits_zero() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let db = TestDatabase::create();
    let provider = fake_postmark(Duration::from_secs(1)).await;
    let mut env = postmark_env(&provider);
    env.push(("ROSTER_MAIL_TIMEOUT", "5s".into()));
    env.push(("ROSTER_MAIL_CONCURRENCY", "4".into()));
    // Every sign-in of the burst gets a place in the hashing queue: this test
    // is about finishing work in flight, not about shedding.
    env.push(("ROSTER_HASH_QUEUE", "256".into()));
    let mut roster = Roster::start(&db.url, &pairs(&env)).await;
    let http = client();
    let token = sign_in(&http, &roster, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let customer = create_customer(&http, &roster, &token, "Graceful Gas").await;
    for n in 0..24 {
        add_person(
            &http,
            &roster,
            &token,
            &customer,
            &format!("term-{n}@roster.test"),
        )
        .await;
    }

    // Sends in flight: the provider has requests it has not answered yet.
    let inspector = Inspector::open(&db.url);
    let deadline = Instant::now() + Duration::from_secs(20);
    while received_emails(&provider).await.is_empty() {
        assert!(Instant::now() < deadline, "no send started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Sign-ins in flight: more than the hashing threads finish in 150 ms,
    // fewer than the hashing queue sheds.
    let sign_ins: Vec<_> = (0..SIGN_INS)
        .map(|_| {
            let (http, url) = (http.clone(), roster.url("/v1/auth/token"));
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .form(&[
                        ("grant_type", "password"),
                        ("username", ADMIN_EMAIL),
                        ("password", ADMIN_PASSWORD),
                    ])
                    .send()
                    .await;
                let answered_at = Instant::now();
                match response {
                    Ok(response) => {
                        let status = response.status();
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        (Ok((status, body)), answered_at)
                    }
                    Err(err) => (Err(err.to_string()), answered_at),
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let claimed_before: Vec<String> = inspector
        .outbox()
        .into_iter()
        .filter(|row| row.status.as_str() == "pending" && row.lease_owner.is_some())
        .map(|row| row.id)
        .collect();
    let received_before = received_emails(&provider).await.len();
    roster.sigterm();
    let signalled = Instant::now();

    let mut answered_after_signal = 0;
    for task in sign_ins {
        let (outcome, answered_at) = task.await.unwrap();
        let (status, body) = outcome.unwrap_or_else(|err| {
            panic!(
                "a sign-in in flight got no answer: {err}\nlog:\n{}",
                roster.log_tail(30)
            )
        });
        assert_eq!(status, StatusCode::OK, "a sign-in in flight: {body}");
        assert!(body["access_token"].is_string(), "{body}");
        if answered_at > signalled {
            answered_after_signal += 1;
        }
    }
    let exit = roster
        .wait_exit(SHUTDOWN_TIMEOUT + Duration::from_secs(5))
        .await;
    let shutdown = signalled.elapsed();
    let exit = exit.unwrap_or_else(|| {
        panic!(
            "roster still runs {} s after SIGTERM:\n{}",
            shutdown.as_secs(),
            roster.log_tail(30)
        )
    });
    println!(
        "SIGTERM with {answered_after_signal}/{SIGN_INS} sign-ins and {} claimed sends in flight ({received_before} sends started): exit {exit} after {:.2} s",
        claimed_before.len(),
        shutdown.as_secs_f64()
    );
    assert!(
        answered_after_signal > 0,
        "every sign-in finished before SIGTERM: nothing was in flight"
    );
    assert!(
        !claimed_before.is_empty(),
        "no send was claimed at SIGTERM: nothing was in flight"
    );
    assert_eq!(
        exit.code(),
        Some(0),
        "roster did not exit 0 after SIGTERM:\n{}",
        roster.log_tail(30)
    );
    assert!(
        shutdown < SHUTDOWN_TIMEOUT,
        "shutdown took {shutdown:?}, the whole timeout"
    );
    assert!(
        !roster.log_messages("roster stopped").is_empty()
            && !roster
                .log_messages("email delivery worker stopped")
                .is_empty(),
        "no clean stop in the log:\n{}",
        roster.log_tail(30)
    );
    assert!(
        roster.log_errors().is_empty(),
        "errors logged: {:#?}",
        roster.log_errors()
    );

    // Nothing stays claimed by the stopped process; in-flight sends finished.
    let rows = inspector.outbox();
    let stuck: Vec<_> = rows
        .iter()
        .filter(|row| row.lease_owner.is_some() || row.lease_expires_at.is_some())
        .map(|row| (&row.id, &row.status, &row.lease_expires_at))
        .collect();
    assert!(
        stuck.is_empty(),
        "rows still claimed after a clean stop: {stuck:?}"
    );
    assert!(
        rows.iter()
            .all(|row| row.status.as_str() == "sent" || row.status.as_str() == "pending"),
        "{:?}",
        rows.iter()
            .map(|r| (&r.status, &r.last_error))
            .collect::<Vec<_>>()
    );
    let sent = rows
        .iter()
        .filter(|row| row.status.as_str() == "sent")
        .count();
    let received = received_emails(&provider).await.len();
    assert!(
        sent <= received,
        "{sent} rows marked sent, {received} sends received"
    );
    for id in &claimed_before {
        let row = rows
            .iter()
            .find(|row| &row.id == id)
            .expect("the row stays");
        assert!(
            row.status.as_str() == "sent" || row.status.as_str() == "pending",
            "a send in flight at SIGTERM ended as {row:?}"
        );
    }
    println!(
        "after the stop: {sent} sent, {} pending, {received} sends received",
        rows.len() - sent
    );

    // A new process sends the rest: nothing was lost.
    let restarted = Roster::start(&db.url, &pairs(&env)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !inspector
        .outbox()
        .iter()
        .all(|row| row.status.as_str() == "sent")
    {
        assert!(
            Instant::now() < deadline,
            "emails left unsent after the restart:\n{}",
            restarted.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("test took {:.1} s", started.elapsed().as_secs_f64());
}
