//! Users across the platform: the list, User Info, edits, status, unlock,
//! link emails and deletion, and a walkthrough of each job aid.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    error_fields, expect_json, expect_problem, header, id_of, is_timestamp, item_strings, items,
    new_person, spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, GOOD_PASSWORD, USER_FIELDS,
};

const NEW_PASSWORD: &str = "plum orbit cascade velvet";

async fn status_of(app: &TestApp, uid: &str) -> Value {
    app.admin_get(&format!("/v1/users/{uid}")).await["status"].clone()
}

async fn set_status(app: &TestApp, uid: &str, body: Value) -> Value {
    expect_json(
        app.put_status(uid, &body, app.admin_token()).await,
        StatusCode::OK,
    )
    .await
}

async fn lock_out(app: &TestApp, email: &str) {
    for _ in 0..5 {
        let refused = app.password_grant(email, "not the password at all").await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
}

/// A sign-in attempt's answer: 200, or the `code` beside `invalid_grant`.
async fn sign_in_outcome(app: &TestApp, email: &str, password: &str) -> String {
    let response = app.password_grant(email, password).await;
    if response.status() == StatusCode::OK {
        return "ok".into();
    }
    let body = expect_json(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    body["code"].as_str().unwrap_or("invalid_grant").to_string()
}

#[tokio::test]
async fn platform_admins_list_every_user_newest_first() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    app.add_new_user(&cid, "first@acme.test", "full_access")
        .await;
    app.add_new_user(&cid, "second@acme.test", "full_access")
        .await;
    let page = app.admin_get("/v1/users").await;
    assert_eq!(
        item_strings(&page, "email"),
        ["second@acme.test", "first@acme.test", ADMIN_EMAIL]
    );
    assert!(page["next_cursor"].is_null(), "{page}");
    for field in USER_FIELDS {
        assert!(page["items"][0].get(field).is_some(), "{field} missing");
    }
}

#[tokio::test]
async fn platform_user_lists_filter_by_customer_status_role_and_prefix() {
    let app = spawn_app().await;
    let a = id_of(&app.create_customer("Alpha", None).await);
    let b = id_of(&app.create_customer("Bravo", None).await);
    app.invite_and_activate(&a, "ann@acme.test", "admin").await;
    app.add_new_user(&a, "bea@acme.test", "full_access").await;
    app.add_new_user(&b, "cal@bravo.test", "admin").await;
    let emails = |query: &'static str| {
        let app = &app;
        async move { item_strings(&app.admin_get(&format!("/v1/users?{query}")).await, "email") }
    };
    let in_a = item_strings(
        &app.admin_get(&format!("/v1/users?customer_id={a}")).await,
        "email",
    );
    assert_eq!(in_a, ["bea@acme.test", "ann@acme.test"]);
    let admins_of_b = item_strings(
        &app.admin_get(&format!("/v1/users?customer_id={b}&role=admin"))
            .await,
        "email",
    );
    assert_eq!(admins_of_b, ["cal@bravo.test"]);
    assert_eq!(
        emails("role=admin").await,
        ["cal@bravo.test", "ann@acme.test"]
    );
    assert_eq!(emails("status=active&q=an").await, ["ann@acme.test"]);
    assert_eq!(
        emails("status=invited").await,
        ["cal@bravo.test", "bea@acme.test"]
    );
    assert_eq!(emails("q=CAL").await, ["cal@bravo.test"]);
    assert_eq!(emails("q=lee").await.len(), 3, "last name prefix");
}

#[tokio::test]
async fn platform_user_lists_page_with_a_cursor_without_repeats() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    for n in 1..=4 {
        app.add_new_user(&cid, &format!("u{n}@acme.test"), "full_access")
            .await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/users?limit=2".to_string();
    loop {
        let page = app.admin_get(&path).await;
        seen.extend(item_strings(&page, "email"));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(seen.len() <= 5, "the cursor never ends: {seen:?}");
    }
    assert_eq!(
        seen,
        [
            "u4@acme.test",
            "u3@acme.test",
            "u2@acme.test",
            "u1@acme.test",
            ADMIN_EMAIL
        ]
    );
}

