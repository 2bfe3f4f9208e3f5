//! Who may do what: every admin endpoint, with its objects in customer A,
//! asked by each kind of caller. Another customer's objects are 404, not 403.

use reqwest::{Method, StatusCode};

use crate::helpers::{id_of, spawn_app, TestApp};

#[derive(Clone, Copy, Debug)]
enum Actor {
    Platform,
    AdminOfA,
    AdminOfB,
    MemberOfA,
    Anonymous,
}

/// One row of the matrix: what is asked (a JSON body, or "" for none), and
/// the answer each actor gets, in the order of [`Actor`].
struct Row {
    method: Method,
    path: &'static str,
    body: &'static str,
    expected: [u16; 5],
}

fn row(method: Method, path: &'static str, body: &'static str, expected: [u16; 5]) -> Row {
    Row {
        method,
        path,
        body,
        expected,
    }
}

/// `{a}`/`{b}` are the customers, `{u}` a fresh invited user of A, `{active}`
/// a fresh active user of A, `{fresh}` an unused email.
#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    use Method as M;
    vec![
        //  method     path                                        body                                                             platform admin-A admin-B member-A anonymous
        row(M::POST,   "/v1/customers",                            r#"{"name": "N"}"#,                                              [201, 403, 403, 403, 401]),
        row(M::GET,    "/v1/customers",                            "",                                                              [200, 200, 200, 200, 401]),
        row(M::GET,    "/v1/customers/{a}",                        "",                                                              [200, 200, 404, 200, 401]),
        row(M::GET,    "/v1/customers/{b}",                        "",                                                              [200, 404, 200, 404, 401]),
        row(M::PATCH,  "/v1/customers/{a}",                        r#"{"name": "A2"}"#,                                             [200, 403, 404, 403, 401]),
        row(M::GET,    "/v1/customers/{a}/users",                  "",                                                              [200, 200, 404, 403, 401]),
        row(M::POST,   "/v1/customers/{a}/users",                  r#"{"email": "{fresh}", "first_name": "F", "last_name": "R"}"#,  [201, 201, 404, 403, 401]),
        row(M::PATCH,  "/v1/customers/{a}/users/{u}",              r#"{"role": "standard_user"}"#,                                  [200, 200, 404, 403, 401]),
        row(M::DELETE, "/v1/customers/{a}/users/{u}",              "",                                                              [204, 204, 404, 403, 401]),
        row(M::GET,    "/v1/users",                                "",                                                              [200, 403, 403, 403, 401]),
        row(M::GET,    "/v1/users/{u}",                            "",                                                              [200, 200, 404, 403, 401]),
        row(M::PATCH,  "/v1/users/{u}",                            r#"{"job_title": "T"}"#,                                         [200, 200, 404, 403, 401]),
        row(M::DELETE, "/v1/users/{u}",                            "",                                                              [204, 403, 404, 403, 401]),
        row(M::PUT,    "/v1/users/{u}/status",                     r#"{"status": "inactive"}"#,                                     [200, 200, 404, 403, 401]),
        row(M::DELETE, "/v1/users/{u}/lock",                       "",                                                              [204, 204, 404, 403, 401]),
        row(M::POST,   "/v1/users/{u}/activation-email",           "",                                                              [202, 202, 404, 403, 401]),
        row(M::POST,   "/v1/users/{active}/password-reset-email",  "",                                                              [202, 202, 404, 403, 401]),
        row(M::GET,    "/v1/audit-events",                         "",                                                              [200, 200, 200, 403, 401]),
    ]
}

/// Customers A and B, an admin of each, and a full-access member of A.
struct World {
    app: TestApp,
    a: String,
    b: String,
    admin_a: String,
    admin_b: String,
    member_a: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let a = id_of(&app.create_customer("A", None).await);
    let b = id_of(&app.create_customer("B", None).await);
    let (_, admin_a) = app
        .invite_and_activate(&a, "admin-a@acme.test", "admin")
        .await;
    let (_, admin_b) = app
        .invite_and_activate(&b, "admin-b@bravo.test", "admin")
        .await;
    let (_, member_a) = app
        .invite_and_activate(&a, "member-a@acme.test", "full_access")
        .await;
    World {
        app,
        a,
        b,
        admin_a,
        admin_b,
        member_a,
    }
}

impl World {
    fn token(&self, actor: Actor) -> Option<&str> {
        match actor {
            Actor::Platform => Some(self.app.admin_token()),
            Actor::AdminOfA => Some(&self.admin_a),
            Actor::AdminOfB => Some(&self.admin_b),
            Actor::MemberOfA => Some(&self.member_a),
            Actor::Anonymous => None,
        }
    }

    /// Fills a row's placeholders with fresh objects, so no row disturbs another.
    async fn fill(&self, text: &str, n: usize) -> String {
        let mut text = text
            .replace("{a}", &self.a)
            .replace("{b}", &self.b)
            .replace("{fresh}", &format!("fresh{n}@acme.test"));
        if text.contains("{u}") {
            let target = self
                .app
                .add_new_user(&self.a, &format!("target{n}@acme.test"), "full_access")
                .await;
            text = text.replace("{u}", &target);
        }
        if text.contains("{active}") {
            let (target, _) = self
                .app
                .invite_and_activate(&self.a, &format!("active{n}@acme.test"), "full_access")
                .await;
            text = text.replace("{active}", &target);
        }
        text
    }

    /// Runs every row of the matrix as `actor`; lists every mismatch.
    async fn check(&self, actor: Actor) {
        let column = actor as usize;
        let mut failures = Vec::new();
        for (n, row) in matrix().into_iter().enumerate() {
            let path = self.fill(row.path, n).await;
            let mut request = self
                .app
                .request(row.method.clone(), &path, self.token(actor));
            if !row.body.is_empty() {
                let body = self.fill(row.body, n).await;
                request = request
                    .header("Content-Type", "application/json")
                    .body(body);
            }
            let response = request.send().await.unwrap();
            let got = response.status();
            let want = StatusCode::from_u16(row.expected[column]).unwrap();
            if got != want {
                let body = response.text().await.unwrap_or_default();
                failures.push(format!(
                    "{} {} as {actor:?}: expected {want}, got {got} {body}",
                    row.method, row.path
                ));
            } else if got.is_client_error() {
                let kind = response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_string();
                if kind != "application/problem+json" {
                    failures.push(format!(
                        "{} {}: a {got} that is {kind}",
                        row.method, row.path
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "authorization matrix:\n{}",
            failures.join("\n")
        );
    }
}

#[tokio::test]
async fn a_platform_admin_may_use_every_admin_endpoint() {
    world().await.check(Actor::Platform).await;
}

#[tokio::test]
async fn an_admin_of_a_administers_a_but_gets_403_on_platform_only_endpoints() {
    world().await.check(Actor::AdminOfA).await;
}

#[tokio::test]
async fn an_admin_of_b_gets_404_for_everything_in_a() {
    world().await.check(Actor::AdminOfB).await;
}

#[tokio::test]
async fn a_member_of_a_reads_their_customer_but_gets_403_on_its_admin_endpoints() {
    world().await.check(Actor::MemberOfA).await;
}

#[tokio::test]
async fn an_anonymous_caller_gets_401_everywhere() {
    world().await.check(Actor::Anonymous).await;
}
