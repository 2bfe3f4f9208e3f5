//! The authorization matrix, and the only one: every operation of the
//! OpenAPI document, asked by every kind of caller, about an object in
//! customer A and one in customer B (and, for users, one who belongs to
//! both). The expected answer of each cell is derived from the rules of
//! docs/api.md ("Endpoints" and "Authorization", with its user-admin rule)
//! rather than written out by hand, and every cell is a real HTTP call with
//! a valid body, so 2xx means authorization passed and 401/403/404 means it
//! did not. Objects are made fresh for each cell (`tenancy/world.rs`), so
//! destructive cells (delete, inactivate, revoke…) cannot disturb the next.
//!
//! Besides the status, each cell checks that
//! - a 4xx is `application/problem+json` (the token endpoint aside), and a
//!   401, 403 or 404 carries the code `unauthorized`, `forbidden` or
//!   `not_found`,
//! - a list names the object exactly when the caller may see it, and
//! - nothing answered to a caller of one tenant names the other tenant
//!   (its customer name or its people's email domain).
//!
//! There is one test per kind of caller, and
//! `every_operation_in_the_contract_has_a_row` fails when an operation is
//! added without a row here. Authorization cases that need a story rather
//! than a cell (a shared user once their other membership is gone, what a
//! customer admin's audit list leaves out) are single tests in the file of
//! their resource.

mod world;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};

use crate::helpers::{expect_json, spawn_app, TestApp, GOOD_PASSWORD};
use world::{report, run_matrix, world};

const A_NAME: &str = "Acme Corp";
const B_NAME: &str = "Bravo Holdings";
/// Every person of A only has an address at this domain, every person of B
/// only at B's, and people of both at a neutral one: what names one tenant
/// must never reach a caller of the other.
const A_DOMAIN: &str = "acme.test";
const B_DOMAIN: &str = "bravo.test";
const SHARED_DOMAIN: &str = "shared.test";