#[tokio::test]
async fn user_info_has_every_field_the_memberships_and_an_etag() {
    let app = spawn_app().await;
    let a = id_of(&app.create_customer("Alpha", None).await);
    let b = id_of(&app.create_customer("Bravo", None).await);
    let uid = app.add_new_user(&a, "pat@acme.test", "standard_user").await;
    let body = json!({"email": "pat@acme.test", "role": "admin", "settings": {"menu": "energy"}});
    expect_json(
        app.add_user(&b, &body, app.admin_token()).await,
        StatusCode::CREATED,
    )
    .await;
    let response = app
        .get(&format!("/v1/users/{uid}"), Some(app.admin_token()))
        .await;
    assert!(!header(&response, "etag").is_empty(), "no ETag");
    let info = expect_json(response, StatusCode::OK).await;
    for field in USER_FIELDS.iter().chain(&["memberships"]) {
        assert!(info.get(*field).is_some(), "{field} missing from {info}");
    }
    let mut memberships = info["memberships"].as_array().unwrap().clone();
    memberships.sort_by_key(|m| m["customer_name"].as_str().unwrap().to_string());
    assert_eq!(memberships.len(), 2);
    assert_eq!(memberships[0]["customer_id"], a.as_str());
    assert_eq!(memberships[0]["customer_name"], "Alpha");
    assert_eq!(memberships[0]["role"], "standard_user");
    assert!(memberships[0]["settings"].is_object());
    assert!(is_timestamp(&memberships[0]["added_at"]));
    assert_eq!(memberships[1]["customer_id"], b.as_str());
    assert_eq!(memberships[1]["role"], "admin");
    assert_eq!(memberships[1]["settings"], json!({"menu": "energy"}));
}

