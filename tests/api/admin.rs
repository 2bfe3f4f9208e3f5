//! The admin half of the contract: seats, conflicts, copy-user, ETags,
//! idempotent creation, deletion, and who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_json, expect_problem, spawn_app, TestApp};
use crate::people::{activate, customer, invite, set_status};

async fn add(app: &TestApp, cid: &str, body: Value) -> reqwest::Response {
    app.post_json(
        &format!("/v1/customers/{cid}/users"),
        Some(app.admin_token()),
        &body,
    )
    .await
}

fn person(email: &str) -> Value {
    json!({"email": email, "first_name": "Pat", "last_name": "Lee"})
}

async fn named_users(app: &TestApp, cid: &str) -> i64 {
    let body = expect_json(
        app.get(&format!("/v1/customers/{cid}"), Some(app.admin_token()))
            .await,
        StatusCode::OK,
    )
    .await;
    body["named_users"].as_i64().unwrap()
}

#[tokio::test]
async fn adding_a_user_beyond_the_seat_limit_returns_409_until_a_seat_is_freed() {
    let app = spawn_app().await;
    let cid = customer(&app, "UBM Demo", Some(3)).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = expect_json(
            add(&app, &cid, person(&format!("u{n}@acme.test"))).await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(named_users(&app, &cid).await, 3);
    expect_problem(
        add(&app, &cid, person("u3@acme.test")).await,
        StatusCode::CONFLICT,
        "seat_limit_reached",
    )
    .await;

    set_status(&app, &ids[0], "retired").await;
    assert_eq!(named_users(&app, &cid).await, 2);
    expect_json(
        add(&app, &cid, person("u3@acme.test")).await,
        StatusCode::CREATED,
    )
    .await;
    // Reinstating the retired user would take a fourth seat.
    let reinstate = app
        .send_json(
            Method::PUT,
            &format!("/v1/users/{}/status", ids[0]),
            Some(app.admin_token()),
            &json!({"status": "active"}),
        )
        .await;
    expect_problem(reinstate, StatusCode::CONFLICT, "seat_limit_reached").await;

    // Lowering the licence below the count is allowed and only blocks additions.
    let lowered = app
        .send_json(
            Method::PATCH,
            &format!("/v1/customers/{cid}"),
            Some(app.admin_token()),
            &json!({"licensed_seats": 1}),
        )
        .await;
    assert_eq!(expect_json(lowered, StatusCode::OK).await["named_users"], 3);
    let page = expect_json(
        app.get(
            &format!("/v1/customers/{cid}/users"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            page["licensed_seats"].as_i64(),
            page["named_users"].as_i64()
        ),
        (Some(1), Some(3))
    );
}

#[tokio::test]
async fn two_requests_for_the_last_seat_let_exactly_one_in() {
    let app = spawn_app().await;
    let cid = customer(&app, "Tight", Some(1)).await;
    let (a, b) = tokio::join!(
        add(&app, &cid, person("a@acme.test")),
        add(&app, &cid, person("b@acme.test"))
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    assert_eq!(named_users(&app, &cid).await, 1);
}

#[tokio::test]
async fn an_existing_email_adds_a_membership_and_conflicts_name_themselves() {
    let app = spawn_app().await;
    let a = customer(&app, "A", None).await;
    let b = customer(&app, "B", None).await;
    let uid = invite(&app, &a, "pat@acme.test", "full_access").await;
    activate(&app, "pat@acme.test").await;
    let second = expect_json(
        add(&app, &b, json!({"email": "PAT@acme.test", "role": "admin"})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["id"], uid.as_str());
    assert_eq!(second["role"], "admin");
    app.last_email("membership_added", "pat@acme.test").await;
    let again = expect_problem(
        add(&app, &b, json!({"email": "pat@acme.test"})).await,
        StatusCode::CONFLICT,
        "already_member",
    )
    .await;
    assert_eq!(again["user_id"], uid.as_str());

    set_status(&app, &uid, "retired").await;
    let c = customer(&app, "C", None).await;
    let retired = expect_problem(
        add(&app, &c, json!({"email": "pat@acme.test"})).await,
        StatusCode::CONFLICT,
        "user_retired",
    )
    .await;
    assert_eq!(retired["user_id"], uid.as_str());
}

#[tokio::test]
async fn a_new_user_needs_names_and_read_only_fields_are_refused() {
    let app = spawn_app().await;
    let cid = customer(&app, "A", None).await;
    let missing = expect_problem(
        add(&app, &cid, json!({"email": "x@acme.test"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = missing["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["first_name", "last_name"]);
    for field in ["status", "platform_role", "id", "password_hash"] {
        let mut body = person("y@acme.test");
        body[field] = json!("admin");
        expect_problem(
            add(&app, &cid, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let users = expect_json(
        app.get(
            &format!("/v1/customers/{cid}/users"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        users["items"].as_array().unwrap().len(),
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn copying_a_user_copies_role_and_settings_and_explicit_fields_win() {
    let app = spawn_app().await;
    let cid = customer(&app, "A", None).await;
    let source = expect_json(
        add(&app, &cid, json!({"email": "src@acme.test", "first_name": "S", "last_name": "Rc", "role": "standard_user", "settings": {"menu": "energy", "chat_tag": true}})).await,
        StatusCode::CREATED,
    )
    .await;
    let sid = source["id"].as_str().unwrap();
    let copy = expect_json(
        add(&app, &cid, json!({"email": "copy@acme.test", "first_name": "C", "last_name": "Py", "copy_from_user_id": sid})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(copy["role"], "standard_user");
    assert_eq!(
        copy["settings"],
        json!({"menu": "energy", "chat_tag": true})
    );
    let explicit = expect_json(
        add(&app, &cid, json!({"email": "x@acme.test", "first_name": "X", "last_name": "Y", "copy_from_user_id": sid, "role": "admin"})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(explicit["role"], "admin");
    assert_eq!(explicit["settings"]["menu"], "energy");
    let other = customer(&app, "B", None).await;
    let foreign = add(&app, &other, json!({"email": "z@acme.test", "first_name": "Z", "last_name": "Z", "copy_from_user_id": sid})).await;
    let problem = expect_problem(
        foreign,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "copy_from_user_id");
}

#[tokio::test]
async fn the_newest_user_is_first_and_lists_page_with_filters() {
    let app = spawn_app().await;
    let cid = customer(&app, "A", None).await;
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        expect_json(
            add(&app, &cid, json!({"email": format!("{name}@acme.test"), "first_name": name, "last_name": "Smith"})).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let first = expect_json(
        app.get(
            &format!("/v1/customers/{cid}/users?limit=2"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["items"][0]["email"], "erin@acme.test");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = expect_json(
        app.get(
            &format!("/v1/customers/{cid}/users?limit=2&cursor={cursor}"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["items"][0]["email"], "carol@acme.test");
    let found = expect_json(
        app.get(
            &format!("/v1/customers/{cid}/users?q=CAR"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let all = expect_json(
        app.get(
            &format!("/v1/users?customer_id={cid}&q=smi"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    for bad in [
        "limit=0",
        "limit=abc",
        "status=asleep",
        "role=owner",
        "cursor=nonsense!",
    ] {
        expect_problem(
            app.get(
                &format!("/v1/customers/{cid}/users?{bad}"),
                Some(app.admin_token()),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn a_stale_etag_is_412_and_emails_stay_unique() {
    let app = spawn_app().await;
    let cid = customer(&app, "A", None).await;
    let uid = invite(&app, &cid, "pat@acme.test", "full_access").await;
    invite(&app, &cid, "other@acme.test", "full_access").await;
    let read = app
        .get(&format!("/v1/users/{uid}"), Some(app.admin_token()))
        .await;
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    let patch = |tag: String, body: Value| {
        app.request(
            Method::PATCH,
            &format!("/v1/users/{uid}"),
            Some(app.admin_token()),
        )
        .header("If-Match", tag)
        .json(&body)
        .send()
    };
    let first = patch(etag.clone(), json!({"job_title": "CFO"}))
        .await
        .unwrap();
    let new_etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(expect_json(first, StatusCode::OK).await["job_title"], "CFO");
    assert_ne!(etag, new_etag);
    let stale = patch(etag, json!({"job_title": "CEO"})).await.unwrap();
    expect_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let taken = patch(new_etag, json!({"email": "OTHER@acme.test"}))
        .await
        .unwrap();
    expect_problem(taken, StatusCode::CONFLICT, "email_taken").await;
    let readonly = app
        .send_json(
            Method::PATCH,
            &format!("/v1/users/{uid}"),
            Some(app.admin_token()),
            &json!({"platform_role": "admin"}),
        )
        .await;
    expect_problem(
        readonly,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_for_its_caller_only() {
    let app = spawn_app().await;
    let cid = customer(&app, "A", None).await;
    let post = |token: String, key: &'static str, body: Value| {
        app.request(
            Method::POST,
            &format!("/v1/customers/{cid}/users"),
            Some(&token),
        )
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
    };
    let admin = app.admin_token().to_string();
    let first = expect_json(
        post(admin.clone(), "k-1", person("pat@acme.test"))
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let replay = post(admin.clone(), "k-1", person("pat@acme.test"))
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(replay, StatusCode::CREATED).await, first);
    let activations = app
        .outbox()
        .await
        .iter()
        .filter(|e| e.kind == "activation")
        .count();
    assert_eq!(activations, 1, "the replay sent nothing");
    let changed = post(admin.clone(), "k-1", person("someone@acme.test"))
        .await
        .unwrap();
    expect_problem(
        changed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;

    // Another admin's identical key is theirs alone.
    invite(&app, &cid, "boss@acme.test", "admin").await;
    let boss = activate(&app, "boss@acme.test").await.access_token();
    let theirs = post(boss, "k-1", person("pat@acme.test")).await.unwrap();
    expect_problem(theirs, StatusCode::CONFLICT, "already_member").await;

    // A failed request frees its key.
    let full = customer(&app, "Full", Some(0)).await;
    let refused = app
        .request(
            Method::POST,
            &format!("/v1/customers/{full}/users"),
            Some(&admin),
        )
        .header("Idempotency-Key", "k-2")
        .json(&person("q@acme.test"))
        .send()
        .await
        .unwrap();
    expect_problem(refused, StatusCode::CONFLICT, "seat_limit_reached").await;
    app.send_json(
        Method::PATCH,
        &format!("/v1/customers/{full}"),
        Some(&admin),
        &json!({"licensed_seats": null}),
    )
    .await;
    let retried = app
        .request(
            Method::POST,
            &format!("/v1/customers/{full}/users"),
            Some(&admin),
        )
        .header("Idempotency-Key", "k-2")
        .json(&person("q@acme.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn removing_from_one_customer_keeps_the_others_and_deleting_keeps_only_the_audit_id() {
    let app = spawn_app().await;
    let a = customer(&app, "A", None).await;
    let b = customer(&app, "B", None).await;
    let uid = invite(&app, &a, "pat@acme.test", "full_access").await;
    expect_json(
        add(&app, &b, json!({"email": "pat@acme.test"})).await,
        StatusCode::CREATED,
    )
    .await;
    let removed = app
        .delete(
            &format!("/v1/customers/{a}/users/{uid}?notify=true&requester_name=Sam"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    app.last_email("membership_removed", "pat@acme.test").await;
    let user = expect_json(
        app.get(&format!("/v1/users/{uid}"), Some(app.admin_token()))
            .await,
        StatusCode::OK,
    )
    .await;
    let customers: Vec<&str> = user["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["customer_id"].as_str().unwrap())
        .collect();
    assert_eq!(customers, [b.as_str()]);

    let deleted = app
        .delete(
            &format!("/v1/users/{uid}?confirmation_email=sam@ubm.example"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get(&format!("/v1/users/{uid}"), Some(app.admin_token()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let events = expect_json(
        app.get(
            &format!("/v1/audit-events?user_id={uid}"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let events = events["items"].as_array().unwrap();
    assert!(events.iter().any(|e| e["action"] == "user.deleted"));
    let text = serde_json::to_string(events).unwrap();
    assert!(
        !text.contains("pat@acme.test") && !text.contains("\"Pat\""),
        "personal data survived: {text}"
    );
    assert!(
        app.outbox()
            .await
            .iter()
            .all(|e| e.recipient != "pat@acme.test"),
        "queued emails to the user remain"
    );
    let me = expect_json(
        app.get("/v1/me", Some(app.admin_token())).await,
        StatusCode::OK,
    )
    .await;
    let myself = me["id"].as_str().unwrap();
    expect_problem(
        app.delete(&format!("/v1/users/{myself}"), Some(app.admin_token()))
            .await,
        StatusCode::CONFLICT,
        "cannot_change_self",
    )
    .await;
}

#[tokio::test]
async fn every_admin_action_is_audited_with_its_request_and_a_confirmation() {
    let app = spawn_app().await;
    let cid = customer(&app, "A", None).await;
    let response = app
        .request(Method::POST, &format!("/v1/customers/{cid}/users"), Some(app.admin_token()))
        .header("X-Request-Id", "req-audit-1")
        .json(&json!({"email": "pat@acme.test", "first_name": "Pat", "last_name": "Lee", "requester_name": "Sam Admin", "confirmation_email": "sam@ubm.example"}))
        .send()
        .await
        .unwrap();
    let uid = expect_json(response, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = expect_json(
        app.get(
            &format!("/v1/audit-events?user_id={uid}&action=membership.added"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let event = &events["items"][0];
    assert_eq!(event["request_id"], "req-audit-1");
    assert_eq!(event["requester_name"], "Sam Admin");
    assert_eq!(event["confirmation_email"], "sam@ubm.example");
    assert_eq!(event["customer_id"], cid.as_str());
    assert_eq!(event["changes"]["role"]["after"], "full_access");
    let confirmation = app
        .last_email("action_confirmation", "sam@ubm.example")
        .await;
    assert!(
        confirmation
            .text_body
            .contains("Pat Lee (pat@acme.test) was added to A"),
        "{}",
        confirmation.text_body
    );
    let bad = app
        .post_json(&format!("/v1/customers/{cid}/users"), Some(app.admin_token()), &json!({"email": "q@acme.test", "first_name": "Q", "last_name": "R", "confirmation_email": "not an email"}))
        .await;
    let problem = expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "confirmation_email");
}

/// Who is asking in the matrix below.
#[derive(Clone, Copy, Debug)]
enum Who {
    Platform,
    AdminOfA,
    AdminOfB,
    MemberOfA,
    ClientOfA,
    Anonymous,
}

#[tokio::test]
async fn the_authorization_matrix_holds_for_every_admin_endpoint() {
    use StatusCode as S;
    let app = spawn_app().await;
    let a = customer(&app, "A", None).await;
    let b = customer(&app, "B", None).await;
    invite(&app, &a, "admin-a@acme.test", "admin").await;
    invite(&app, &b, "admin-b@acme.test", "admin").await;
    invite(&app, &a, "member-a@acme.test", "full_access").await;
    let token_of = [
        (
            "admin-a@acme.test",
            activate(&app, "admin-a@acme.test").await.access_token(),
        ),
        (
            "admin-b@acme.test",
            activate(&app, "admin-b@acme.test").await.access_token(),
        ),
        (
            "member-a@acme.test",
            activate(&app, "member-a@acme.test").await.access_token(),
        ),
    ];
    let client = expect_json(
        app.post_json(
            "/v1/api-clients",
            Some(app.admin_token()),
            &json!({"name": "scripts of A", "customer_id": a}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let client_token = expect_json(
        app.token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
        ])
        .await,
        StatusCode::OK,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let token = |who: Who| -> Option<String> {
        match who {
            Who::Platform => Some(app.admin_token().to_string()),
            Who::AdminOfA => Some(token_of[0].1.clone()),
            Who::AdminOfB => Some(token_of[1].1.clone()),
            Who::MemberOfA => Some(token_of[2].1.clone()),
            Who::ClientOfA => Some(client_token.clone()),
            Who::Anonymous => None,
        }
    };
    use Who::*;
    // (method, path, body, [platform, admin of A, admin of B, member of A, API client of A, anonymous])
    // Each row gets its own fresh target user in A so that mutations don't interfere.
    #[rustfmt::skip]
    let rows: Vec<(Method, &str, Value, [S; 6])> = vec![
        //                                                                          platform      admin of A    admin of B    member of A   client of A   anonymous
        (Method::POST, "/v1/customers", json!({"name": "N"}),                        [S::CREATED, S::FORBIDDEN, S::FORBIDDEN, S::FORBIDDEN, S::FORBIDDEN, S::UNAUTHORIZED]),
        (Method::GET, "/v1/customers/{a}", json!(null),                              [S::OK, S::OK, S::NOT_FOUND, S::OK, S::OK, S::UNAUTHORIZED]),
        (Method::PATCH, "/v1/customers/{a}", json!({"name": "A2"}),                  [S::OK, S::FORBIDDEN, S::NOT_FOUND, S::FORBIDDEN, S::FORBIDDEN, S::UNAUTHORIZED]),
        (Method::GET, "/v1/customers/{a}/users", json!(null),                        [S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN, S::OK, S::UNAUTHORIZED]),
        (Method::POST, "/v1/customers/{a}/users", json!({"email": "{fresh}", "first_name": "F", "last_name": "R"}),
                                                                                     [S::CREATED, S::CREATED, S::NOT_FOUND, S::FORBIDDEN, S::CREATED, S::UNAUTHORIZED]),
        (Method::PATCH, "/v1/customers/{a}/users/{u}", json!({"role": "standard_user"}), [S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN, S::OK, S::UNAUTHORIZED]),
        (Method::DELETE, "/v1/customers/{a}/users/{u}", json!(null),                 [S::NO_CONTENT, S::NO_CONTENT, S::NOT_FOUND, S::FORBIDDEN, S::NO_CONTENT, S::UNAUTHORIZED]),
        (Method::GET, "/v1/users", json!(null),                                      [S::OK, S::FORBIDDEN, S::FORBIDDEN, S::FORBIDDEN, S::FORBIDDEN, S::UNAUTHORIZED]),
        (Method::GET, "/v1/users/{u}", json!(null),                                  [S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN, S::OK, S::UNAUTHORIZED]),
        (Method::PATCH, "/v1/users/{u}", json!({"job_title": "T"}),                  [S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN, S::OK, S::UNAUTHORIZED]),
        (Method::PUT, "/v1/users/{u}/status", json!({"status": "inactive"}),         [S::OK, S::OK, S::NOT_FOUND, S::FORBIDDEN, S::OK, S::UNAUTHORIZED]),
        (Method::DELETE, "/v1/users/{u}/lock", json!(null),                          [S::NO_CONTENT, S::NO_CONTENT, S::NOT_FOUND, S::FORBIDDEN, S::NO_CONTENT, S::UNAUTHORIZED]),
        (Method::POST, "/v1/users/{u}/activation-email", json!(null),                [S::ACCEPTED, S::ACCEPTED, S::NOT_FOUND, S::FORBIDDEN, S::ACCEPTED, S::UNAUTHORIZED]),
        (Method::DELETE, "/v1/users/{u}", json!(null),                               [S::NO_CONTENT, S::FORBIDDEN, S::NOT_FOUND, S::FORBIDDEN, S::FORBIDDEN, S::UNAUTHORIZED]),
        (Method::GET, "/v1/audit-events", json!(null),                               [S::OK, S::OK, S::OK, S::FORBIDDEN, S::OK, S::UNAUTHORIZED]),
        (Method::GET, "/v1/api-clients", json!(null),                                [S::OK, S::OK, S::OK, S::FORBIDDEN, S::OK, S::UNAUTHORIZED]),
        (Method::POST, "/v1/api-clients", json!({"name": "c", "customer_id": "{a}"}), [S::CREATED, S::CREATED, S::NOT_FOUND, S::FORBIDDEN, S::CREATED, S::UNAUTHORIZED]),
        (Method::GET, "/v1/email-deliveries", json!(null),                           [S::OK, S::FORBIDDEN, S::FORBIDDEN, S::FORBIDDEN, S::FORBIDDEN, S::UNAUTHORIZED]),
    ];
    let mut failures = Vec::new();
    let mut n = 0;
    for (method, template, body, expected) in rows {
        for (who, want) in [
            Platform, AdminOfA, AdminOfB, MemberOfA, ClientOfA, Anonymous,
        ]
        .into_iter()
        .zip(expected)
        {
            n += 1;
            let target = invite(&app, &a, &format!("target{n}@acme.test"), "full_access").await;
            let fill = |text: &str| {
                text.replace("{a}", &a)
                    .replace("{b}", &b)
                    .replace("{u}", &target)
                    .replace("{fresh}", &format!("fresh{n}@acme.test"))
            };
            let path = fill(template);
            let mut request = app.request(method.clone(), &path, token(who).as_deref());
            if !body.is_null() {
                let body: Value = serde_json::from_str(&fill(&body.to_string())).unwrap();
                request = request.json(&body);
            }
            let got = request.send().await.unwrap().status();
            if got != want {
                failures.push(format!(
                    "{method} {template} as {who:?}: expected {want}, got {got}"
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

#[tokio::test]
async fn two_concurrent_creates_with_one_key_create_once() {
    let app = spawn_app().await;
    let send = || {
        app.request(Method::POST, "/v1/customers", Some(app.admin_token()))
            .header("Idempotency-Key", "same-key")
            .json(&json!({"name": "Once Ltd"}))
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let statuses = [a.unwrap().status(), b.unwrap().status()];
    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let list = expect_json(
        app.get("/v1/customers?q=once", Some(app.admin_token()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn two_patches_with_one_etag_let_exactly_one_through() {
    let app = spawn_app().await;
    let cid = customer(&app, "A", None).await;
    let read = app
        .get(&format!("/v1/customers/{cid}"), Some(app.admin_token()))
        .await;
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    let patch = |name: &'static str| {
        app.request(
            Method::PATCH,
            &format!("/v1/customers/{cid}"),
            Some(app.admin_token()),
        )
        .header("If-Match", etag.clone())
        .json(&json!({"name": name}))
        .send()
    };
    let (first, second) = tokio::join!(patch("One"), patch("Two"));
    let mut statuses = [first.unwrap().status(), second.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
}
