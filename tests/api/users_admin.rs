//! Users across the platform (docs/api.md, "Endpoints"): the list, User
//! Info, edits and deletion, and the user-admin rule for a user who belongs
//! to more than one customer (docs/api.md, "Authorization"). Status changes,
//! unlocking and link emails are in `lifecycle.rs`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    expect_json, expect_problem, header, id_of, is_timestamp, item_strings, items, spawn_app,
    ADMIN_EMAIL, GOOD_PASSWORD, USER_FIELDS,
};

#[tokio::test]
async fn platform_admins_list_every_user_newest_first() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
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
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
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
    let cid = app.customer("Alpha", None).await;
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
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let uid = app.add_new_user(&a, "pat@acme.test", "standard_user").await;
    let body = json!({"email": "pat@acme.test", "role": "admin", "settings": {"menu": "energy"}});
    let added = app.add_customer_user(app.admin_token(), &b, &body).await;
    expect_json(added, StatusCode::CREATED).await;
    let response = app.get_user(app.admin_token(), &uid).await;
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
    let cid = app.customer("Alpha", None).await;
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "standard_user")
        .await;
    let info = expect_json(app.get_user(&token, &uid).await, StatusCode::OK).await;
    assert_eq!(info["email"], "pat@acme.test");
    assert_eq!(info["status"], "active");
    assert!(is_timestamp(&info["activated_at"]));
}

#[tokio::test]
async fn an_admin_of_one_customer_reads_but_cannot_change_a_user_who_also_belongs_elsewhere() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let (_, admin_a) = app
        .invite_and_activate(&a, "admin-a@acme.test", "admin")
        .await;
    let (uid, _) = app
        .invite_and_activate(&a, "pat@acme.test", "full_access")
        .await;
    app.add_existing_user(&b, "pat@acme.test").await;
    expect_json(app.get_user(&admin_a, &uid).await, StatusCode::OK).await;
    let cfo = json!({"job_title": "CFO"});
    let attempts = [
        app.update_user(&admin_a, &uid, &cfo).await,
        app.set_status(&admin_a, &uid, &json!({"status": "inactive"}))
            .await,
        app.unlock(&admin_a, &uid, "").await,
        app.send_password_reset_email(&admin_a, &uid).await,
    ];
    for response in attempts {
        expect_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let info = app.user_info(&uid).await;
    assert_eq!(
        (info["status"].as_str(), info["job_title"].as_str()),
        (Some("active"), None)
    );

    // Once A holds every membership, A's admin may edit the user.
    let removed = app
        .remove_customer_user(app.admin_token(), &b, &uid, "")
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let edited = app.update_user(&admin_a, &uid, &cfo).await;
    assert_eq!(
        expect_json(edited, StatusCode::OK).await["job_title"],
        "CFO"
    );
}