#[tokio::test]
async fn a_user_reads_their_own_user_info() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "standard_user")
        .await;
    let info = expect_json(
        app.get(&format!("/v1/users/{uid}"), Some(&token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(info["email"], "pat@acme.test");
    assert_eq!(info["status"], "active");
    assert!(is_timestamp(&info["activated_at"]));
}

#[tokio::test]
async fn an_admin_of_one_customer_reads_but_cannot_change_a_user_who_also_belongs_elsewhere() {
    let app = spawn_app().await;
    let a = id_of(&app.create_customer("Alpha", None).await);
    let b = id_of(&app.create_customer("Bravo", None).await);
    let (_, admin_a) = app
        .invite_and_activate(&a, "admin-a@acme.test", "admin")
        .await;
    let (uid, _) = app
        .invite_and_activate(&a, "pat@acme.test", "full_access")
        .await;
    expect_json(
        app.add_user(&b, &json!({"email": "pat@acme.test"}), app.admin_token())
            .await,
        StatusCode::CREATED,
    )
    .await;
    let user = format!("/v1/users/{uid}");
    expect_json(app.get(&user, Some(&admin_a)).await, StatusCode::OK).await;
    let attempts = [
        app.patch_json(&user, Some(&admin_a), &json!({"job_title": "CFO"}))
            .await,
        app.put_status(&uid, &json!({"status": "inactive"}), &admin_a)
            .await,
        app.delete(&format!("{user}/lock"), Some(&admin_a)).await,
        app.post_empty(&format!("{user}/password-reset-email"), Some(&admin_a))
            .await,
    ];
    for response in attempts {
        expect_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let info = app.admin_get(&user).await;
    assert_eq!(
        (info["status"].as_str(), info["job_title"].as_str()),
        (Some("active"), None)
    );

    // Once A holds every membership, A's admin may edit the user.
    let removed = app
        .delete(
            &format!("/v1/customers/{b}/users/{uid}"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let edited = app
        .patch_json(&user, Some(&admin_a), &json!({"job_title": "CFO"}))
        .await;
    assert_eq!(
        expect_json(edited, StatusCode::OK).await["job_title"],
        "CFO"
    );
}

#[tokio::test]
async fn editing_a_user_returns_user_info_with_a_new_etag() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let path = format!("/v1/users/{uid}");
    let before = header(&app.get(&path, Some(app.admin_token())).await, "etag");
    let body = json!({"first_name": "Patricia", "last_name": "Leigh", "job_title": "Controller", "email": "patricia@acme.test"});
    let response = app.patch_json(&path, Some(app.admin_token()), &body).await;
    let after = header(&response, "etag");
    let info = expect_json(response, StatusCode::OK).await;
    assert!(!after.is_empty() && after != before, "{before} → {after}");
    for field in ["first_name", "last_name", "job_title", "email"] {
        assert_eq!(info[field], body[field], "{field}");
    }
    assert!(info["memberships"].is_array(), "User Info: {info}");
    let read = app.get(&path, Some(app.admin_token())).await;
    assert_eq!(header(&read, "etag"), after);
    assert_eq!(expect_json(read, StatusCode::OK).await, info);
}

#[tokio::test]
async fn a_stale_if_match_on_a_user_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let path = format!("/v1/users/{uid}");
    let etag = header(&app.get(&path, Some(app.admin_token())).await, "etag");
    let patch = |tag: &str, title: &str| {
        app.request(Method::PATCH, &path, Some(app.admin_token()))
            .header("If-Match", tag.to_string())
            .json(&json!({"job_title": title}))
            .send()
    };
    let fresh = patch(&etag, "CFO").await.unwrap();
    expect_json(fresh, StatusCode::OK).await;
    let stale = patch(&etag, "CEO").await.unwrap();
    expect_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    assert_eq!(app.admin_get(&path).await["job_title"], "CFO");
}

#[tokio::test]
async fn an_email_taken_by_another_user_in_any_case_is_409_email_taken() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    app.add_new_user(&cid, "other@acme.test", "full_access")
        .await;
    expect_problem(
        app.patch_json(
            &format!("/v1/users/{uid}"),
            Some(app.admin_token()),
            &json!({"email": "Other@ACME.test"}),
        )
        .await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    assert_eq!(
        app.admin_get(&format!("/v1/users/{uid}")).await["email"],
        "pat@acme.test"
    );
}

#[tokio::test]
async fn read_only_user_fields_are_422() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let path = format!("/v1/users/{uid}");
    let before = app.admin_get(&path).await;
    for (field, value) in [
        ("status", json!("active")),
        ("platform_role", json!("admin")),
        ("id", json!(uuid::Uuid::new_v4().to_string())),
        ("password_hash", json!("$argon2id$v=19$m=19456,t=2,p=1$x$y")),
        ("locked", json!(false)),
    ] {
        expect_problem(
            app.patch_json(&path, Some(app.admin_token()), &json!({ field: value }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    assert_eq!(app.admin_get(&path).await, before);
}

#[tokio::test]
async fn an_edit_with_a_confirmation_email_sends_a_confirmation() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let body = json!({"job_title": "Controller", "requester_name": "Sam Admin", "confirmation_email": "sam@ubm.example"});
    let response = app
        .patch_json(&format!("/v1/users/{uid}"), Some(app.admin_token()), &body)
        .await;
    expect_json(response, StatusCode::OK).await;
    let confirmation = app
        .last_email("action_confirmation", "sam@ubm.example")
        .await;
    assert!(
        confirmation.text_body.contains("Sam Admin"),
        "{}",
        confirmation.text_body
    );
}

#[tokio::test]
async fn deleting_a_user_removes_them_and_ends_their_sessions_but_keeps_their_audit_id() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let deleted = app
        .delete(
            &format!("/v1/users/{uid}?requester_name=Sam&confirmation_email=sam@ubm.example"),
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
    expect_problem(
        app.get("/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        sign_in_outcome(&app, "pat@acme.test", GOOD_PASSWORD).await,
        "invalid_grant"
    );
    let list = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert!(items(&list).is_empty(), "{list}");
    assert_eq!(list["named_users"], 0);
    let events = app.audit_events(&format!("user_id={uid}")).await;
    let deletion = events
        .iter()
        .find(|e| e["action"] == "user.deleted")
        .expect("a user.deleted event");
    assert_eq!(deletion["target_user_id"], uid.as_str());
    app.last_email("action_confirmation", "sam@ubm.example")
        .await;
}

#[tokio::test]
async fn an_unknown_user_is_404_everywhere() {
    let app = spawn_app().await;
    let uid = uuid::Uuid::new_v4();
    let user = format!("/v1/users/{uid}");
    let token = Some(app.admin_token());
    let responses = [
        app.get(&user, token).await,
        app.patch_json(&user, token, &json!({"job_title": "CFO"}))
            .await,
        app.put_status(
            &uid.to_string(),
            &json!({"status": "inactive"}),
            app.admin_token(),
        )
        .await,
        app.delete(&format!("{user}/lock"), token).await,
        app.post_empty(&format!("{user}/activation-email"), token)
            .await,
        app.post_empty(&format!("{user}/password-reset-email"), token)
            .await,
        app.delete(&user, token).await,
    ];
    for response in responses {
        expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn inactivating_emails_the_user_and_ends_their_session_at_once() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let info = set_status(&app, &uid, json!({"status": "inactive"})).await;
    assert_eq!(info["status"], "inactive");
    assert!(info["memberships"].is_array(), "User Info: {info}");
    let notice = app.last_email("account_deactivated", "pat@acme.test").await;
    assert!(notice.text_body.contains("CSM"), "{}", notice.text_body);
    expect_problem(
        app.get("/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        sign_in_outcome(&app, "pat@acme.test", GOOD_PASSWORD).await,
        "account_inactive"
    );
}

#[tokio::test]
async fn setting_the_same_status_again_is_idempotent_and_sends_nothing_twice() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let first = set_status(&app, &uid, json!({"status": "inactive"})).await;
    let emails = app.outbox().await.len();
    let second = set_status(&app, &uid, json!({"status": "inactive"})).await;
    assert_eq!(second["status"], "inactive");
    assert_eq!(second["updated_at"], first["updated_at"], "nothing changed");
    assert_eq!(app.outbox().await.len(), emails, "no second email");
    assert_eq!(
        app.count_emails("account_deactivated", "pat@acme.test")
            .await,
        1
    );
}

#[tokio::test]
async fn invited_expired_and_unknown_statuses_are_422_naming_status() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    for target in [
        json!("invited"),
        json!("expired"),
        json!("asleep"),
        json!(null),
        json!(1),
    ] {
        let problem = expect_problem(
            app.put_status(&uid, &json!({"status": target}), app.admin_token())
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["status"], "{target}");
    }
    assert_eq!(status_of(&app, &uid).await, "active");
}

#[tokio::test]
async fn reactivating_an_inactive_user_sends_no_email_and_lets_them_sign_in() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    set_status(&app, &uid, json!({"status": "inactive"})).await;
    let emails = app.outbox().await.len();
    let back = set_status(&app, &uid, json!({"status": "active"})).await;
    assert_eq!(back["status"], "active");
    assert_eq!(app.outbox().await.len(), emails, "no email to the user");
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn reactivating_a_user_who_never_set_a_password_invites_them_again() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let uid = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let old = app.token_from_email("activation", "new@acme.test").await;
    set_status(&app, &uid, json!({"status": "inactive"})).await;
    let back = set_status(&app, &uid, json!({"status": "active"})).await;
    assert_eq!(back["status"], "invited");
    assert_eq!(app.count_emails("activation", "new@acme.test").await, 2);
    let fresh = app.token_from_email("activation", "new@acme.test").await;
    assert_ne!(old, fresh);
    let activated = app
        .post_json(
            "/v1/auth/activate",
            None,
            &json!({"token": fresh, "password": GOOD_PASSWORD}),
        )
        .await;
    expect_json(activated, StatusCode::OK).await;
    assert_eq!(status_of(&app, &uid).await, "active");
}

#[tokio::test]
async fn retiring_sets_retired_at_frees_the_seat_and_ends_the_session() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", Some(1)).await);
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let retired = set_status(&app, &uid, json!({"status": "retired"})).await;
    assert_eq!(retired["status"], "retired");
    assert!(is_timestamp(&retired["retired_at"]), "{retired}");
    assert_eq!(
        retired["memberships"].as_array().unwrap().len(),
        1,
        "record kept"
    );
    assert_eq!(
        app.admin_get(&format!("/v1/customers/{cid}")).await["named_users"],
        0
    );
    expect_problem(
        app.get("/v1/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        sign_in_outcome(&app, "pat@acme.test", GOOD_PASSWORD).await,
        "account_retired"
    );
    app.add_new_user(&cid, "next@acme.test", "full_access")
        .await;
}

#[tokio::test]
async fn unlocking_a_locked_user_lets_them_sign_in_and_is_idempotent() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    lock_out(&app, "pat@acme.test").await;
    let locked = app.admin_get(&format!("/v1/users/{uid}")).await;
    assert_eq!(locked["locked"], true);
    assert!(is_timestamp(&locked["locked_at"]));
    assert_eq!(
        sign_in_outcome(&app, "pat@acme.test", GOOD_PASSWORD).await,
        "invalid_grant"
    );
    for _ in 0..2 {
        let unlocked = app
            .delete(&format!("/v1/users/{uid}/lock"), Some(app.admin_token()))
            .await;
        assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    }
    let info = app.admin_get(&format!("/v1/users/{uid}")).await;
    assert_eq!(info["locked"], false);
    assert!(info["locked_at"].is_null());
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn resending_the_activation_email_voids_the_old_link() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let uid = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let old = app.token_from_email("activation", "new@acme.test").await;
    let resent = app
        .post_empty(
            &format!("/v1/users/{uid}/activation-email"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let fresh = app.token_from_email("activation", "new@acme.test").await;
    assert_ne!(old, fresh);
    expect_problem(
        app.get(&format!("/v1/auth/action-tokens/{old}"), None)
            .await,
        StatusCode::GONE,
        "gone",
    )
    .await;
    let peek = expect_json(
        app.get(&format!("/v1/auth/action-tokens/{fresh}"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(peek["purpose"], "activation");
    assert_eq!(status_of(&app, &uid).await, "invited");
}

#[tokio::test]
async fn an_activation_email_for_a_user_who_is_not_invited_is_409_not_invited() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    expect_problem(
        app.post_empty(
            &format!("/v1/users/{uid}/activation-email"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::CONFLICT,
        "not_invited",
    )
    .await;
    assert_eq!(app.count_emails("activation", "pat@acme.test").await, 1);
}

#[tokio::test]
async fn a_password_reset_email_goes_only_to_an_active_user() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Alpha", None).await);
    let (active, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let invited = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    expect_problem(
        app.post_empty(
            &format!("/v1/users/{invited}/password-reset-email"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::CONFLICT,
        "not_active",
    )
    .await;
    assert_eq!(app.count_emails("password_reset", "new@acme.test").await, 0);
    let sent = app
        .post_empty(
            &format!("/v1/users/{active}/password-reset-email"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let email = app.last_email("password_reset", "pat@acme.test").await;
    assert!(
        email
            .text_body
            .contains("https://app.roster.test/reset-password?token="),
        "{}",
        email.text_body
    );
}

/// The UBM "Non-SSO User Management" job aid, every admin step in order.
#[tokio::test]
async fn the_ubm_job_aid_admin_steps_work_in_order_over_http() {
    let app = spawn_app().await;
    let demo = id_of(&app.create_customer("UBM Demo", None).await);
    let other = id_of(&app.create_customer("UBM Other", None).await);
    app.add_new_user(&demo, "existing@email.com", "full_access")
        .await;

    // Add a new user: the form's fields, Full Access by default, chat options.
    let form = json!({"email": "user@email.com", "first_name": "Jane", "last_name": "Doe",
        "job_title": "Energy Manager", "settings": {"chat_tag": true, "user_group_tags": ["east"]}});
    let added = expect_json(
        app.add_user(&demo, &form, app.admin_token()).await,
        StatusCode::CREATED,
    )
    .await;
    let uid = id_of(&added);
    assert_eq!(added["role"], "full_access");
    assert_eq!(added["status"], "invited");
    let users = app.admin_get(&format!("/v1/customers/{demo}/users")).await;
    assert_eq!(
        users["items"][0]["id"],
        uid.as_str(),
        "the new user is at the top"
    );
    let invitation = app.last_email("activation", "user@email.com").await;
    assert_eq!(
        invitation.subject,
        "Your Utility Bill Management account has been set up"
    );
    assert!(
        invitation.text_body.contains("Get Started"),
        "{}",
        invitation.text_body
    );
    expect_json(
        app.add_user(
            &other,
            &json!({"email": "user@email.com"}),
            app.admin_token(),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // Resend the activation email from User Info: the old link stops working.
    let first_link = app.token_from_email("activation", "user@email.com").await;
    let resent = app
        .post_empty(
            &format!("/v1/users/{uid}/activation-email"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let link = app.token_from_email("activation", "user@email.com").await;
    assert_ne!(link, first_link);
    let activated = app
        .post_json(
            "/v1/auth/activate",
            None,
            &json!({"token": link, "password": GOOD_PASSWORD}),
        )
        .await;
    expect_json(activated, StatusCode::OK).await;

    // The admin sends a reset password email; the user sets a new password.
    let sent = app
        .post_empty(
            &format!("/v1/users/{uid}/password-reset-email"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let reset = app
        .token_from_email("password_reset", "user@email.com")
        .await;
    let done = app
        .post_json(
            "/v1/auth/reset-password",
            None,
            &json!({"token": reset, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    let session = app
        .sign_in("user@email.com", NEW_PASSWORD)
        .await
        .access_token();

    // Inactivate: a deactivation notice, and no more signing in.
    let inactive = set_status(&app, &uid, json!({"status": "inactive"})).await;
    assert_eq!(inactive["status"], "inactive");
    let notice = app
        .last_email("account_deactivated", "user@email.com")
        .await;
    assert!(
        notice.text_body.contains("contact your CSM"),
        "{}",
        notice.text_body
    );
    expect_problem(
        app.get("/v1/me", Some(&session)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        sign_in_outcome(&app, "user@email.com", NEW_PASSWORD).await,
        "account_inactive"
    );

    // Reactivate: active again, no email sent.
    let emails = app.outbox().await.len();
    let active = set_status(&app, &uid, json!({"status": "active"})).await;
    assert_eq!(active["status"], "active");
    assert_eq!(app.outbox().await.len(), emails);
    let session = app
        .sign_in("user@email.com", NEW_PASSWORD)
        .await
        .access_token();

    // Remove from UBM Demo only, notifying the user: UBM Other stays.
    let removed = app
        .delete(
            &format!("/v1/customers/{demo}/users/{uid}?notify=true"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    app.last_email("membership_removed", "user@email.com").await;
    let mine = expect_json(
        app.get("/v1/customers", Some(&session)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(item_strings(&mine, "id"), [other.as_str()]);
    let demo_users = app.admin_get(&format!("/v1/customers/{demo}/users")).await;
    assert!(!item_strings(&demo_users, "id").contains(&uid));

    // Delete from the platform: gone from every customer, no access.
    let deleted = app
        .delete(&format!("/v1/users/{uid}"), Some(app.admin_token()))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let other_users = app.admin_get(&format!("/v1/customers/{other}/users")).await;
    assert!(items(&other_users).is_empty(), "{other_users}");
    expect_problem(
        app.get("/v1/me", Some(&session)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        sign_in_outcome(&app, "user@email.com", NEW_PASSWORD).await,
        "invalid_grant"
    );
}

/// The Cloud Portal job aid, every admin step in order.
#[tokio::test]
async fn the_cloud_portal_job_aid_admin_steps_work_in_order_over_http() {
    let app = spawn_app().await;
    let cid = id_of(&app.create_customer("Momentus Demo", Some(3)).await);
    let model = json!({"email": "model@acme.test", "first_name": "Mo", "last_name": "Del",
        "role": "standard_user", "settings": {"organization": "HQ", "menu": "Events"}});
    let model = id_of(
        &expect_json(
            app.add_user(&cid, &model, app.admin_token()).await,
            StatusCode::CREATED,
        )
        .await,
    );
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;

    // Your Users: licensed and named users, ID, name, status, Retired On.
    let users = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert_eq!(
        (
            users["licensed_seats"].as_i64(),
            users["named_users"].as_i64()
        ),
        (Some(3), Some(2))
    );
    for user in items(&users) {
        for field in ["id", "first_name", "last_name", "status", "retired_at"] {
            assert!(user.get(field).is_some(), "{field} missing from {user}");
        }
    }

    // Edit User, with a requester name and a confirmation email.
    let edit = json!({"first_name": "Patricia", "job_title": "Event Manager",
        "requester_name": "Rita Requester", "confirmation_email": "support@acme.test"});
    let edited = expect_json(
        app.patch_json(&format!("/v1/users/{uid}"), Some(app.admin_token()), &edit)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["first_name"], "Patricia");
    assert_eq!(edited["job_title"], "Event Manager");
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        1
    );
    let audited = app
        .audit_events(&format!("user_id={uid}&action=user.updated"))
        .await;
    assert_eq!(audited[0]["requester_name"], "Rita Requester");

    // Reset User Password: a link valid for 48 hours.
    let sent = app
        .post_empty(
            &format!("/v1/users/{uid}/password-reset-email"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let reset = app.last_email("password_reset", "pat@acme.test").await;
    assert!(
        reset.text_body.contains("/reset-password?token="),
        "{}",
        reset.text_body
    );
    assert!(reset.text_body.contains("48 hours"), "{}", reset.text_body);

    // Unlock a User Account, with a confirmation email.
    lock_out(&app, "pat@acme.test").await;
    assert_eq!(
        app.admin_get(&format!("/v1/users/{uid}")).await["locked"],
        true
    );
    let unlocked = app
        .delete(
            &format!("/v1/users/{uid}/lock?confirmation_email=support@acme.test"),
            Some(app.admin_token()),
        )
        .await;
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        2
    );
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;

    // Add User by copying the model user's defaults.
    let mut copy = json!({"email": "new@acme.test", "first_name": "Nina", "last_name": "New",
        "requester_name": "Rita Requester", "confirmation_email": "support@acme.test"});
    copy["copy_from_user_id"] = json!(model);
    let added = expect_json(
        app.add_user(&cid, &copy, app.admin_token()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["role"], "standard_user");
    assert_eq!(
        added["settings"],
        json!({"organization": "HQ", "menu": "Events"})
    );
    app.last_email("activation", "new@acme.test").await;
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        3
    );
    expect_problem(
        app.add_user(&cid, &new_person("fourth@acme.test"), app.admin_token())
            .await,
        StatusCode::CONFLICT,
        "seat_limit_reached",
    )
    .await;

    // Drop User: retired, record kept, Retired On shown, seat freed.
    let drop = json!({"status": "retired", "requester_name": "Rita Requester", "confirmation_email": "support@acme.test"});
    let dropped = set_status(&app, &uid, drop).await;
    assert_eq!(dropped["status"], "retired");
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        4
    );
    let users = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert_eq!(users["named_users"], 2);
    let row = items(&users)
        .iter()
        .find(|u| u["id"] == uid.as_str())
        .expect("the dropped user is still listed");
    assert_eq!(row["status"], "retired");
    assert!(is_timestamp(&row["retired_at"]), "Retired On: {row}");
    assert_eq!(row["retired_at"], dropped["retired_at"]);
    let audited = app
        .audit_events(&format!("user_id={uid}&action=user.status_changed"))
        .await;
    assert_eq!(audited[0]["requester_name"], "Rita Requester");
    assert_eq!(audited[0]["confirmation_email"], "support@acme.test");

    // Reactivate the dropped user (a database user).
    let reactivate = json!({"status": "active", "confirmation_email": "support@acme.test"});
    let back = set_status(&app, &uid, reactivate).await;
    assert_eq!(back["status"], "active");
    assert!(back["retired_at"].is_null());
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        5
    );
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;

    // Reactivate a user whose logon expired after 90 days without signing in.
    app.clock.advance(Duration::from_secs(91 * 86_400));
    let admin = app
        .sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .access_token();
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    let expired = expect_json(
        app.get(&format!("/v1/users/{uid}"), Some(&admin)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(expired["status"], "expired");
    let back = expect_json(
        app.put_status(&uid, &json!({"status": "active"}), &admin)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["status"], "active");
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}
