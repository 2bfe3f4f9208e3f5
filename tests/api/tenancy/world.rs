//! The world the tenancy matrix runs in: customers A and B, one caller of
//! each kind, fresh objects for every cell, and the runner that makes each
//! cell's call and checks its answer.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use diesel::prelude::*;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;

use super::{
    decide, matrix, Actor, Body, Fixture, Object, Row, Tenant, A_DOMAIN, A_NAME, B_DOMAIN, B_NAME,
    SHARED_DOMAIN,
};
use crate::helpers::{header, spawn_app, TestApp, ADMIN_PASSWORD, GOOD_PASSWORD};

pub(super) struct World {
    app: TestApp,
    a: String,
    b: String,
    /// Access token and password of each signed-in actor.
    tokens: BTreeMap<Actor, (String, String)>,
    /// A PHC hash of [`GOOD_PASSWORD`], to make fresh users active without
    /// a sign-in's worth of hashing each.
    good_hash: String,
    counter: usize,
}

pub(super) async fn world() -> World {
    let app = spawn_app().await;
    let a = app.customer(A_NAME, None).await;
    let b = app.customer(B_NAME, None).await;
    let (_, admin_a) = app
        .invite_and_activate(&a, &format!("admin@{A_DOMAIN}"), "admin")
        .await;
    let (_, admin_b) = app
        .invite_and_activate(&b, &format!("admin@{B_DOMAIN}"), "admin")
        .await;
    let (_, member_a) = app
        .invite_and_activate(&a, &format!("member@{A_DOMAIN}"), "full_access")
        .await;
    let (client_id, secret) = app.api_client("provisioning of A", Some(&a)).await;
    let client_a = app.client_token(&client_id, &secret).await;
    let good_hash = app
        .state
        .hasher
        .hash(SecretString::from(GOOD_PASSWORD))
        .await
        .expect("a hash");
    let tokens = BTreeMap::from([
        (
            Actor::Platform,
            (app.admin_token().to_string(), ADMIN_PASSWORD.to_string()),
        ),
        (Actor::AdminOfA, (admin_a, GOOD_PASSWORD.to_string())),
        (Actor::AdminOfB, (admin_b, GOOD_PASSWORD.to_string())),
        (Actor::MemberOfA, (member_a, GOOD_PASSWORD.to_string())),
        (Actor::ClientOfA, (client_a, String::new())),
    ]);
    World {
        app,
        a,
        b,
        tokens,
        good_hash,
        counter: 0,
    }
}

impl World {
    fn customer(&self, tenant: Tenant) -> &str {
        match tenant {
            Tenant::A => &self.a,
            Tenant::B => &self.b,
        }
    }

