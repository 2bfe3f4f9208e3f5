//! SCIM 2.0 at /scim/v2 (docs/scim.md) and the SCIM tokens that open it:
//! a token sees and changes its own customer only, and every change goes
//! through the REST API's use cases (seats, the user-admin rule, audit).
//! The request shapes Okta and Entra ID send are tested as they send them.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_json, header, id_of, items, spawn_app, TestApp};

const SCIM_JSON: &str = "application/scim+json";

async fn scim(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.request(method, &format!("/scim/v2{path}"), Some(token));
    if let Some(body) = body {
        request = request
            .header("Content-Type", SCIM_JSON)
            .body(body.to_string());
    }
    request.send().await.unwrap()
}

/// The body of a SCIM answer with `status`, after checking its media type.
async fn expect_scim(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let content_type = header(&response, "content-type");
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    if text.is_empty() {
        return Value::Null;
    }
    assert_eq!(content_type, SCIM_JSON, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A SCIM Error with `status` and `scim_type`.
async fn expect_scim_error(
    response: Response,
    status: StatusCode,
    scim_type: Option<&str>,
) -> Value {
    let body = expect_scim(response, status).await;
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status.as_u16().to_string(), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
    body
}

fn new_user(email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

/// A customer and a SCIM token of it: (cid, token).
async fn customer_with_token(app: &TestApp, name: &str, seats: Option<i32>) -> (String, String) {
    let cid = app.customer(name, seats).await;
    let (_, token) = app.scim_token(&cid).await;
    (cid, token)
}

async fn create(app: &TestApp, token: &str, email: &str) -> Value {
    expect_scim(
        scim(app, Method::POST, "/Users", token, Some(new_user(email))).await,
        StatusCode::CREATED,
    )
    .await
}

fn patch_op(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

#[tokio::test]
async fn a_scim_token_is_shown_once_listed_with_its_use_and_refused_once_revoked() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let path = format!("/v1/customers/{cid}/scim-tokens");
    let created = expect_json(
        app.post_json(
            &path,
            Some(app.admin_token()),
            &json!({"description": "Okta"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("rst_"), "{created}");
    assert_eq!(created["description"], "Okta");
    assert!(created["last_used_at"].is_null());

    expect_scim(
        scim(&app, Method::GET, "/Users", &token, None).await,
        StatusCode::OK,
    )
    .await;
    let listed = expect_json(
        app.get(&path, Some(app.admin_token())).await,
        StatusCode::OK,
    )
    .await;
    let entry = &items(&listed)[0];
    assert_eq!(entry["id"], created["id"]);
    assert!(
        entry.get("token").is_none(),
        "the token is never shown again"
    );
    assert!(entry["last_used_at"].is_string(), "{entry}");

    let revoke = app
        .delete(
            &format!("{path}/{}", id_of(&created)),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let refused = scim(&app, Method::GET, "/Users", &token, None).await;
    assert_eq!(
        header(&refused, "www-authenticate"),
        "Bearer realm=\"roster SCIM\""
    );
    expect_scim_error(refused, StatusCode::UNAUTHORIZED, None).await;
    let listed = expect_json(
        app.get(&path, Some(app.admin_token())).await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&listed).is_empty());
}

#[tokio::test]
async fn scim_refuses_missing_or_foreign_tokens_with_a_bearer_challenge() {
    let app = spawn_app().await;
    for token in ["", "rst_nonsense", app.admin_token()] {
        let mut request = app.request(Method::GET, "/scim/v2/Users", None);
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(header(&response, "www-authenticate").starts_with("Bearer"));
        expect_scim_error(response, StatusCode::UNAUTHORIZED, None).await;
    }
}

#[tokio::test]
async fn discovery_describes_patch_filters_etags_and_the_served_attributes() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    let config = expect_scim(
        scim(&app, Method::GET, "/ServiceProviderConfig", &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 200);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    assert_eq!(config["sort"]["supported"], false);
    assert_eq!(config["changePassword"]["supported"], false);
    assert_eq!(
        config["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );
    let types = expect_scim(
        scim(&app, Method::GET, "/ResourceTypes", &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(types["totalResults"], 2);
    let user = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["userName", "name", "title", "emails", "active", "groups"]
    );
    expect_scim_error(
        scim(&app, Method::GET, "/Nowhere", &token, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    let wrong = scim(&app, Method::DELETE, "/Schemas", &token, None).await;
    assert_eq!(header(&wrong, "allow"), "GET");
    expect_scim_error(wrong, StatusCode::METHOD_NOT_ALLOWED, None).await;
}

#[tokio::test]
async fn posting_a_new_person_invites_them_with_the_token_as_the_audited_actor() {
    let app = spawn_app().await;
    let (cid, token) = customer_with_token(&app, "Acme", None).await;
    let created_response = scim(
        &app,
        Method::POST,
        "/Users",
        &token,
        Some(new_user("Ada@Acme.test")),
    )
    .await;
    let location = header(&created_response, "location");
    let etag = header(&created_response, "etag");
    let created = expect_scim(created_response, StatusCode::CREATED).await;
    assert_eq!(created["meta"]["location"], location);
    assert_eq!(created["meta"]["version"], etag);
    assert_eq!(created["userName"], "Ada@Acme.test");
    assert_eq!(
        created["emails"],
        json!([{"value": "Ada@Acme.test", "type": "work", "primary": true}])
    );
    assert_eq!(created["active"], true);
    let uid = created["id"].as_str().unwrap();

    let info = app.user_info(uid).await;
    assert_eq!(info["status"], "invited");
    assert_eq!(app.count_emails("activation", "Ada@Acme.test").await, 1);
    assert_eq!(app.named_users(&cid).await, 1);
    let events = app.audit_events(&format!("user_id={uid}")).await;
    let added = events
        .iter()
        .find(|e| e["action"] == "membership.added")
        .unwrap();
    let (token_id, _) = {
        let listed = app
            .admin_get(&format!("/v1/customers/{cid}/scim-tokens"))
            .await;
        (id_of(&items(&listed)[0]), ())
    };
    assert_eq!(added["actor_client_id"], token_id, "{added}");
    assert!(added["actor_user_id"].is_null());
}

#[tokio::test]
async fn posting_an_existing_user_adds_a_membership_and_a_member_again_is_uniqueness() {
    let app = spawn_app().await;
    let other = app.customer("Bravo", None).await;
    let uid = app
        .add_new_user(&other, "pat@shared.test", "full_access")
        .await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    let created = create(&app, &token, "PAT@shared.test").await;
    assert_eq!(created["id"], uid);
    assert_eq!(app.customer_ids_of(&uid).await.len(), 2);
    let again = scim(
        &app,
        Method::POST,
        "/Users",
        &token,
        Some(new_user("pat@shared.test")),
    )
    .await;
    expect_scim_error(again, StatusCode::CONFLICT, Some("uniqueness")).await;
}

#[tokio::test]
async fn a_token_never_sees_or_changes_another_customers_members() {
    let app = spawn_app().await;
    let (_, token_a) = customer_with_token(&app, "Acme", None).await;
    let (_, token_b) = customer_with_token(&app, "Bravo", None).await;
    let in_b = create(&app, &token_b, "bo@bravo.test").await;
    let path = format!("/Users/{}", in_b["id"].as_str().unwrap());
    let listed = expect_scim(
        scim(&app, Method::GET, "/Users", &token_a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["totalResults"], 0, "{listed}");
    let found = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Users?filter=userName%20eq%20%22bo@bravo.test%22",
            &token_a,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["totalResults"], 0);
    expect_scim_error(
        scim(&app, Method::GET, &path, &token_a, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    let deactivate = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    expect_scim_error(
        scim(&app, Method::PATCH, &path, &token_a, Some(deactivate)).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    expect_scim_error(
        scim(
            &app,
            Method::PUT,
            &path,
            &token_a,
            Some(new_user("bo@bravo.test")),
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    expect_scim_error(
        scim(&app, Method::DELETE, &path, &token_a, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    let still = expect_scim(
        scim(&app, Method::GET, &path, &token_b, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["active"], true);
}

#[tokio::test]
async fn okta_and_entra_deactivate_with_capitalised_ops_and_string_booleans() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    let created = create(&app, &token, "ada@acme.test").await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let off = patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let patched = expect_scim(
        scim(&app, Method::PATCH, &path, &token, Some(off)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["active"], false);
    assert_eq!(
        app.user_info(created["id"].as_str().unwrap()).await["status"],
        "inactive"
    );
    // Entra without a path, as a value object; Okta with a boolean.
    let on = patch_op(json!([{"op": "Replace", "value": {"active": "True"}}]));
    let patched = expect_scim(
        scim(&app, Method::PATCH, &path, &token, Some(on)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["active"], true);
    // Deactivated users stay readable (Entra reads them back).
    let off = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    expect_scim(
        scim(&app, Method::PATCH, &path, &token, Some(off)).await,
        StatusCode::OK,
    )
    .await;
    let read = expect_scim(
        scim(&app, Method::GET, &path, &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["active"], false);
}

#[tokio::test]
async fn deactivating_someone_who_also_belongs_to_another_customer_is_forbidden() {
    let app = spawn_app().await;
    let other = app.customer("Bravo", None).await;
    let uid = app
        .add_new_user(&other, "pat@shared.test", "full_access")
        .await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    create(&app, &token, "pat@shared.test").await;
    let path = format!("/Users/{uid}");
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    expect_scim_error(
        scim(&app, Method::PATCH, &path, &token, Some(off)).await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
    let rename =
        patch_op(json!([{"op": "replace", "path": "name.givenName", "value": "Patricia"}]));
    expect_scim_error(
        scim(&app, Method::PATCH, &path, &token, Some(rename)).await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
    assert_eq!(app.user_info(&uid).await["status"], "invited");
    // A PUT that changes nothing of the person's own is fine.
    let mut same = new_user("pat@shared.test");
    same["name"] = json!({"givenName": "Pat", "familyName": "Lee"});
    expect_scim(
        scim(&app, Method::PUT, &path, &token, Some(same)).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn patch_paths_change_names_titles_and_the_work_email() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    let created = create(&app, &token, "ada@acme.test").await;
    let uid = created["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{uid}");
    let body = patch_op(json!([
        {"op": "replace", "path": "name.givenName", "value": "Augusta"},
        {"op": "Add", "path": "title", "value": "Countess"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "augusta@acme.test"}
    ]));
    let patched = expect_scim(
        scim(&app, Method::PATCH, &path, &token, Some(body)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["name"]["givenName"], "Augusta");
    assert_eq!(patched["title"], "Countess");
    let info = app.user_info(&uid).await;
    assert_eq!(info["first_name"], "Augusta");
    assert_eq!(info["job_title"], "Countess");
    assert_eq!(info["email"], "augusta@acme.test");
    let remove = patch_op(json!([{"op": "remove", "path": "title"}]));
    let patched = expect_scim(
        scim(&app, Method::PATCH, &path, &token, Some(remove)).await,
        StatusCode::OK,
    )
    .await;
    assert!(patched.get("title").is_none());
    // All or nothing: a bad operation after a good one changes nothing.
    let bad = patch_op(json!([
        {"op": "replace", "path": "name.familyName", "value": "Byron"},
        {"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "x@y.test"}}
    ]));
    expect_scim_error(
        scim(&app, Method::PATCH, &path, &token, Some(bad)).await,
        StatusCode::BAD_REQUEST,
        Some("noTarget"),
    )
    .await;
    assert_eq!(app.user_info(&uid).await["last_name"], "Lovelace");
    for (body, scim_type) in [
        (patch_op(json!([{"op": "remove"}])), "noTarget"),
        (
            patch_op(json!([{"op": "replace", "path": "id", "value": "x"}])),
            "mutability",
        ),
        (
            patch_op(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
            "invalidPath",
        ),
        (
            patch_op(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
            "invalidValue",
        ),
        (json!({"Operations": "no"}), "invalidSyntax"),
    ] {
        expect_scim_error(
            scim(&app, Method::PATCH, &path, &token, Some(body)).await,
            StatusCode::BAD_REQUEST,
            Some(scim_type),
        )
        .await;
    }
}

#[tokio::test]
async fn delete_removes_the_membership_and_keeps_the_person() {
    let app = spawn_app().await;
    let other = app.customer("Bravo", None).await;
    let uid = app
        .add_new_user(&other, "pat@shared.test", "full_access")
        .await;
    let (cid, token) = customer_with_token(&app, "Acme", None).await;
    create(&app, &token, "pat@shared.test").await;
    assert_eq!(app.named_users(&cid).await, 1);
    let response = scim(&app, Method::DELETE, &format!("/Users/{uid}"), &token, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.customer_ids_of(&uid).await, vec![other]);
    assert_eq!(app.named_users(&cid).await, 0);
    expect_scim_error(
        scim(&app, Method::GET, &format!("/Users/{uid}"), &token, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}

#[tokio::test]
async fn a_full_customer_refuses_new_members_naming_seat_limit_reached() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", Some(1)).await;
    create(&app, &token, "one@acme.test").await;
    let refused = scim(
        &app,
        Method::POST,
        "/Users",
        &token,
        Some(new_user("two@acme.test")),
    )
    .await;
    let body = expect_scim_error(refused, StatusCode::FORBIDDEN, None).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("seat_limit_reached"),
        "{body}"
    );
}

#[tokio::test]
async fn if_match_guards_changes_against_a_stale_etag() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    let created = create(&app, &token, "ada@acme.test").await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let etag = created["meta"]["version"].as_str().unwrap().to_string();
    let rename =
        |name: &str| patch_op(json!([{"op": "replace", "path": "name.givenName", "value": name}]));
    let first = app
        .request(Method::PATCH, &format!("/scim/v2{path}"), Some(&token))
        .header("If-Match", &etag)
        .header("Content-Type", SCIM_JSON)
        .body(rename("Augusta").to_string())
        .send()
        .await
        .unwrap();
    let changed = expect_scim(first, StatusCode::OK).await;
    assert_ne!(changed["meta"]["version"], etag);
    let stale = app
        .request(Method::PATCH, &format!("/scim/v2{path}"), Some(&token))
        .header("If-Match", &etag)
        .header("Content-Type", SCIM_JSON)
        .body(rename("Bea").to_string())
        .send()
        .await
        .unwrap();
    expect_scim_error(stale, StatusCode::PRECONDITION_FAILED, None).await;
}

#[tokio::test]
async fn filters_and_paging_answer_what_identity_providers_ask() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    for email in ["ann@acme.test", "bob@acme.test", "cat@acme.test"] {
        create(&app, &token, email).await;
    }
    let off = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let cat = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Users?filter=userName%20eq%20%22CAT@acme.test%22",
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cat["totalResults"], 1);
    let cat_id = cat["Resources"][0]["id"].as_str().unwrap().to_string();
    expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Users/{cat_id}"),
            &token,
            Some(off),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let count = |filter: &str| {
        let path = format!("/Users?filter={}", urlencode(filter));
        let app = &app;
        let token = token.clone();
        async move {
            let body = expect_scim(
                scim(app, Method::GET, &path, &token, None).await,
                StatusCode::OK,
            )
            .await;
            body["totalResults"].as_u64().unwrap()
        }
    };
    // Absent at provisioning time: an empty ListResponse, not a 404.
    assert_eq!(count(r#"userName eq "nobody@acme.test""#).await, 0);
    assert_eq!(count(r#"emails.value co "@acme""#).await, 3);
    assert_eq!(count(r#"userName sw "b" or userName sw "c""#).await, 2);
    assert_eq!(
        count(r#"active eq true and not (userName eq "ann@acme.test")"#).await,
        1
    );
    assert_eq!(count(r#"active eq false"#).await, 1);
    assert_eq!(
        count(r#"meta.lastModified gt "2000-01-01T00:00:00Z""#).await,
        3
    );
    assert_eq!(count(r#"externalId pr"#).await, 0);
    // Okta's lookup, as Okta sends it.
    let okta = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Users?filter=userName%20eq%20%22bob@acme.test%22&startIndex=1&count=2",
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            okta["totalResults"].as_u64(),
            okta["startIndex"].as_u64(),
            okta["itemsPerPage"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(okta["Resources"][0]["userName"], "bob@acme.test");
    // Paging.
    let page = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Users?filter=userName%20sw%20%22%22&startIndex=2&count=2",
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["totalResults"], 3);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(page["Resources"][0]["userName"], "bob@acme.test");
    let none = expect_scim(
        scim(&app, Method::GET, "/Users?count=0", &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(none["totalResults"], 3);
    assert_eq!(none["Resources"], json!([]));
    for bad in [
        "/Users?filter=userName%20eq",
        "/Users?filter=(active%20eq%20true",
        "/Users?filter=active%20gt%20true",
    ] {
        expect_scim_error(
            scim(&app, Method::GET, bad, &token, None).await,
            StatusCode::BAD_REQUEST,
            Some("invalidFilter"),
        )
        .await;
    }
    expect_scim_error(
        scim(&app, Method::GET, "/Users?count=many", &token, None).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn bad_bodies_are_scim_errors_and_never_500() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    let raw = |body: &'static str, content_type: &'static str| {
        app.request(Method::POST, "/scim/v2/Users", Some(&token))
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    expect_scim_error(
        raw("{not json", SCIM_JSON).await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    expect_scim_error(
        raw("[]", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax"),
    )
    .await;
    expect_scim_error(
        raw("userName=x", "text/plain").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
    )
    .await;
    expect_scim_error(
        raw(r#"{"userName": "not an email"}"#, SCIM_JSON)
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    expect_scim_error(
        raw(r#"{"userName": "new@acme.test"}"#, SCIM_JSON)
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
    expect_scim_error(
        scim(&app, Method::GET, "/Users/not-an-id", &token, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}

#[tokio::test]
async fn external_ids_are_set_found_and_unique_in_the_customer() {
    let app = spawn_app().await;
    let (cid, token) = customer_with_token(&app, "Acme", None).await;
    let mut body = new_user("ada@acme.test");
    body["externalId"] = json!("00u-ADA");
    let created = expect_scim(
        scim(&app, Method::POST, "/Users", &token, Some(body)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["externalId"], "00u-ADA");
    let uid = created["id"].as_str().unwrap().to_string();
    let rest = app
        .admin_get(&format!("/v1/customers/{cid}/users?external_id=00u-ADA"))
        .await;
    assert_eq!(id_of(&items(&rest)[0]), uid);
    let found = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Users?filter=externalId%20eq%20%2200u-ADA%22",
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    let mut other = new_user("bob@acme.test");
    other["externalId"] = json!("00u-ADA");
    expect_scim_error(
        scim(&app, Method::POST, "/Users", &token, Some(other)).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;
    let clear = patch_op(json!([{"op": "remove", "path": "externalId"}]));
    let cleared = expect_scim(
        scim(
            &app,
            Method::PATCH,
            &format!("/Users/{uid}"),
            &token,
            Some(clear),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(cleared.get("externalId").is_none());
}

#[tokio::test]
async fn groups_take_members_the_okta_and_entra_ways_and_show_on_their_users() {
    let app = spawn_app().await;
    let (cid, token) = customer_with_token(&app, "Acme", None).await;
    let ada = create(&app, &token, "ada@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = create(&app, &token, "bob@acme.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let group = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Groups",
            &token,
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Billing",
                "externalId": "00g-1",
                "members": [{"value": ada}]
            })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());
    assert_eq!(group["members"][0]["value"], ada.as_str());
    let user = expect_scim(
        scim(&app, Method::GET, &format!("/Users/{ada}"), &token, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(user["groups"][0]["display"], "Billing");
    // Okta: add on `members`, remove on `members[value eq "…"]`.
    let okta = patch_op(json!([
        {"op": "add", "path": "members", "value": [{"value": bob}]},
        {"op": "remove", "path": format!("members[value eq \"{ada}\"]")}
    ]));
    let patched = expect_scim(
        scim(&app, Method::PATCH, &path, &token, Some(okta)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        patched["members"],
        json!([{"value": bob, "$ref": format!("{}/Users/{bob}", patched["meta"]["location"].as_str().unwrap().rsplit_once("/Groups/").unwrap().0), "type": "User"}])
    );
    // Entra (without aadOptscim062020): remove with a value list; rename.
    let entra = patch_op(json!([
        {"op": "Remove", "path": "members", "value": [{"value": bob}]},
        {"op": "Replace", "path": "displayName", "value": "Accounts"}
    ]));
    let patched = expect_scim(
        scim(&app, Method::PATCH, &path, &token, Some(entra)).await,
        StatusCode::OK,
    )
    .await;
    assert!(patched.get("members").is_none(), "{patched}");
    assert_eq!(patched["displayName"], "Accounts");
    // Entra's lookup by name, without members.
    let found = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Groups?filter=displayName%20eq%20%22accounts%22&excludedAttributes=members",
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());
    let taken = json!({"displayName": "ACCOUNTS"});
    expect_scim_error(
        scim(&app, Method::POST, "/Groups", &token, Some(taken)).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;
    let groups = app.admin_get(&format!("/v1/customers/{cid}/groups")).await;
    assert_eq!(items(&groups).len(), 1);
    let response = scim(&app, Method::DELETE, &path, &token, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_scim_error(
        scim(&app, Method::GET, &path, &token, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    assert_eq!(app.customer_ids_of(&bob).await, vec![cid]);
}

#[tokio::test]
async fn a_token_never_sees_or_fills_another_customers_groups() {
    let app = spawn_app().await;
    let (_, token_a) = customer_with_token(&app, "Acme", None).await;
    let (_, token_b) = customer_with_token(&app, "Bravo", None).await;
    let bo = create(&app, &token_b, "bo@bravo.test").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let group_b = expect_scim(
        scim(
            &app,
            Method::POST,
            "/Groups",
            &token_b,
            Some(json!({"displayName": "Ops"})),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/Groups/{}", group_b["id"].as_str().unwrap());
    let listed = expect_scim(
        scim(&app, Method::GET, "/Groups", &token_a, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["totalResults"], 0);
    expect_scim_error(
        scim(&app, Method::GET, &path, &token_a, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    expect_scim_error(
        scim(&app, Method::DELETE, &path, &token_a, None).await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    // A's group cannot take B's member.
    let with_bo = json!({"displayName": "Ops", "members": [{"value": bo}]});
    expect_scim_error(
        scim(&app, Method::POST, "/Groups", &token_a, Some(with_bo)).await,
        StatusCode::BAD_REQUEST,
        Some("invalidValue"),
    )
    .await;
}

#[tokio::test]
async fn a_scim_token_is_neither_an_oauth_client_nor_listed_with_them() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let (id, token) = app.scim_token(&cid).await;
    let grant = expect_json(
        app.client_credentials(&id, &token).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(grant["error"], "invalid_client");
    let clients = expect_json(
        app.list_api_clients(app.admin_token()).await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&clients).iter().all(|c| c["id"] != id.as_str()));
    let revoke = app.revoke_api_client(app.admin_token(), &id).await;
    assert_eq!(revoke.status(), StatusCode::NOT_FOUND);
    expect_scim(
        scim(&app, Method::GET, "/Users", &token, None).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn a_user_name_that_is_not_the_email_is_kept_unique_and_redacted_with_the_user() {
    let app = spawn_app().await;
    let (_, token) = customer_with_token(&app, "Acme", None).await;
    let mut body = new_user("ada@acme.test");
    body["userName"] = json!("Ada.Lovelace");
    let created = expect_scim(
        scim(&app, Method::POST, "/Users", &token, Some(body)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["userName"], "Ada.Lovelace");
    assert_eq!(created["emails"][0]["value"], "ada@acme.test");
    let uid = created["id"].as_str().unwrap().to_string();
    let found = expect_scim(
        scim(
            &app,
            Method::GET,
            "/Users?filter=userName%20eq%20%22ada.lovelace%22",
            &token,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    let mut twin = new_user("twin@acme.test");
    twin["userName"] = json!("ADA.LOVELACE");
    expect_scim_error(
        scim(&app, Method::POST, "/Users", &token, Some(twin)).await,
        StatusCode::CONFLICT,
        Some("uniqueness"),
    )
    .await;

    let deleted = app.delete_user(app.admin_token(), &uid, "").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let events = app.audit_events(&format!("user_id={uid}")).await;
    let kept = events
        .iter()
        .find(|e| e["action"] == "scim_member.updated")
        .unwrap();
    assert_eq!(kept["changes"]["user_name"]["after"], "[deleted]", "{kept}");
}
