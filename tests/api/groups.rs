//! A customer's groups ("user group tags") and members' external ids
//! (docs/api.md, "Groups and external ids").

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    error_fields, expect_json, expect_problem, header, id_of, items, spawn_app, TestApp,
};

impl TestApp {
    async fn create_group(&self, token: &str, cid: &str, body: &Value) -> reqwest::Response {
        self.post_json(&format!("/v1/customers/{cid}/groups"), Some(token), body)
            .await
    }

    async fn group(&self, cid: &str, name: &str) -> String {
        let response = self
            .create_group(self.admin_token(), cid, &json!({"name": name}))
            .await;
        id_of(&expect_json(response, StatusCode::CREATED).await)
    }

    async fn put_member(&self, token: &str, cid: &str, gid: &str, uid: &str) -> reqwest::Response {
        let path = format!("/v1/customers/{cid}/groups/{gid}/members/{uid}");
        self.request(Method::PUT, &path, Some(token))
            .send()
            .await
            .unwrap()
    }

    async fn group_names_in_list(&self, cid: &str, uid: &str) -> Vec<String> {
        let response = self.list_customer_users(self.admin_token(), cid, "").await;
        let page = expect_json(response, StatusCode::OK).await;
        let row = items(&page)
            .iter()
            .find(|row| row["id"] == uid)
            .cloned()
            .expect("the user is listed");
        names(&row["groups"])
    }
}

fn names(groups: &Value) -> Vec<String> {
    groups
        .as_array()
        .expect("groups is a list")
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_group_is_created_listed_renamed_and_deleted_by_the_customers_admin() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let response = app
        .create_group(
            app.admin_token(),
            &cid,
            &json!({"name": " Accounts payable ", "description": "Approves invoices"}),
        )
        .await;
    let location = header(&response, "location");
    let etag = header(&response, "etag");
    let group = expect_json(response, StatusCode::CREATED).await;
    let gid = id_of(&group);
    assert_eq!(location, format!("/v1/customers/{cid}/groups/{gid}"));
    assert_eq!(group["name"], "Accounts payable");
    assert_eq!(group["member_count"], 0);
    assert_eq!(etag, "\"1\"");

    let page = expect_json(
        app.get(
            &format!("/v1/customers/{cid}/groups"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(items(&page).len(), 1);

    let path = format!("/v1/customers/{cid}/groups/{gid}");
    let renamed = app
        .request(Method::PATCH, &path, Some(app.admin_token()))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "AP", "description": null}))
        .send()
        .await
        .unwrap();
    let renamed = expect_json(renamed, StatusCode::OK).await;
    assert_eq!(renamed["name"], "AP");
    assert_eq!(renamed["description"], Value::Null);
    let stale = app
        .request(Method::PATCH, &path, Some(app.admin_token()))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "AP 2"}))
        .send()
        .await
        .unwrap();
    expect_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;

    let deleted = app.delete(&path, Some(app.admin_token())).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = app.get(&path, Some(app.admin_token())).await;
    expect_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
    let audit = app.admin_get("/v1/audit-events?action=group.updated").await;
    assert_eq!(items(&audit).len(), 1, "{audit}");
}

#[tokio::test]
async fn group_names_are_unique_in_a_customer_whatever_their_case_but_not_across_customers() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    app.group(&a, "Field team").await;
    let again = app
        .create_group(app.admin_token(), &a, &json!({"name": "FIELD TEAM"}))
        .await;
    expect_problem(again, StatusCode::CONFLICT, "group_name_taken").await;
    app.group(&b, "Field team").await;
    for bad in [
        json!({"name": "  "}),
        json!({"name": "a;b"}),
        json!({"name": "x".repeat(101)}),
    ] {
        let response = app.create_group(app.admin_token(), &a, &bad).await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["name"], "{bad}");
    }
}