    fn domain(object: Object) -> &'static str {
        match object {
            Object::InA => A_DOMAIN,
            Object::InB => B_DOMAIN,
            _ => SHARED_DOMAIN,
        }
    }

    /// A fresh invited user of the object's customers: (id, email).
    async fn invited(&mut self, object: Object) -> (String, String) {
        self.counter += 1;
        let email = format!("u{}@{}", self.counter, Self::domain(object));
        let customers = object.customers();
        let first = self.customer(customers[0]).to_string();
        let uid = self.app.add_new_user(&first, &email, "full_access").await;
        for tenant in &customers[1..] {
            let cid = self.customer(*tenant).to_string();
            self.app.add_existing_user(&cid, &email).await;
        }
        (uid, email)
    }

    /// A fresh active user of the object's customers: (id, email).
    async fn active(&mut self, object: Object) -> (String, String) {
        let (uid, email) = self.invited(object).await;
        let (id, hash, state) = (uid.clone(), self.good_hash.clone(), self.app.state.clone());
        self.app
            .state
            .write(move |conn, _| {
                let now = state.clock.now_db();
                roster::db::users::set_password(conn, &id, &hash, true, now)?;
                Ok(())
            })
            .await
            .unwrap();
        (uid, email)
    }

    /// A webhook endpoint of the object's customer (or the platform's),
    /// made by the platform admin; its id.
    async fn webhook(&mut self, object: Object) -> String {
        let mut body =
            serde_json::json!({"url": format!("https://93.184.216.34/hooks/{}", self.counter)});
        if let Some(tenant) = object.customers().first() {
            body["customer_id"] = Value::String(self.customer(*tenant).to_string());
        }
        let made = self
            .app
            .post_json("/v1/webhook-endpoints", Some(self.app.admin_token()), &body)
            .await;
        let made = crate::helpers::expect_json(made, StatusCode::CREATED).await;
        made["id"].as_str().unwrap().to_string()
    }

    /// Fills `{cid}`, `{uid}`, `{email}`, `{id}`, `{token}` for one cell.
    async fn fixture(
        &mut self,
        fixture: Fixture,
        object: Object,
    ) -> BTreeMap<&'static str, String> {
        let mut values = BTreeMap::new();
        self.counter += 1;
        values.insert("n", self.counter.to_string());
        if let Some(tenant) = object.customers().first() {
            values.insert("cid", self.customer(*tenant).to_string());
        }
        match fixture {
            Fixture::Nothing | Fixture::Customer => {}
            Fixture::NewEmail => {
                values.insert(
                    "email",
                    format!("new{}@{}", self.counter, Self::domain(object)),
                );
            }
            Fixture::Invited | Fixture::Active => {
                let (uid, email) = if fixture == Fixture::Invited {
                    self.invited(object).await
                } else {
                    self.active(object).await
                };
                values.insert("uid", uid);
                values.insert("email", email);
            }
            Fixture::Group | Fixture::GroupMember => {
                let cid = values["cid"].clone();
                let body = serde_json::json!({"name": format!("Group {}", self.counter)});
                let made = self
                    .app
                    .post_json(
                        &format!("/v1/customers/{cid}/groups"),
                        Some(self.app.admin_token()),
                        &body,
                    )
                    .await;
                let made = crate::helpers::expect_json(made, StatusCode::CREATED).await;
                let gid = made["id"].as_str().unwrap().to_string();
                if fixture == Fixture::GroupMember {
                    let (uid, _) = self.invited(object).await;
                    let path = format!("/v1/customers/{cid}/groups/{gid}/members/{uid}");
                    let put = self
                        .app
                        .request(reqwest::Method::PUT, &path, Some(self.app.admin_token()))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(put.status(), StatusCode::NO_CONTENT);
                    values.insert("uid", uid);
                }
                values.insert("gid", gid);
            }
            Fixture::Client => {
                let scope = object
                    .customers()
                    .first()
                    .map(|t| self.customer(*t).to_string());
                let name = format!("client {}", self.counter);
                let (id, _) = self.app.api_client(&name, scope.as_deref()).await;
                values.insert("id", id);
            }
            Fixture::ScimToken => {
                let cid = values["cid"].clone();
                let (id, _) = self.app.scim_token(&cid).await;
                values.insert("id", id);
            }
            Fixture::FailedEmail => {
                let (_, email) = self.invited(object).await;
                let row = self.app.last_email("activation", &email).await;
                let id = row.id.clone();
                let row_id = id.clone();
                self.app
                    .state
                    .read(move |conn, _| {
                        use roster::db::schema::email_outbox::dsl;
                        diesel::update(dsl::email_outbox.find(&row_id))
                            .set((dsl::status.eq("failed"), dsl::attempts.eq(12)))
                            .execute(conn)?;
                        Ok(())
                    })
                    .await
                    .unwrap();
                values.insert("id", id);
            }
            Fixture::Webhook => {
                values.insert("id", self.webhook(object).await);
            }
            Fixture::Import => {
                let cid = values["cid"].clone();
                let file = format!(
                    "email,first_name,last_name\nimported{}@{},Ida,Port\nnot-an-email,,\n",
                    self.counter,
                    Self::domain(object)
                );
                let made = self
                    .app
                    .request(
                        reqwest::Method::POST,
                        &format!("/v1/customers/{cid}/user-imports?send_invites=false"),
                        Some(self.app.admin_token()),
                    )
                    .header("content-type", "text/csv")
                    .body(file)
                    .send()
                    .await
                    .unwrap();
                let made = crate::helpers::expect_json(made, StatusCode::ACCEPTED).await;
                self.app.resolve_requests().await;
                values.insert("id", made["id"].as_str().unwrap().to_string());
            }
            Fixture::FailedWebhook => {
                let endpoint = self.webhook(object).await;
                let sent = self
                    .app
                    .post_empty(
                        &format!("/v1/webhook-endpoints/{endpoint}/test"),
                        Some(self.app.admin_token()),
                    )
                    .await;
                let sent = crate::helpers::expect_json(sent, StatusCode::ACCEPTED).await;
                let id = sent["delivery_id"].as_str().unwrap().to_string();
                let row_id = id.clone();
                self.app
                    .state
                    .read(move |conn, _| {
                        use roster::db::schema::email_outbox::dsl;
                        diesel::update(dsl::email_outbox.find(&row_id))
                            .set((dsl::status.eq("failed"), dsl::attempts.eq(15)))
                            .execute(conn)?;
                        Ok(())
                    })
                    .await
                    .unwrap();
                values.insert("id", id);
            }
            Fixture::ActivationToken => {
                let (_, email) = self.invited(object).await;
                values.insert(
                    "token",
                    self.app.token_from_email("activation", &email).await,
                );
            }
            Fixture::ResetToken => {
                let (uid, email) = self.active(object).await;
                let sent = self
                    .app
                    .send_password_reset_email(self.app.admin_token(), &uid)
                    .await;
                assert_eq!(sent.status(), StatusCode::ACCEPTED);
                values.insert(
                    "token",
                    self.app.token_from_email("password_reset", &email).await,
                );
            }
            Fixture::AuditedThenShared => {
                let customers = object.customers();
                let email = format!("u{}@{}", self.counter, Self::domain(object));
                let first = self.customer(customers[0]).to_string();
                let uid = self.app.add_new_user(&first, &email, "full_access").await;
                let marker = format!("requester {}", uuid::Uuid::new_v4().simple());
                let edit = serde_json::json!({"job_title": "Analyst", "requester_name": marker});
                let edited = self
                    .app
                    .update_user(self.app.admin_token(), &uid, &edit)
                    .await;
                assert_eq!(edited.status(), StatusCode::OK);
                for tenant in &customers[1..] {
                    let cid = self.customer(*tenant).to_string();
                    self.app.add_existing_user(&cid, &email).await;
                }
                values.insert("uid", uid);
                values.insert("marker", marker);
            }
            Fixture::RefreshToken => {
                let (_, email) = self.active(object).await;
                values.insert(
                    "token",
                    self.app
                        .sign_in(&email, GOOD_PASSWORD)
                        .await
                        .refresh_token(),
                );
            }
        }
        values
    }

    /// The marker a list names the object by.
    fn marker(values: &BTreeMap<&'static str, String>, row: &Row) -> Option<String> {
        match row.fixture {
            Fixture::Client | Fixture::Webhook | Fixture::ScimToken => values.get("id").cloned(),
            Fixture::Group | Fixture::GroupMember => values.get("gid").cloned(),
            Fixture::Active | Fixture::Invited => values.get("email").cloned(),
            Fixture::AuditedThenShared => values.get("marker").cloned(),
            _ => values.get("cid").cloned(),
        }
    }
}

