//! Two instances on one database, as behind a load balancer: the seat limit,
//! an idempotency key, the lockout and refresh-token rotation hold across
//! them, and every email is sent once although both run the email worker.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roster::domain::delivery::DeliveryStatus;
use serde_json::{json, Value};
use wiremock::MockServer;

use crate::helpers::{link_token, TestDatabase, ADMIN_EMAIL, ADMIN_PASSWORD, GOOD_PASSWORD};
use crate::support::{
    activate, client, fake_postmark, pairs, postmark_env, received_emails, sign_in, Inspector,
    Roster, SERIAL,
};

const LOCKOUT_THRESHOLD: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_keep_seats_keys_lockout_sessions_and_emails_single() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let provider = fake_postmark(Duration::ZERO).await;
    let mut env = postmark_env(&provider);
    env.push(("ROSTER_LOCKOUT_THRESHOLD", LOCKOUT_THRESHOLD.to_string()));
    // The first instance makes the signing key; the second finds it.
    let one = Roster::start(&db.url, &pairs(&env)).await;
    let two = Roster::start(&db.url, &pairs(&env)).await;
    let http = client();
    let admin = sign_in(&http, &one, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let api = Api { http, admin };

    // The last seat, asked for through both instances at once.
    let tight = api
        .create_customer(&two, json!({"name": "Tight", "licensed_seats": 1}), None)
        .await;
    let tight = tight.1["id"].as_str().unwrap().to_string();
    let (a, b) = tokio::join!(
        api.add_person(&one, &tight, "a@tight.test"),
        api.add_person(&two, &tight, "b@tight.test")
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let refused = if a.0 == StatusCode::CONFLICT {
        &a.1
    } else {
        &b.1
    };
    assert_eq!(refused["code"], "seat_limit_reached", "{refused}");

    // One idempotency key, sent to both instances at once: one customer.
    let body = json!({"name": "Keyed Once"});
    let (a, b) = tokio::join!(
        api.create_customer(&one, body.clone(), Some("scale-out-key")),
        api.create_customer(&two, body.clone(), Some("scale-out-key"))
    );
    let created: Vec<&Value> = [&a, &b]
        .into_iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| body)
        .collect();
    assert!(!created.is_empty(), "{a:?} {b:?}");
    for (status, body) in [&a, &b] {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::CONFLICT,
            "{status} {body}"
        );
    }
    let replay = api.create_customer(&two, body, Some("scale-out-key")).await;
    assert_eq!(replay.0, StatusCode::CREATED, "{replay:?}");
    assert_eq!(replay.1["id"], created[0]["id"]);
    let keyed = api.get(&one, "/v1/customers?q=keyed").await;
    assert_eq!(keyed["items"].as_array().unwrap().len(), 1, "{keyed}");

    // People added through alternating instances, activated through the other.
    let open = api
        .create_customer(&one, json!({"name": "Open"}), None)
        .await;
    let open = open.1["id"].as_str().unwrap().to_string();
    let people = ["guessed@open.test", "refreshing@open.test"];
    for (n, email) in people.iter().enumerate() {
        let (status, body) = api.add_person([&one, &two][n % 2], &open, email).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let link = wait_for_email(&provider, "activation", email).await;
        activate(&api.http, [&two, &one][n % 2], &link, GOOD_PASSWORD).await;
    }

    // Wrong passwords spread over both instances lock the account for both.
    for n in 0..LOCKOUT_THRESHOLD {
        let (status, _) = api
            .password_grant([&one, &two][n % 2], people[0], "not it at all")
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    for roster in [&one, &two] {
        let (status, body) = api.password_grant(roster, people[0], GOOD_PASSWORD).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "locked everywhere: {body}");
    }

    // A refresh token rotated on one instance is spent on the other, and its
    // reuse there ends the session everywhere.
    let (status, first) = api.password_grant(&one, people[1], GOOD_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let first = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = api.refresh(&two, &first).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second = second["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(api.refresh(&one, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(api.refresh(&two, &second).await.0, StatusCode::BAD_REQUEST);

    // Every email went out once, though both instances ran the worker.
    let inspector = Inspector::open(&db.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    while inspector
        .outbox()
        .iter()
        .any(|row| row.status != DeliveryStatus::Sent)
    {
        assert!(Instant::now() < deadline, "emails left unsent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let queued = inspector.outbox().len();
    let mut sent: HashMap<(String, String), usize> = HashMap::new();
    for email in received_emails(&provider).await {
        *sent.entry((email.tag, email.to)).or_insert(0) += 1;
    }
    assert!(
        sent.values().all(|n| *n == 1),
        "sent more than once: {sent:?}"
    );
    assert_eq!(sent.len(), queued, "{sent:?}");
}

/// The admin's calls and the grants, against either instance.
struct Api {
    http: reqwest::Client,
    admin: String,
}

impl Api {
    async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn create_customer(
        &self,
        roster: &Roster,
        body: Value,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(roster.url("/v1/customers"))
            .bearer_auth(&self.admin)
            .json(&body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        Self::answer(request.send().await.unwrap()).await
    }

    async fn add_person(
        &self,
        roster: &Roster,
        customer: &str,
        email: &str,
    ) -> (StatusCode, Value) {
        let request = self
            .http
            .post(roster.url(&format!("/v1/customers/{customer}/users")))
            .bearer_auth(&self.admin)
            .json(&json!({"email": email, "first_name": "Pat", "last_name": "Lee"}));
        Self::answer(request.send().await.unwrap()).await
    }

    async fn get(&self, roster: &Roster, path: &str) -> Value {
        let request = self.http.get(roster.url(path)).bearer_auth(&self.admin);
        let (status, body) = Self::answer(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn password_grant(
        &self,
        roster: &Roster,
        email: &str,
        password: &str,
    ) -> (StatusCode, Value) {
        let form = [
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ];
        self.grant(roster, &form).await
    }

    async fn refresh(&self, roster: &Roster, token: &str) -> (StatusCode, Value) {
        let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
        self.grant(roster, &form).await
    }

    async fn grant(&self, roster: &Roster, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let request = self.http.post(roster.url("/v1/auth/token")).form(form);
        Self::answer(request.send().await.unwrap()).await
    }
}

async fn wait_for_email(provider: &MockServer, kind: &str, to: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = received_emails(provider)
            .await
            .into_iter()
            .find(|email| email.tag == kind && email.to == to);
        if let Some(email) = found {
            return link_token(&email.text).expect("a link in the email");
        }
        assert!(Instant::now() < deadline, "no {kind} email to {to}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