#[tokio::test]
async fn members_join_and_leave_groups_and_user_views_list_their_groups_per_membership() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let east = app.group(&cid, "East").await;
    let billing = app.group(&cid, "Billing").await;
    for gid in [&east, &billing, &east] {
        let response = app.put_member(app.admin_token(), &cid, gid, &uid).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        app.group_names_in_list(&cid, &uid).await,
        ["Billing", "East"]
    );
    let info = app.user_info(&uid).await;
    assert_eq!(
        names(&info["memberships"][0]["groups"]),
        ["Billing", "East"]
    );
    let group = app
        .admin_get(&format!("/v1/customers/{cid}/groups/{east}"))
        .await;
    assert_eq!(group["member_ids"], json!([uid]));
    assert_eq!(group["member_count"], 1);

    let path = format!("/v1/customers/{cid}/groups/{east}/members/{uid}");
    let removed = app.delete(&path, Some(app.admin_token())).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let again = app.delete(&path, Some(app.admin_token())).await;
    expect_problem(again, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.group_names_in_list(&cid, &uid).await, ["Billing"]);
    let added = app
        .admin_get("/v1/audit-events?action=group.member_added")
        .await;
    assert_eq!(items(&added).len(), 2, "a repeated PUT records nothing");
}

#[tokio::test]
async fn only_users_of_the_customer_can_join_its_groups_and_leaving_the_customer_leaves_them() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let in_a = app.add_new_user(&a, "a@acme.test", "full_access").await;
    let in_b = app.add_new_user(&b, "b@acme.test", "full_access").await;
    let gid = app.group(&a, "Team").await;
    let outsider = app.put_member(app.admin_token(), &a, &gid, &in_b).await;
    expect_problem(outsider, StatusCode::NOT_FOUND, "not_found").await;
    app.put_member(app.admin_token(), &a, &gid, &in_a).await;
    let removed = app
        .remove_customer_user(app.admin_token(), &a, &in_a, "")
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let group = app
        .admin_get(&format!("/v1/customers/{a}/groups/{gid}"))
        .await;
    assert_eq!(group["member_count"], 0, "{group}");
}

#[tokio::test]
async fn a_customer_admin_manages_their_own_groups_and_never_sees_another_customers() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let (_, admin) = app.invite_and_activate(&a, "admin@a.test", "admin").await;
    let (_, member) = app
        .invite_and_activate(&a, "member@a.test", "full_access")
        .await;
    let theirs = app.group(&b, "Secret").await;
    let ours = app.create_group(&admin, &a, &json!({"name": "Ours"})).await;
    expect_json(ours, StatusCode::CREATED).await;
    let list_b = app
        .get(&format!("/v1/customers/{b}/groups"), Some(&admin))
        .await;
    expect_problem(list_b, StatusCode::NOT_FOUND, "not_found").await;
    let read_b = app
        .get(&format!("/v1/customers/{b}/groups/{theirs}"), Some(&admin))
        .await;
    expect_problem(read_b, StatusCode::NOT_FOUND, "not_found").await;
    // Another customer's group id under one's own customer is no group at all.
    let crossed = app
        .get(&format!("/v1/customers/{a}/groups/{theirs}"), Some(&admin))
        .await;
    expect_problem(crossed, StatusCode::NOT_FOUND, "not_found").await;
    let by_member = app
        .create_group(&member, &a, &json!({"name": "Mine"}))
        .await;
    expect_problem(by_member, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn groups_are_given_when_a_user_is_added_and_copied_with_the_user() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let east = app.group(&cid, "East").await;
    let body = json!({"email": "first@acme.test", "first_name": "Fi", "last_name": "Rst", "group_ids": [east]});
    let first = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(names(&first["groups"]), ["East"]);
    let copy = json!({"email": "second@acme.test", "first_name": "Se", "last_name": "Cond", "copy_from_user_id": id_of(&first)});
    let second = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &copy).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(names(&second["groups"]), ["East"]);
    let other = app.customer("Other", None).await;
    let foreign = app.group(&other, "Foreign").await;
    let bad = json!({"email": "third@acme.test", "first_name": "Th", "last_name": "Ird", "group_ids": [foreign]});
    let response = app.add_customer_user(app.admin_token(), &cid, &bad).await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["group_ids"]);
    assert_eq!(
        app.named_users(&cid).await,
        2,
        "the refused add took no seat"
    );
}

