//! SIGKILL in the middle of a mixed admin load, then a restart on the same
//! database: nothing half-written, no lost outbox row, and every email the
//! dead process had claimed goes out once its lease runs out.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{link_token, TestDatabase, ADMIN_EMAIL, ADMIN_PASSWORD, GOOD_PASSWORD};
use crate::support::{
    activate, add_person, client, create_customer, fake_postmark, pairs, postmark_env,
    received_emails, sign_in, tally, Inspector, Roster, SERIAL,
};

/// What the load saw answered (and therefore committed).
#[derive(Default)]
struct Ledger {
    /// `(kind, recipient)` of every email a successful answer implies.
    expected: Vec<(String, String)>,
    /// Users added (201 on the first customer).
    added: usize,
    /// Answers of every kind, by status.
    statuses: HashMap<u16, usize>,
    /// Answers the load did not expect (a bug unless the process died).
    unexpected: Vec<String>,
}

struct Load {
    roster_url: String,
    token: String,
    first: String,
    second: String,
    /// An active user the load sends reset emails to.
    active_user: (String, String),
    ledger: Arc<Mutex<Ledger>>,
}

/// One request of a user's lifecycle: method, path, body, the expected
/// status, and the `(kind, recipient)` of the email a success implies.
type Step<'a> = (
    reqwest::Method,
    String,
    Option<Value>,
    StatusCode,
    Option<(&'a str, &'a str)>,
);

/// How one request of the load ended.
enum Answer {
    /// The expected status: the change is committed.
    Done(Value),
    /// Another status (recorded in the ledger as unexpected).
    Other,
    /// No answer: the process is gone.
    Gone,
}