fn fill(text: &str, values: &BTreeMap<&'static str, String>) -> String {
    let mut text = text.to_string();
    for (key, value) in values {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

/// One cell's outcome, for the report.
pub(super) struct Cell {
    actor: Actor,
    operation: String,
    object: Object,
    expected: u16,
    got: u16,
    problems: Vec<String>,
}

/// Runs every row of the matrix as each of `actors`; (cells run, the cells
/// that disagree with the rules).
pub(super) async fn run_matrix(world: &mut World, actors: &[Actor]) -> (usize, Vec<Cell>) {
    let mut cells = 0;
    let mut mismatches = Vec::new();
    for row in matrix() {
        for &actor in actors {
            for &object in row.objects {
                cells += 1;
                let mut values = world.fixture(row.fixture, object).await;
                // A platform-scope client is created without `customer_id`.
                if object == Object::PlatformScope {
                    values.insert("cid", String::new());
                }
                let token = world.tokens.get(&actor).map(|(t, _)| t.clone());
                if let Some((_, password)) = world.tokens.get(&actor) {
                    values.insert("password", password.clone());
                    values.insert(
                        "new_password",
                        format!("quiet lantern mosaic {}", values["n"]),
                    );
                }
                let path = fill(&format!("{}{}", row.path, row.query), &values);
                let mut request = world
                    .app
                    .request(row.method.clone(), &path, token.as_deref());
                match row.body {
                    Body::None => {}
                    Body::Json(template) => {
                        let mut body: Value = serde_json::from_str(&fill(template, &values))
                            .unwrap_or_else(|e| panic!("row body {template}: {e}"));
                        if object == Object::PlatformScope {
                            body.as_object_mut().unwrap().remove("customer_id");
                        }
                        request = request.json(&body);
                    }
                    Body::Csv(template) => {
                        request = request
                            .header("content-type", "text/csv")
                            .body(fill(template, &values));
                    }
                    Body::Form(pairs) => {
                        let pairs: Vec<(String, String)> = pairs
                            .iter()
                            .map(|(k, v)| (k.to_string(), fill(v, &values)))
                            .collect();
                        request = request.form(&pairs);
                    }
                }
                let response = request.send().await.unwrap();
                let got = response.status().as_u16();
                let content_type = header(&response, "content-type");
                let text = response.text().await.unwrap_or_default();
                let expected = decide(row.rule, actor, object, row.success);
                let mut problems = Vec::new();
                if (400..500).contains(&got)
                    && row.path != "/v1/auth/token"
                    && content_type != "application/problem+json"
                {
                    problems.push(format!("a {got} as {content_type:?}"));
                }
                if let (true, Some(code)) = (got == expected, problem_code(got)) {
                    let body: Value = serde_json::from_str(&text).unwrap_or_default();
                    if row.path != "/v1/auth/token" && body["code"] != code {
                        problems.push(format!("a {got} with code {} (not {code:?})", body["code"]));
                    }
                }
                if got == expected && (200..300).contains(&got) {
                    if let (Some(rule), Some(marker)) = (row.lists, World::marker(&values, &row)) {
                        let should = decide(rule, actor, object, 200) == 200;
                        if text.contains(&marker) != should {
                            problems.push(format!(
                                "the list {} the object",
                                if should { "misses" } else { "names" }
                            ));
                        }
                    }
                }
                if let Some(tenant) = actor.tenant() {
                    let (name, domain) = match tenant {
                        Tenant::A => (B_NAME, B_DOMAIN),
                        Tenant::B => (A_NAME, A_DOMAIN),
                    };
                    // Emailed links name their own user by design.
                    let public = row.path.starts_with("/v1/auth/");
                    if !public && (text.contains(name) || text.contains(domain)) {
                        problems.push(format!(
                            "the answer names the other tenant ({name} / @{domain})"
                        ));
                    }
                }
                if row.path == "/v1/me/password" && got == 200 {
                    let tokens: Value = serde_json::from_str(&text).unwrap();
                    let entry = world.tokens.get_mut(&actor).unwrap();
                    *entry = (
                        tokens["access_token"].as_str().unwrap().to_string(),
                        values["new_password"].clone(),
                    );
                }
                if got != expected || !problems.is_empty() {
                    if got != expected && text.len() < 400 {
                        problems.push(text);
                    }
                    mismatches.push(Cell {
                        actor,
                        operation: format!("{} {}", row.method, fill(row.path, &BTreeMap::new())),
                        object,
                        expected,
                        got,
                        problems,
                    });
                }
            }
        }
    }
    (cells, mismatches)
}

/// The `code` a refusal with `status` carries.
fn problem_code(status: u16) -> Option<&'static str> {
    match status {
        401 => Some("unauthorized"),
        403 => Some("forbidden"),
        404 => Some("not_found"),
        _ => None,
    }
}

pub(super) fn report(cells: usize, mismatches: &[Cell]) -> String {
    let mut out = format!(
        "tenancy matrix: {} of {cells} cells disagree with docs/api.md (\"Authorization\")\n{:<10} {:<48} {:<16} {:>8} {:>4}  notes\n",
        mismatches.len(),
        "actor",
        "operation",
        "object",
        "expected",
        "got"
    );
    for cell in mismatches {
        let _ = writeln!(
            out,
            "{:<10} {:<48} {:<16} {:>8} {:>4}  {}",
            format!("{:?}", cell.actor),
            cell.operation,
            cell.object.label(),
            cell.expected,
            cell.got,
            cell.problems.join("; ")
        );
    }
    out
}