#[tokio::test]
async fn a_patch_replaces_a_members_groups_and_records_them_in_the_audit_event() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let east = app.group(&cid, "East").await;
    let west = app.group(&cid, "West").await;
    let patched = app
        .update_customer_user(
            app.admin_token(),
            &cid,
            &uid,
            &json!({"group_ids": [east, west]}),
        )
        .await;
    assert_eq!(
        names(&expect_json(patched, StatusCode::OK).await["groups"]),
        ["East", "West"]
    );
    let patched = app
        .update_customer_user(app.admin_token(), &cid, &uid, &json!({"group_ids": [west]}))
        .await;
    assert_eq!(
        names(&expect_json(patched, StatusCode::OK).await["groups"]),
        ["West"]
    );
    let audit = app
        .admin_get("/v1/audit-events?action=membership.updated")
        .await;
    let latest = &items(&audit)[0];
    assert_eq!(
        latest["changes"]["groups"],
        json!({"before": ["East", "West"], "after": ["West"]})
    );
}

#[tokio::test]
async fn an_external_id_is_set_on_add_changed_by_patch_found_by_filter_and_unique_in_the_customer()
{
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let body = json!({"email": "pat@acme.test", "first_name": "Pat", "last_name": "Lee", "external_id": "E-1"});
    let added = expect_json(
        app.add_customer_user(app.admin_token(), &a, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["external_id"], "E-1");
    let uid = id_of(&added);
    let clash = json!({"email": "sam@acme.test", "first_name": "Sam", "last_name": "Lee", "external_id": "E-1"});
    let response = app.add_customer_user(app.admin_token(), &a, &clash).await;
    expect_problem(response, StatusCode::CONFLICT, "external_id_taken").await;
    assert_eq!(app.named_users(&a).await, 1, "the refused add took no seat");
    // The same id means someone else in another customer.
    let elsewhere = app.add_customer_user(app.admin_token(), &b, &clash).await;
    let sam = id_of(&expect_json(elsewhere, StatusCode::CREATED).await);

    let found = expect_json(
        app.list_customer_users(app.admin_token(), &a, "external_id=E-1")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(items(&found).len(), 1);
    assert_eq!(items(&found)[0]["id"], uid.as_str());
    let none = expect_json(
        app.list_customer_users(app.admin_token(), &a, "external_id=E-2")
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(items(&none).is_empty());

    let patched = app
        .update_customer_user(app.admin_token(), &a, &uid, &json!({"external_id": "E-2"}))
        .await;
    assert_eq!(
        expect_json(patched, StatusCode::OK).await["external_id"],
        "E-2"
    );
    let cleared = app
        .update_customer_user(app.admin_token(), &a, &uid, &json!({"external_id": null}))
        .await;
    assert_eq!(
        expect_json(cleared, StatusCode::OK).await["external_id"],
        Value::Null
    );
    app.add_existing_user(&a, "sam@acme.test").await;
    app.update_customer_user(app.admin_token(), &a, &sam, &json!({"external_id": "E-9"}))
        .await;
    let taken = app
        .update_customer_user(app.admin_token(), &a, &uid, &json!({"external_id": "E-9"}))
        .await;
    expect_problem(taken, StatusCode::CONFLICT, "external_id_taken").await;
    let long = app
        .update_customer_user(
            app.admin_token(),
            &a,
            &uid,
            &json!({"external_id": "x".repeat(256)}),
        )
        .await;
    let problem = expect_problem(long, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["external_id"]);
}

#[tokio::test]
async fn one_user_put_in_one_group_many_times_at_once_joins_once() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let gid = app.group(&cid, "East").await;
    let puts = (0..8).map(|_| app.put_member(app.admin_token(), &cid, &gid, &uid));
    for response in futures_util::future::join_all(puts).await {
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let group = app
        .admin_get(&format!("/v1/customers/{cid}/groups/{gid}"))
        .await;
    assert_eq!(group["member_ids"], json!([uid]));
    let added = app
        .admin_get("/v1/audit-events?action=group.member_added")
        .await;
    assert_eq!(items(&added).len(), 1);
}