// ---------------------------------------------------------------------------
// Actors

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Actor {
    Platform,
    AdminOfA,
    AdminOfB,
    MemberOfA,
    ClientOfA,
    Anonymous,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tenant {
    A,
    B,
}

/// What an actor is, as docs/api.md ("Authorization") describes callers.
struct Powers {
    platform: bool,
    client: bool,
    member_of: BTreeSet<Tenant>,
    admin_of: BTreeSet<Tenant>,
}

impl Actor {
    /// `None` for the anonymous caller.
    fn powers(self) -> Option<Powers> {
        let set = |tenants: &[Tenant]| tenants.iter().copied().collect::<BTreeSet<_>>();
        let (platform, client, member_of, admin_of) = match self {
            Actor::Platform => (true, false, set(&[]), set(&[])),
            Actor::AdminOfA => (false, false, set(&[Tenant::A]), set(&[Tenant::A])),
            Actor::AdminOfB => (false, false, set(&[Tenant::B]), set(&[Tenant::B])),
            Actor::MemberOfA => (false, false, set(&[Tenant::A]), set(&[])),
            Actor::ClientOfA => (false, true, set(&[Tenant::A]), set(&[Tenant::A])),
            Actor::Anonymous => return None,
        };
        Some(Powers {
            platform,
            client,
            member_of,
            admin_of,
        })
    }

    /// The tenant whose data this actor belongs to, if it is bound to one.
    fn tenant(self) -> Option<Tenant> {
        match self {
            Actor::AdminOfA | Actor::MemberOfA | Actor::ClientOfA => Some(Tenant::A),
            Actor::AdminOfB => Some(Tenant::B),
            Actor::Platform | Actor::Anonymous => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Objects

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Object {
    /// The operation is about no object (or about the caller).
    None,
    InA,
    InB,
    /// A user with a membership in A and one in B.
    InBoth,
    /// An API client of platform scope.
    PlatformScope,
}

impl Object {
    fn customers(self) -> Vec<Tenant> {
        match self {
            Object::InA => vec![Tenant::A],
            Object::InB => vec![Tenant::B],
            Object::InBoth => vec![Tenant::A, Tenant::B],
            Object::None | Object::PlatformScope => vec![],
        }
    }

    fn label(self) -> &'static str {
        match self {
            Object::None => "-",
            Object::InA => "in A",
            Object::InB => "in B",
            Object::InBoth => "in A and B",
            Object::PlatformScope => "platform scope",
        }
    }
}

const AB: &[Object] = &[Object::InA, Object::InB];
const AB_BOTH: &[Object] = &[Object::InA, Object::InB, Object::InBoth];
const NONE: &[Object] = &[Object::None];

// ---------------------------------------------------------------------------
// Rules (docs/api.md, "Endpoints" and "Authorization")

#[derive(Clone, Copy, Debug)]
enum Rule {
    /// No token needed; the same answer for everybody.
    Anyone,
    /// Any valid token.
    SignedIn,
    /// A signed-in person (API clients have no user: 403).
    Person,
    /// Platform admins (and platform clients) only; 403 to everyone else
    /// before anything is looked up.
    Platform,
    /// Platform only, but about a user: a user the caller cannot see at all
    /// is 404 (another customer's data is 404, not 403).
    PlatformOnUser,
    /// Members of the customer see it; others get 404.
    ViewCustomer,
    /// Platform only; members 403; others 404.
    EditCustomer,
    /// Admins of the customer; members 403; others 404. API clients of
    /// platform scope objects: platform only.
    AdministerCustomer,
    /// Platform admin, an admin of one of the user's customers, self; a
    /// fellow member 403; others 404.
    ViewUser,
    /// The user-admin rule: platform, or an admin of every customer the user
    /// belongs to; visible but not administered 403; invisible 404.
    AdministerUser,
    /// Platform admins and admins of any customer.
    AnyAdmin,
    /// Platform admins and admins of the object's first customer: the one
    /// its user alone belonged to when the event was recorded
    /// ([`Fixture::AuditedThenShared`]). An audit event belongs to the
    /// customers its user was in at that moment, not to those they join later.
    AdministerFirstCustomer,
}

fn decide(rule: Rule, actor: Actor, object: Object, success: u16) -> u16 {
    let Some(p) = actor.powers() else {
        return match rule {
            Rule::Anyone => success,
            _ => 401,
        };
    };
    let customers = object.customers();
    let member = |t: &Tenant| p.member_of.contains(t);
    let admin = |t: &Tenant| p.admin_of.contains(t);
    let allowed_or = |ok: bool, otherwise: u16| if ok { success } else { otherwise };
    match rule {
        Rule::Anyone | Rule::SignedIn => success,
        Rule::Person => allowed_or(!p.client, 403),
        Rule::Platform => allowed_or(p.platform, 403),
        Rule::PlatformOnUser => {
            if p.platform {
                success
            } else if customers.iter().any(member) {
                403
            } else {
                404
            }
        }
        Rule::ViewCustomer => allowed_or(p.platform || customers.iter().any(member), 404),
        Rule::EditCustomer => {
            if p.platform {
                success
            } else if customers.iter().any(member) {
                403
            } else {
                404
            }
        }
        Rule::AdministerCustomer if object == Object::PlatformScope => allowed_or(p.platform, 403),
        Rule::AdministerCustomer => {
            if p.platform || customers.iter().any(admin) {
                success
            } else if customers.iter().any(member) {
                403
            } else {
                404
            }
        }
        Rule::ViewUser => {
            if p.platform || customers.iter().any(admin) {
                success
            } else if customers.iter().any(member) {
                403
            } else {
                404
            }
        }
        Rule::AdministerUser => {
            if p.platform || (!customers.is_empty() && customers.iter().all(admin)) {
                success
            } else if customers.iter().any(member) {
                403
            } else {
                404
            }
        }
        Rule::AnyAdmin => allowed_or(p.platform || !p.admin_of.is_empty(), 403),
        Rule::AdministerFirstCustomer => {
            allowed_or(p.platform || customers.first().is_some_and(admin), 404)
        }
    }
}

// ---------------------------------------------------------------------------
// Rows

/// What a cell needs made fresh before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fixture {
    Nothing,
    /// `{cid}`: the object's customer.
    Customer,
    /// `{cid}`, `{email}`: an address nobody has yet.
    NewEmail,
    /// `{uid}`, `{cid}`, `{email}`: an invited user of the object's customers.
    Invited,
    /// `{uid}`, `{cid}`, `{email}`: an active user (password [`GOOD_PASSWORD`]).
    Active,
    /// `{id}`: an API client of the object's customer (or of platform scope).
    Client,
    /// `{cid}`, `{id}`: a SCIM token of the object's customer.
    ScimToken,
    /// `{id}`: a failed email to a user of the object's customer.
    FailedEmail,
    /// `{token}`: an activation token of an invited user.
    ActivationToken,
    /// `{token}`: a password-reset token of an active user.
    ResetToken,
    /// `{token}`: a refresh token of an active user.
    RefreshToken,
    /// `{id}`: a webhook endpoint of the object's customer (or the platform's).
    Webhook,
    /// `{id}`: a failed delivery to a webhook endpoint of the object's customer.
    FailedWebhook,
    /// `{gid}`: a group of the object's customer.
    Group,
    /// `{gid}`, `{uid}`: a group of the object's customer with an invited
    /// user of the customer in it.
    GroupMember,
    /// `{uid}`, `{marker}`: a user of the object's first customer alone
    /// whom the platform admin edits with `requester_name` `{marker}`, and
    /// who then joins the object's other customers.
    AuditedThenShared,
    /// `{id}`: a (finished) user import of the object's customer.
    Import,
}

#[derive(Clone, Copy, Debug)]
enum Body {
    None,
    Json(&'static str),
    /// A `text/csv` file.
    Csv(&'static str),
    Form(&'static [(&'static str, &'static str)]),
}

struct Row {
    method: Method,
    /// The operation's path exactly as the OpenAPI document spells it.
    path: &'static str,
    /// Appended to the filled path.
    query: &'static str,
    body: Body,
    fixture: Fixture,
    objects: &'static [Object],
    rule: Rule,
    success: u16,
    /// For lists: the answer names the object exactly when this rule allows
    /// the caller to see it (the marker is the object's `{cid}` or `{id}`).
    lists: Option<Rule>,
}

#[allow(clippy::too_many_arguments)]
fn row(
    method: Method,
    path: &'static str,
    query: &'static str,
    body: Body,
    fixture: Fixture,
    objects: &'static [Object],
    rule: Rule,
    success: u16,
) -> Row {
    Row {
        method,
        path,
        query,
        body,
        fixture,
        objects,
        rule,
        success,
        lists: None,
    }
}

impl Row {
    fn listing(mut self, rule: Rule) -> Row {
        self.lists = Some(rule);
        self
    }

    fn operation(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Operations outside the OpenAPI document that still have a row.
const OUTSIDE_THE_CONTRACT: [&str; 2] = ["GET /openapi.json", "GET /docs"];

#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    use Body::{Form, Json};
    use Fixture as F;
    use Method as M;
    use Rule as R;
    vec![
        // Anyone.
        row(M::POST, "/v1/auth/token", "", Form(&[("grant_type", "password"), ("username", "{email}"), ("password", GOOD_PASSWORD)]), F::Active, AB, R::Anyone, 200),
        row(M::POST, "/v1/auth/revoke", "", Form(&[("token", "{token}")]), F::RefreshToken, AB, R::Anyone, 200),
        row(M::GET, "/v1/auth/action-tokens/{token}", "", Body::None, F::ActivationToken, AB, R::Anyone, 200),
        row(M::POST, "/v1/auth/activate", "", Json(r#"{"token": "{token}", "password": "violet tugboat arithmetic"}"#), F::ActivationToken, AB, R::Anyone, 200),
        row(M::POST, "/v1/auth/forgot-password", "", Json(r#"{"email": "{email}"}"#), F::Active, AB, R::Anyone, 202),
        row(M::POST, "/v1/auth/reset-password", "", Json(r#"{"token": "{token}", "password": "marble kettle horizon"}"#), F::ResetToken, AB, R::Anyone, 204),
        row(M::GET, "/.well-known/jwks.json", "", Body::None, F::Nothing, NONE, R::Anyone, 200),
        row(M::GET, "/healthz", "", Body::None, F::Nothing, NONE, R::Anyone, 200),
        row(M::GET, "/readyz", "", Body::None, F::Nothing, NONE, R::Anyone, 200),
        row(M::GET, "/metrics", "", Body::None, F::Nothing, NONE, R::Anyone, 200),
        row(M::GET, "/openapi.json", "", Body::None, F::Nothing, NONE, R::Anyone, 200),
        row(M::GET, "/docs", "", Body::None, F::Nothing, NONE, R::Anyone, 301),
        // The signed-in person.
        row(M::GET, "/v1/me", "", Body::None, F::Nothing, NONE, R::Person, 200),
        // Customers.
        row(M::POST, "/v1/customers", "", Json(r#"{"name": "New Customer {n}", "licensed_seats": 5}"#), F::Nothing, NONE, R::Platform, 201),
        row(M::GET, "/v1/customers", "?limit=200", Body::None, F::Customer, AB, R::SignedIn, 200).listing(R::ViewCustomer),
        row(M::GET, "/v1/customers/{cid}", "", Body::None, F::Customer, AB, R::ViewCustomer, 200),
        row(M::PATCH, "/v1/customers/{cid}", "", Json(r#"{"licensed_seats": null}"#), F::Customer, AB, R::EditCustomer, 200),
        // Memberships.
        row(M::GET, "/v1/customers/{cid}/users", "", Body::None, F::Customer, AB, R::AdministerCustomer, 200),
        row(M::POST, "/v1/customers/{cid}/users", "", Json(r#"{"email": "{email}", "first_name": "Nora", "last_name": "Quill", "job_title": "Analyst", "role": "standard_user", "settings": {"menu": "energy"}}"#), F::NewEmail, AB, R::AdministerCustomer, 201),
        row(M::PATCH, "/v1/customers/{cid}/users/{uid}", "", Json(r#"{"role": "standard_user", "settings": {"menu": "water"}}"#), F::Invited, AB, R::AdministerCustomer, 200),
        row(M::DELETE, "/v1/customers/{cid}/users/{uid}", "?notify=true", Body::None, F::Invited, AB, R::AdministerCustomer, 204),
        // Bulk import and export.
        row(M::GET, "/v1/customers/{cid}/users/export", "", Body::None, F::Invited, AB, R::AdministerCustomer, 200),
        row(M::POST, "/v1/customers/{cid}/user-imports", "?send_invites=false", Body::Csv("email,first_name,last_name\n{email},Nora,Quill\n"), F::NewEmail, AB, R::AdministerCustomer, 202),
        row(M::GET, "/v1/user-imports/{id}", "", Body::None, F::Import, AB, R::AdministerCustomer, 200),
        row(M::GET, "/v1/user-imports/{id}/errors", "", Body::None, F::Import, AB, R::AdministerCustomer, 200),
        // Groups.
        row(M::GET, "/v1/customers/{cid}/groups", "", Body::None, F::Group, AB, R::AdministerCustomer, 200),
        row(M::POST, "/v1/customers/{cid}/groups", "", Json(r#"{"name": "Group {n}", "description": "made by the matrix"}"#), F::Customer, AB, R::AdministerCustomer, 201),
        row(M::GET, "/v1/customers/{cid}/groups/{gid}", "", Body::None, F::Group, AB, R::AdministerCustomer, 200),
        row(M::PATCH, "/v1/customers/{cid}/groups/{gid}", "", Json(r#"{"name": "Renamed {n}"}"#), F::Group, AB, R::AdministerCustomer, 200),
        row(M::DELETE, "/v1/customers/{cid}/groups/{gid}", "", Body::None, F::Group, AB, R::AdministerCustomer, 204),
        row(M::PUT, "/v1/customers/{cid}/groups/{gid}/members/{uid}", "", Body::None, F::GroupMember, AB, R::AdministerCustomer, 204),
        row(M::DELETE, "/v1/customers/{cid}/groups/{gid}/members/{uid}", "", Body::None, F::GroupMember, AB, R::AdministerCustomer, 204),
        // Users.
        row(M::GET, "/v1/users", "?customer_id={cid}&limit=200", Body::None, F::Invited, AB, R::Platform, 200).listing(R::Platform),
        row(M::GET, "/v1/users/{uid}", "", Body::None, F::Invited, AB_BOTH, R::ViewUser, 200),
        row(M::PATCH, "/v1/users/{uid}", "", Json(r#"{"job_title": "Controller", "requester_name": "Sam"}"#), F::Invited, AB_BOTH, R::AdministerUser, 200),
        row(M::DELETE, "/v1/users/{uid}", "", Body::None, F::Invited, AB_BOTH, R::PlatformOnUser, 204),
        row(M::PUT, "/v1/users/{uid}/status", "", Json(r#"{"status": "inactive", "requester_name": "Sam"}"#), F::Active, AB_BOTH, R::AdministerUser, 200),
        row(M::PUT, "/v1/users/{uid}/status", "", Json(r#"{"status": "inactive"}"#), F::Invited, AB_BOTH, R::AdministerUser, 200),
        row(M::DELETE, "/v1/users/{uid}/lock", "", Body::None, F::Active, AB_BOTH, R::AdministerUser, 204),
        row(M::DELETE, "/v1/users/{uid}/lock", "", Body::None, F::Invited, AB_BOTH, R::AdministerUser, 204),
        row(M::POST, "/v1/users/{uid}/activation-email", "", Body::None, F::Invited, AB_BOTH, R::AdministerUser, 202),
        row(M::POST, "/v1/users/{uid}/password-reset-email", "", Body::None, F::Active, AB_BOTH, R::AdministerUser, 202),
        // Audit.
        row(M::GET, "/v1/audit-events", "?customer_id={cid}&limit=200", Body::None, F::Customer, AB, R::AnyAdmin, 200).listing(R::AdministerCustomer),
        row(M::GET, "/v1/audit-events", "?user_id={uid}&limit=200", Body::None, F::AuditedThenShared, AB_BOTH, R::AnyAdmin, 200).listing(R::AdministerFirstCustomer),
        // API clients.
        row(M::GET, "/v1/api-clients", "?limit=200", Body::None, F::Client, AB, R::AnyAdmin, 200).listing(R::AdministerCustomer),
        row(M::POST, "/v1/api-clients", "", Json(r#"{"name": "scripts {n}", "customer_id": "{cid}"}"#), F::Customer, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 201),
        row(M::DELETE, "/v1/api-clients/{id}", "", Body::None, F::Client, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 204),
        row(M::POST, "/v1/customers/{cid}/scim-tokens", "", Json(r#"{"description": "idp {n}"}"#), F::Customer, AB, R::AdministerCustomer, 201),
        row(M::GET, "/v1/customers/{cid}/scim-tokens", "", Body::None, F::ScimToken, AB, R::AdministerCustomer, 200).listing(R::AdministerCustomer),
        row(M::DELETE, "/v1/customers/{cid}/scim-tokens/{id}", "", Body::None, F::ScimToken, AB, R::AdministerCustomer, 204),
        // The outbox.
        row(M::GET, "/v1/email-deliveries", "?recipient={email}", Body::None, F::Active, AB, R::Platform, 200).listing(R::Platform),
        row(M::POST, "/v1/email-deliveries/{id}/retry", "", Body::None, F::FailedEmail, AB, R::Platform, 202),
        // Webhooks and the event feed.
        row(M::POST, "/v1/webhook-endpoints", "", Json(r#"{"url": "https://93.184.216.34/hooks/{n}", "customer_id": "{cid}"}"#), F::Customer, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 201),
        row(M::GET, "/v1/webhook-endpoints", "?limit=200", Body::None, F::Webhook, AB, R::AnyAdmin, 200).listing(R::AdministerCustomer),
        row(M::GET, "/v1/webhook-endpoints/{id}", "", Body::None, F::Webhook, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 200),
        row(M::PATCH, "/v1/webhook-endpoints/{id}", "", Json(r#"{"description": "edited"}"#), F::Webhook, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 200),
        row(M::DELETE, "/v1/webhook-endpoints/{id}", "", Body::None, F::Webhook, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 204),
        row(M::POST, "/v1/webhook-endpoints/{id}/rotate-secret", "", Body::None, F::Webhook, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 200),
        row(M::POST, "/v1/webhook-endpoints/{id}/test", "", Body::None, F::Webhook, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 202),
        row(M::GET, "/v1/webhook-endpoints/{id}/deliveries", "", Body::None, F::Webhook, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 200),
        row(M::POST, "/v1/webhook-deliveries/{id}/retry", "", Body::None, F::FailedWebhook, &[Object::InA, Object::InB, Object::PlatformScope], R::AdministerCustomer, 200),
        row(M::GET, "/v1/events", "?types=customer.created&limit=200", Body::None, F::Customer, AB, R::AnyAdmin, 200).listing(R::AdministerCustomer),
        // Last: a successful password change ends the caller's other sessions
        // (the cell then carries on with the new token).
        row(M::POST, "/v1/me/password", "", Json(r#"{"current_password": "{password}", "new_password": "{new_password}"}"#), F::Nothing, NONE, R::Person, 200),
    ]
}

/// The matrix spells path parameters with its own short placeholders.
fn in_matrix_spelling(path: &str) -> String {
    path.replace("{customer_id}", "{cid}")
        .replace("{scim_token_id}", "{id}")
        .replace("{user_id}", "{uid}")
        .replace("{group_id}", "{gid}")
        .replace("{api_client_id}", "{id}")
        .replace("{delivery_id}", "{id}")
        .replace("{import_id}", "{id}")
}

/// The operations of the app's own OpenAPI document, as `METHOD /path`.
async fn contract_operations(app: &TestApp) -> BTreeSet<String> {
    let document = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if path.starts_with("/scim/v2/") {
            // SCIM answers SCIM tokens only (every token of this matrix is
            // 401 there, in SCIM's error shape): its tenancy is tests/api/scim.rs.
            continue;
        }
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                let path = in_matrix_spelling(path);
                operations.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn every_operation_in_the_contract_has_a_row() {
    let app = spawn_app().await;
    let contract = contract_operations(&app).await;
    let rows: BTreeSet<String> = matrix().iter().map(Row::operation).collect();
    let missing: Vec<&String> = contract.difference(&rows).collect();
    let stale: Vec<&String> = rows
        .difference(&contract)
        .filter(|op| !OUTSIDE_THE_CONTRACT.contains(&op.as_str()))
        .collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the tenancy matrix must have a row for every operation of /openapi.json\n\
         operations without a row: {missing:#?}\nrows without an operation: {stale:#?}"
    );
    // Same for the document the binary prints and commits.
    let printed = serde_json::to_value(roster::openapi::document()).unwrap();
    let printed: BTreeSet<String> = printed["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !path.starts_with("/scim/v2/"))
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "put", "post", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| format!("{} {}", m.to_uppercase(), in_matrix_spelling(path)))
        })
        .collect();
    assert_eq!(
        printed, contract,
        "/openapi.json and roster::openapi::document() differ"
    );
}

/// Runs every row of the matrix as `actor` in a world of its own.
async fn check_every_cell_as(actor: Actor) {
    let mut world = world().await;
    let (cells, mismatches) = run_matrix(&mut world, &[actor]).await;
    eprintln!(
        "tenancy matrix as {actor:?}: {cells} cells ({} rows)",
        matrix().len()
    );
    assert!(mismatches.is_empty(), "{}", report(cells, &mismatches));
}

#[tokio::test]
async fn a_platform_admin_gets_the_documented_answer_to_every_operation_on_a_b_and_both() {
    check_every_cell_as(Actor::Platform).await;
}

#[tokio::test]
async fn an_admin_of_a_gets_the_documented_answer_to_every_operation_on_a_b_and_both() {
    check_every_cell_as(Actor::AdminOfA).await;
}

#[tokio::test]
async fn an_admin_of_b_gets_the_documented_answer_to_every_operation_on_a_b_and_both() {
    check_every_cell_as(Actor::AdminOfB).await;
}

#[tokio::test]
async fn a_member_of_a_gets_the_documented_answer_to_every_operation_on_a_b_and_both() {
    check_every_cell_as(Actor::MemberOfA).await;
}

#[tokio::test]
async fn an_api_client_of_a_gets_the_documented_answer_to_every_operation_on_a_b_and_both() {
    check_every_cell_as(Actor::ClientOfA).await;
}

#[tokio::test]
async fn an_anonymous_caller_gets_the_documented_answer_to_every_operation_on_a_b_and_both() {
    check_every_cell_as(Actor::Anonymous).await;
}

#[test]
fn the_rules_give_the_documented_answers() {
    // Spot checks of `decide` against docs/api.md ("Authorization").
    use Actor::*;
    use Object::*;
    assert_eq!(decide(Rule::AdministerUser, AdminOfA, InBoth, 200), 403);
    assert_eq!(decide(Rule::AdministerUser, AdminOfB, InA, 200), 404);
    assert_eq!(decide(Rule::AdministerUser, ClientOfA, InA, 200), 200);
    assert_eq!(decide(Rule::AdministerUser, MemberOfA, InA, 200), 403);
    assert_eq!(decide(Rule::PlatformOnUser, AdminOfA, InA, 204), 403);
    assert_eq!(decide(Rule::PlatformOnUser, AdminOfA, InB, 204), 404);
    assert_eq!(decide(Rule::EditCustomer, AdminOfA, InA, 200), 403);
    assert_eq!(decide(Rule::ViewUser, AdminOfB, InBoth, 200), 200);
    assert_eq!(decide(Rule::Platform, AdminOfA, InB, 200), 403);
    assert_eq!(
        decide(Rule::AdministerCustomer, AdminOfA, PlatformScope, 201),
        403
    );
    assert_eq!(decide(Rule::AnyAdmin, MemberOfA, None, 200), 403);
    assert_eq!(
        decide(Rule::AdministerFirstCustomer, AdminOfB, InBoth, 200),
        404
    );
    assert_eq!(
        decide(Rule::AdministerFirstCustomer, ClientOfA, InBoth, 200),
        200
    );
    assert_eq!(decide(Rule::Person, ClientOfA, None, 200), 403);
    assert_eq!(decide(Rule::Anyone, Anonymous, InB, 202), 202);
    assert_eq!(decide(Rule::SignedIn, Anonymous, None, 200), 401);
}
