//! `Idempotency-Key` on creating POSTs (docs/api.md, "Endpoints"): a repeat
//! replays the first answer and does nothing twice, a refused request frees
//! its key, and a key belongs to its caller alone.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    expect_json, expect_problem, header, id_of, item_strings, new_person, spawn_app, TestApp,
};

async fn post_with_key(
    app: &TestApp,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Response {
    app.request(Method::POST, path, Some(token))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Status, Location and body of a response.
async fn answer(response: Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let location = header(&response, "location");
    (status, location, response.json().await.unwrap())
}

#[tokio::test]
async fn repeating_a_customer_create_with_the_same_key_replays_the_first_answer() {
    let app = spawn_app().await;
    let body = json!({"name": "Once Ltd", "licensed_seats": 5});
    let token = app.admin_token();
    let first = answer(post_with_key(&app, "/v1/customers", token, "cust-1", &body).await).await;
    let again = answer(post_with_key(&app, "/v1/customers", token, "cust-1", &body).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    assert_eq!(again, first);
    let list = app.admin_get("/v1/customers").await;
    assert_eq!(item_strings(&list, "name"), ["Once Ltd"]);
    assert_eq!(app.audit_events("action=customer.created").await.len(), 1);
}

#[tokio::test]
async fn repeating_an_add_user_with_the_same_key_creates_one_user_and_sends_one_email() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let path = format!("/v1/customers/{cid}/users");
    let body = new_person("pat@acme.test");
    let token = app.admin_token();
    let first = answer(post_with_key(&app, &path, token, "add-1", &body).await).await;
    let again = answer(post_with_key(&app, &path, token, "add-1", &body).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    assert_eq!(again, first);
    let list = app.admin_get(&path).await;
    assert_eq!(item_strings(&list, "email"), ["pat@acme.test"]);
    assert_eq!(list["named_users"], 1);
    assert_eq!(app.count_emails("activation", "pat@acme.test").await, 1);
    assert_eq!(app.audit_events("action=user.invited").await.len(), 1);
}

#[tokio::test]
async fn a_replayed_answer_says_idempotent_replayed_and_the_first_does_not() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let path = format!("/v1/customers/{cid}/users");
    let body = new_person("pat@acme.test");
    let first = post_with_key(&app, &path, app.admin_token(), "k-1", &body).await;
    assert_ne!(header(&first, "idempotent-replayed"), "true");
    let first = expect_json(first, StatusCode::CREATED).await;
    let replay = post_with_key(&app, &path, app.admin_token(), "k-1", &body).await;
    assert_eq!(header(&replay, "idempotent-replayed"), "true");
    assert_eq!(expect_json(replay, StatusCode::CREATED).await, first);
}

#[tokio::test]
async fn a_refused_request_frees_its_key_for_a_retry() {
    let app = spawn_app().await;
    let full = app.customer("Full", Some(0)).await;
    let path = format!("/v1/customers/{full}/users");
    let body = new_person("q@acme.test");
    let refused = post_with_key(&app, &path, app.admin_token(), "k-2", &body).await;
    expect_problem(refused, StatusCode::CONFLICT, "seat_limit_reached").await;
    let unlimited = json!({"licensed_seats": null});
    let lifted = app
        .update_customer(app.admin_token(), &full, &unlimited)
        .await;
    expect_json(lifted, StatusCode::OK).await;
    let retried = post_with_key(&app, &path, app.admin_token(), "k-2", &body).await;
    assert_ne!(header(&retried, "idempotent-replayed"), "true");
    expect_json(retried, StatusCode::CREATED).await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_idempotency_key_reused() {
    let app = spawn_app().await;
    let token = app.admin_token();
    let created = post_with_key(&app, "/v1/customers", token, "k", &json!({"name": "First"})).await;
    let cid = id_of(&expect_json(created, StatusCode::CREATED).await);
    let other = post_with_key(
        &app,
        "/v1/customers",
        token,
        "k",
        &json!({"name": "Second"}),
    )
    .await;
    expect_problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(
        item_strings(&app.admin_get("/v1/customers").await, "name"),
        ["First"]
    );

    let path = format!("/v1/customers/{cid}/users");
    let added = post_with_key(&app, &path, token, "u", &new_person("pat@acme.test")).await;
    expect_json(added, StatusCode::CREATED).await;
    let other = post_with_key(&app, &path, token, "u", &new_person("sam@acme.test")).await;
    expect_problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(
        item_strings(&app.admin_get(&path).await, "email"),
        ["pat@acme.test"]
    );
    assert_eq!(app.count_emails("activation", "sam@acme.test").await, 0);
}

#[tokio::test]
async fn another_platform_admin_using_the_same_key_gets_their_own_customer() {
    let app = spawn_app().await;
    let second = app.another_platform_admin("second@roster.test").await;
    let body = json!({"name": "Shared Name"});
    let mine =
        answer(post_with_key(&app, "/v1/customers", app.admin_token(), "k", &body).await).await;
    let theirs = answer(post_with_key(&app, "/v1/customers", &second, "k", &body).await).await;
    assert_eq!(
        (mine.0, theirs.0),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_ne!(mine.2["id"], theirs.2["id"], "a fresh result, not a replay");
    let other_body = json!({"name": "Their Own"});
    let different = post_with_key(&app, "/v1/customers", &second, "k2", &other_body).await;
    expect_json(different, StatusCode::CREATED).await;
    let reused = post_with_key(
        &app,
        "/v1/customers",
        app.admin_token(),
        "k2",
        &json!({"name": "Mine"}),
    )
    .await;
    assert_eq!(
        expect_json(reused, StatusCode::CREATED).await["name"],
        "Mine"
    );
    let list = app.admin_get("/v1/customers").await;
    assert_eq!(
        item_strings(&list, "name"),
        ["Mine", "Their Own", "Shared Name", "Shared Name"]
    );
}

#[tokio::test]
async fn another_caller_sending_the_same_key_and_body_is_answered_afresh_not_replayed() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (_, admin_a) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let path = format!("/v1/customers/{cid}/users");
    let body = new_person("pat@acme.test");
    let first = post_with_key(&app, &path, app.admin_token(), "k-1", &body).await;
    expect_json(first, StatusCode::CREATED).await;
    let theirs = post_with_key(&app, &path, &admin_a, "k-1", &body).await;
    assert_ne!(header(&theirs, "idempotent-replayed"), "true");
    expect_problem(theirs, StatusCode::CONFLICT, "already_member").await;
}

#[tokio::test]
async fn a_customer_admin_reusing_a_platform_admins_key_gets_their_own_result() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (_, admin_a) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let path = format!("/v1/customers/{cid}/users");
    let first = post_with_key(
        &app,
        &path,
        app.admin_token(),
        "k",
        &new_person("x@acme.test"),
    )
    .await;
    let x = expect_json(first, StatusCode::CREATED).await;
    let theirs = post_with_key(&app, &path, &admin_a, "k", &new_person("y@acme.test")).await;
    let y = expect_json(theirs, StatusCode::CREATED).await;
    assert_eq!(y["email"], "y@acme.test");
    assert_ne!(y["id"], x["id"]);
    let same = post_with_key(&app, &path, &admin_a, "k2", &new_person("x@acme.test")).await;
    let platform_same = post_with_key(
        &app,
        &path,
        app.admin_token(),
        "k2",
        &new_person("z@acme.test"),
    )
    .await;
    expect_problem(same, StatusCode::CONFLICT, "already_member").await;
    assert_eq!(
        expect_json(platform_same, StatusCode::CREATED).await["email"],
        "z@acme.test"
    );
}

#[tokio::test]
async fn repeating_an_api_client_create_with_the_same_key_creates_one_client() {
    let app = spawn_app().await;
    let body = json!({"name": "nightly provisioning"});
    let token = app.admin_token();
    let first = answer(post_with_key(&app, "/v1/api-clients", token, "c-1", &body).await).await;
    let again = answer(post_with_key(&app, "/v1/api-clients", token, "c-1", &body).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    assert_eq!(again, first);
    let clients = app.admin_get("/v1/api-clients").await;
    assert_eq!(item_strings(&clients, "name"), ["nightly provisioning"]);
}

/// Every stored idempotency record, each column as text.
async fn idempotency_records(app: &TestApp) -> Vec<String> {
    app.state
        .read(|conn, _| {
            use diesel::prelude::*;
            use roster::db::schema::idempotency_keys::dsl;
            let rows: Vec<(String, String, String, Option<String>)> = dsl::idempotency_keys
                .select((
                    dsl::principal,
                    dsl::idempotency_key,
                    dsl::request_hash,
                    dsl::response_body,
                ))
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(a, b, c, d)| format!("{a} {b} {c} {}", d.unwrap_or_default()))
                .collect())
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_api_client_created_with_a_key_leaves_neither_secret_nor_key_at_rest() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (_, admin) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let key = "3b0c7e0a-6a53-4f0e-9d1b-2f7c1c2e5a77";
    let body = json!({"name": "nightly provisioning", "customer_id": cid});
    let first = answer(post_with_key(&app, "/v1/api-clients", &admin, key, &body).await).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    let secret = first.2["client_secret"].as_str().unwrap().to_string();

    let records = idempotency_records(&app).await;
    assert_eq!(records.len(), 1, "{records:?}");
    for record in &records {
        assert!(!record.contains(&secret), "the secret is at rest: {record}");
        assert!(!record.contains(key), "the key is at rest: {record}");
        assert!(!record.contains("nightly provisioning"), "{record}");
    }
    // The same caller with the same key still gets the same answer.
    let again = post_with_key(&app, "/v1/api-clients", &admin, key, &body).await;
    assert_eq!(header(&again, "idempotent-replayed"), "true");
    assert_eq!(answer(again).await, first);
    // The secret it replays still works.
    let id = first.2["id"].as_str().unwrap();
    app.client_token(id, &secret).await;
}

#[tokio::test]
async fn a_replay_after_the_caller_lost_the_right_is_refused() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, admin) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let client_body = json!({"name": "nightly provisioning", "customer_id": cid});
    let created = post_with_key(&app, "/v1/api-clients", &admin, "c-1", &client_body).await;
    expect_json(created, StatusCode::CREATED).await;
    let users = format!("/v1/customers/{cid}/users");
    let person = new_person("pat@acme.test");
    let added = post_with_key(&app, &users, &admin, "u-1", &person).await;
    expect_json(added, StatusCode::CREATED).await;

    let demoted = app
        .update_customer_user(
            app.admin_token(),
            &cid,
            &uid,
            &json!({"role": "full_access"}),
        )
        .await;
    expect_json(demoted, StatusCode::OK).await;
    let replay = post_with_key(&app, "/v1/api-clients", &admin, "c-1", &client_body).await;
    assert_ne!(header(&replay, "idempotent-replayed"), "true");
    let refused = expect_problem(replay, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(refused.get("client_secret").is_none(), "{refused}");
    let replay = post_with_key(&app, &users, &admin, "u-1", &person).await;
    expect_problem(replay, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_replay_of_a_platform_creation_needs_the_platform_right_still() {
    let app = spawn_app().await;
    let other = app.another_platform_admin("ops@roster.test").await;
    let ops = app.my_id(&other).await;
    let body = json!({"name": "Once Ltd"});
    let created = post_with_key(&app, "/v1/customers", &other, "k-1", &body).await;
    expect_json(created, StatusCode::CREATED).await;
    // A platform admin who loses the platform role (in the database: no
    // endpoint does that) keeps a working token but not the right.
    let ops_id = ops.clone();
    app.state
        .write(move |conn, _| {
            use diesel::prelude::*;
            use roster::db::schema::users::dsl;
            diesel::update(dsl::users.find(&ops_id))
                .set(dsl::platform_role.eq("none"))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let replay = post_with_key(&app, "/v1/customers", &other, "k-1", &body).await;
    expect_problem(replay, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn two_concurrent_creates_with_one_key_create_once() {
    let app = spawn_app().await;
    let body = json!({"name": "Once Ltd"});
    let send = || post_with_key(&app, "/v1/customers", app.admin_token(), "same-key", &body);
    let (a, b) = tokio::join!(send(), send());
    let statuses = [a.status(), b.status()];
    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let list = app.admin_get("/v1/customers?q=once").await;
    assert_eq!(item_strings(&list, "name"), ["Once Ltd"]);
}