#[tokio::test]
async fn a_customer_admin_may_change_a_platform_admins_membership_but_not_the_platform_admin() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (_, boss) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let platform = id_of(&app.add_existing_user(&cid, ADMIN_EMAIL).await);
    expect_json(app.get_user(&boss, &platform).await, StatusCode::OK).await;
    expect_problem(
        app.update_user(&boss, &platform, &json!({"job_title": "CFO"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let demoted = app
        .update_customer_user(&boss, &cid, &platform, &json!({"role": "standard_user"}))
        .await;
    assert_eq!(
        expect_json(demoted, StatusCode::OK).await["role"],
        "standard_user"
    );
    let info = app.user_info(&platform).await;
    assert_eq!(
        (info["platform_role"].as_str(), info["job_title"].as_str()),
        (Some("admin"), None)
    );
}

#[tokio::test]
async fn editing_a_user_returns_user_info_with_a_new_etag() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let before = header(&app.get_user(app.admin_token(), &uid).await, "etag");
    let body = json!({"first_name": "Patricia", "last_name": "Leigh", "job_title": "Controller", "email": "patricia@acme.test"});
    let response = app.update_user(app.admin_token(), &uid, &body).await;
    let after = header(&response, "etag");
    let info = expect_json(response, StatusCode::OK).await;
    assert!(!after.is_empty() && after != before, "{before} → {after}");
    for field in ["first_name", "last_name", "job_title", "email"] {
        assert_eq!(info[field], body[field], "{field}");
    }
    assert!(info["memberships"].is_array(), "User Info: {info}");
    let read = app.get_user(app.admin_token(), &uid).await;
    assert_eq!(header(&read, "etag"), after);
    assert_eq!(expect_json(read, StatusCode::OK).await, info);
}

#[tokio::test]
async fn a_stale_if_match_on_a_user_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let etag = header(&app.get_user(app.admin_token(), &uid).await, "etag");
    let cfo = json!({"job_title": "CFO"});
    let fresh = app
        .update_user_if_match(app.admin_token(), &uid, &etag, &cfo)
        .await;
    expect_json(fresh, StatusCode::OK).await;
    let ceo = json!({"job_title": "CEO"});
    let stale = app
        .update_user_if_match(app.admin_token(), &uid, &etag, &ceo)
        .await;
    expect_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    assert_eq!(app.user_info(&uid).await["job_title"], "CFO");
}

#[tokio::test]
async fn an_email_taken_by_another_user_in_any_case_is_409_email_taken() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    app.add_new_user(&cid, "other@acme.test", "full_access")
        .await;
    expect_problem(
        app.update_user(
            app.admin_token(),
            &uid,
            &json!({"email": "Other@ACME.test"}),
        )
        .await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    assert_eq!(app.user_info(&uid).await["email"], "pat@acme.test");
}

#[tokio::test]
async fn read_only_user_fields_are_422() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let before = app.user_info(&uid).await;
    for (field, value) in [
        ("status", json!("active")),
        ("platform_role", json!("admin")),
        ("id", json!(uuid::Uuid::new_v4().to_string())),
        ("password_hash", json!("$argon2id$v=19$m=19456,t=2,p=1$x$y")),
        ("locked", json!(false)),
    ] {
        expect_problem(
            app.update_user(app.admin_token(), &uid, &json!({ field: value }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    assert_eq!(app.user_info(&uid).await, before);
}

#[tokio::test]
async fn an_edit_with_a_confirmation_email_sends_a_confirmation() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let body = json!({"job_title": "Controller", "requester_name": "Sam Admin", "confirmation_email": "sam@ubm.example"});
    let response = app.update_user(app.admin_token(), &uid, &body).await;
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
    let cid = app.customer("Alpha", None).await;
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let deleted = app
        .delete_user(
            app.admin_token(),
            &uid,
            "requester_name=Sam&confirmation_email=sam@ubm.example",
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get_user(app.admin_token(), &uid).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.me(&token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
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
async fn deleting_a_user_leaves_no_personal_data_in_the_audit_log_or_the_outbox() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let uid = app.add_new_user(&a, "pat@acme.test", "full_access").await;
    app.add_existing_user(&b, "pat@acme.test").await;
    let removed = app
        .remove_customer_user(
            app.admin_token(),
            &a,
            &uid,
            "notify=true&requester_name=Sam",
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert!(
        app.count_emails("membership_removed", "pat@acme.test")
            .await
            > 0,
        "an email to the user is queued before the deletion"
    );
    let deleted = app
        .delete_user(
            app.admin_token(),
            &uid,
            "confirmation_email=sam@ubm.example",
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let events = app.audit_events(&format!("user_id={uid}")).await;
    assert!(events.iter().any(|e| e["action"] == "user.deleted"));
    let text = serde_json::to_string(&events).unwrap();
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
}

#[tokio::test]
async fn nobody_may_delete_themselves() {
    let app = spawn_app().await;
    let myself = app.my_id(app.admin_token()).await;
    expect_problem(
        app.delete_user(app.admin_token(), &myself, "").await,
        StatusCode::CONFLICT,
        "cannot_change_self",
    )
    .await;
    assert_eq!(app.user_info(&myself).await["status"], "active");
}

#[tokio::test]
async fn an_unknown_user_is_404_everywhere() {
    let app = spawn_app().await;
    let uid = uuid::Uuid::new_v4().to_string();
    let admin = app.admin_token();
    let responses = [
        app.get_user(admin, &uid).await,
        app.update_user(admin, &uid, &json!({"job_title": "CFO"}))
            .await,
        app.set_status(admin, &uid, &json!({"status": "inactive"}))
            .await,
        app.unlock(admin, &uid, "").await,
        app.send_activation_email(admin, &uid).await,
        app.send_password_reset_email(admin, &uid).await,
        app.delete_user(admin, &uid, "").await,
    ];
    for response in responses {
        expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}