impl Load {
    async fn call(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        expect: StatusCode,
    ) -> Answer {
        let mut request = client
            .request(method.clone(), format!("{}{path}", self.roster_url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let Ok(response) = request.send().await else {
            return Answer::Gone;
        };
        let status = response.status();
        // A body cut off by the kill is no answer either.
        let Ok(text) = response.text().await else {
            return Answer::Gone;
        };
        let mut ledger = self.ledger.lock().unwrap();
        *ledger.statuses.entry(status.as_u16()).or_insert(0) += 1;
        if status != expect {
            ledger
                .unexpected
                .push(format!("{method} {path}: {status} {text}"));
            return Answer::Other;
        }
        Answer::Done(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn expect_email(&self, kind: &str, to: &str) {
        self.ledger
            .lock()
            .unwrap()
            .expected
            .push((kind.to_string(), to.to_ascii_lowercase()));
    }

    /// One worker of the load: each user it adds goes through a fixed,
    /// sequential lifecycle, so every success implies known emails.
    async fn run(self: Arc<Self>, worker: usize) {
        use reqwest::Method;
        let client = client();
        for round in 0.. {
            let email = format!("load-{worker}-{round}@roster.test");
            let person = json!({"email": email, "first_name": "Pat", "last_name": "Lee"});
            let first = format!("/v1/customers/{}/users", self.first);
            let uid = match self
                .call(
                    &client,
                    Method::POST,
                    &first,
                    Some(person.clone()),
                    StatusCode::CREATED,
                )
                .await
            {
                Answer::Gone => return,
                Answer::Other => continue,
                Answer::Done(added) => added["id"].as_str().unwrap_or_default().to_string(),
            };
            self.ledger.lock().unwrap().added += 1;
            self.expect_email("activation", &email);

            let (active_id, active_email) = &self.active_user;
            // (method, path, body, expected status, the email a success implies)
            let mut steps: Vec<Step> = vec![
                (
                    Method::POST,
                    format!("/v1/users/{uid}/activation-email"),
                    None,
                    StatusCode::ACCEPTED,
                    Some(("activation", &email)),
                ),
                (
                    Method::PUT,
                    format!("/v1/users/{uid}/status"),
                    Some(json!({"status": "inactive"})),
                    StatusCode::OK,
                    Some(("account_deactivated", &email)),
                ),
                (
                    // Never activated: back to invited, with a fresh link.
                    Method::PUT,
                    format!("/v1/users/{uid}/status"),
                    Some(json!({"status": "active"})),
                    StatusCode::OK,
                    Some(("activation", &email)),
                ),
                (
                    Method::POST,
                    format!("/v1/customers/{}/users", self.second),
                    Some(person),
                    StatusCode::CREATED,
                    Some(("membership_added", &email)),
                ),
            ];
            steps.push(match round % 4 {
                0 => (
                    Method::DELETE,
                    format!("/v1/users/{uid}"),
                    None,
                    StatusCode::NO_CONTENT,
                    None,
                ),
                1 => (
                    Method::DELETE,
                    format!("/v1/customers/{}/users/{uid}?notify=true", self.second),
                    None,
                    StatusCode::NO_CONTENT,
                    Some(("membership_removed", &email)),
                ),
                2 => (
                    Method::POST,
                    format!("/v1/users/{active_id}/password-reset-email"),
                    None,
                    StatusCode::ACCEPTED,
                    Some(("password_reset", active_email)),
                ),
                // Stored before the answer, but resolved by the worker and
                // held back by ROSTER_RESET_EMAIL_COOLDOWN after the admin's
                // reset email: no email is implied.
                _ => (
                    Method::POST,
                    "/v1/auth/forgot-password".to_string(),
                    Some(json!({"email": active_email})),
                    StatusCode::ACCEPTED,
                    None,
                ),
            });
            for (method, path, body, status, implied) in steps {
                match self.call(&client, method, &path, body, status).await {
                    Answer::Gone => return,
                    Answer::Other => {}
                    Answer::Done(_) => {
                        if let Some((kind, to)) = implied {
                            self.expect_email(kind, to);
                        }
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_load_loses_nothing_and_sends_every_email_after_restart() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let db = TestDatabase::create();
    // Slow enough that a batch is always in flight while the load runs.
    let provider = fake_postmark(Duration::from_millis(500)).await;
    let mut env = postmark_env(&provider);
    // Rows the killed process claimed go out again once their lease ends.
    env.push(("ROSTER_MAIL_TIMEOUT", "1s".into()));
    env.push(("ROSTER_WEBHOOK_TIMEOUT", "1s".into()));
    env.push(("ROSTER_MAIL_LEASE", "3s".into()));
    let mut roster = Roster::start(&db.url, &pairs(&env)).await;
    let http = client();
    let token = sign_in(&http, &roster, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let first = create_customer(&http, &roster, &token, "Kill Nine Utilities").await;
    let second = create_customer(&http, &roster, &token, "Restart Power").await;

    // One active user, for password-reset emails; its link comes from the provider.
    let active_email = "active@roster.test".to_string();
    let active_id = add_person(&http, &roster, &token, &first, &active_email).await;
    let link = wait_for_email(&provider, "activation", &active_email).await;
    activate(&http, &roster, &link, GOOD_PASSWORD).await;

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let load = Arc::new(Load {
        roster_url: roster.address.clone(),
        token: token.clone(),
        first: first.clone(),
        second,
        active_user: (active_id, active_email.clone()),
        ledger: ledger.clone(),
    });
    let workers: Vec<_> = (0..6)
        .map(|worker| tokio::spawn(load.clone().run(worker)))
        .collect();

    // Kill once the load is well under way and the worker holds a claim.
    let inspector = Inspector::open(&db.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let added = ledger.lock().unwrap().added;
        let sends = received_emails(&provider).await.len();
        assert!(
            Instant::now() < deadline,
            "the load never got going: {added} users added, {sends} sends; log:\n{}",
            roster.log_tail(30)
        );
        if added >= 40 && sends >= 4 {
            let claimed = inspector
                .outbox()
                .iter()
                .any(|row| row.status.as_str() == "pending" && row.lease_owner.is_some());
            if claimed {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    roster.sigkill();
    let killed_at = Instant::now();
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("every load worker stops once the process is gone")
            .unwrap();
    }

    // The database as the dead process left it.
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let users = inspector.users();
    let memberships = inspector.memberships();
    let rows = inspector.outbox();
    // Emails only: a claimed forgot-password request is removed once resolved.
    let claimed: Vec<String> = rows
        .iter()
        .filter(|row| row.status.as_str() == "pending" && row.lease_owner.is_some())
        .filter(|row| !row.is_request())
        .map(|row| row.id.clone())
        .collect();
    println!(
        "killed after {} users added; answers by status {:?}; {} users, {} memberships, {} outbox rows ({} sent, {} claimed by the dead process)",
        ledger.added,
        ledger.statuses,
        users.len(),
        memberships.len(),
        rows.len(),
        rows.iter().filter(|r| r.status.as_str() == "sent").count(),
        claimed.len()
    );
    assert!(
        ledger.unexpected.is_empty(),
        "unexpected answers before the kill: {:#?}",
        ledger.unexpected
    );
    assert!(
        !ledger.statuses.keys().any(|status| *status >= 500),
        "server errors under load: {:?}",
        ledger.statuses
    );
    let members: HashSet<&str> = memberships.iter().map(|(_, user)| user.as_str()).collect();
    let orphans: Vec<&String> = users
        .iter()
        .filter(|(id, _, role, _)| role == "none" && !members.contains(id.as_str()))
        .map(|(_, email, _, _)| email)
        .collect();
    assert!(
        orphans.is_empty(),
        "users without a membership: {orphans:?}"
    );
    let surviving: HashSet<String> = users
        .iter()
        .map(|(_, email, _, _)| email.to_ascii_lowercase())
        .collect();
    let activations: HashSet<String> = rows
        .iter()
        .filter(|row| row.kind == "activation")
        .map(|row| row.recipient.to_ascii_lowercase())
        .collect();
    let never_invited: Vec<&String> = users
        .iter()
        .filter(|(_, email, role, _)| {
            role == "none" && !activations.contains(&email.to_ascii_lowercase())
        })
        .map(|(_, email, _, _)| email)
        .collect();
    assert!(
        never_invited.is_empty(),
        "users without an activation email: {never_invited:?}"
    );
    let queued = tally(rows.iter().map(|r| (r.kind.as_str(), r.recipient.as_str())));
    let promised = tally(
        ledger
            .expected
            .iter()
            .filter(|(_, to)| surviving.contains(to))
            .map(|(kind, to)| (kind.as_str(), to.as_str())),
    );
    assert!(promised.len() > 40, "too little load: {promised:?}");
    let lost: Vec<String> = promised
        .iter()
        .filter(|(key, count)| queued.get(*key).copied().unwrap_or(0) < **count)
        .map(|((kind, to), count)| {
            let rows = queued
                .get(&(kind.clone(), to.clone()))
                .copied()
                .unwrap_or(0);
            format!("{kind} to {to}: {count} answered, {rows} queued")
        })
        .collect();
    assert!(lost.is_empty(), "lost outbox rows: {lost:#?}");
    assert!(
        !claimed.is_empty(),
        "the kill found no email claimed by the worker (the test proves nothing then)"
    );

    // Restart on the same database with a fast provider.
    let sent_before = received_emails(&provider).await;
    provider.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({"MessageID": "pm-after", "ErrorCode": 0, "Message": "OK"})),
        )
        .mount(&provider)
        .await;
    env.push(("ROSTER_MAIL_CONCURRENCY", "8".into()));
    let restarted = Roster::start(&db.url, &pairs(&env)).await;
    let restarted_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(90);
    let rows = loop {
        let rows = inspector.outbox();
        if rows.iter().all(|row| row.status.as_str() == "sent") {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "emails still unsent 90 s after the restart: {:#?}\nlog:\n{}",
            rows.iter()
                .filter(|r| r.status.as_str() != "sent")
                .map(|r| (
                    &r.id,
                    &r.status,
                    &r.lease_owner,
                    &r.lease_expires_at,
                    &r.last_error
                ))
                .collect::<Vec<_>>(),
            restarted.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!(
        "after the restart every email was sent {:.1} s later ({:.1} s after the kill)",
        restarted_at.elapsed().as_secs_f64(),
        killed_at.elapsed().as_secs_f64()
    );
    let by_id: HashMap<&str, _> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    for id in &claimed {
        let row = by_id.get(id.as_str()).expect("a claimed row stays");
        assert!(row.attempts >= 1 && row.lease_owner.is_none(), "{row:?}");
    }
    let mut received = sent_before;
    received.extend(received_emails(&provider).await);
    let delivered = tally(received.iter().map(|e| (e.tag.as_str(), e.to.as_str())));
    let queued = tally(rows.iter().map(|r| (r.kind.as_str(), r.recipient.as_str())));
    let undelivered: Vec<String> = queued
        .iter()
        .filter(|(key, count)| delivered.get(*key).copied().unwrap_or(0) < **count)
        .map(|((kind, to), count)| format!("{kind} to {to}: {count} queued"))
        .collect();
    assert!(
        undelivered.is_empty(),
        "the provider never got: {undelivered:#?}"
    );
    println!(
        "{} emails queued, {} sends received by the provider ({} before the kill)",
        rows.len(),
        received.len(),
        received.len() - received_emails(&provider).await.len()
    );

    // The API agrees: nothing pending or failed.
    let token = sign_in(&http, &restarted, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for status in ["pending", "failed"] {
        let response = http
            .get(restarted.url(&format!("/v1/email-deliveries?status={status}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        assert_eq!(page["items"], json!([]), "{status} emails: {page}");
    }
    println!("test took {:.1} s", started.elapsed().as_secs_f64());
}

/// Waits for the provider to receive a `kind` email to `to`; returns its link token.
async fn wait_for_email(provider: &wiremock::MockServer, kind: &str, to: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = received_emails(provider)
            .await
            .into_iter()
            .find(|e| e.tag == kind && e.to == to.to_ascii_lowercase());
        if let Some(email) = found {
            return link_token(&email.text).expect("a link in the email");
        }
        assert!(Instant::now() < deadline, "no {kind} email to {to}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
