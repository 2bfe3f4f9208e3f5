//! A customer's users (docs/api.md, "Endpoints"): adding new or existing
//! people (and copying a user), listing, changing a membership, removing
//! it, and the seat limit.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    error_fields, expect_json, expect_problem, header, id_of, is_timestamp, item_strings, items,
    new_person, spawn_app, USER_FIELDS,
};

#[tokio::test]
async fn adding_a_new_user_invites_them_with_an_activation_email() {
    let app = spawn_app().await;
    let cid = app.customer("UBM Demo", None).await;
    let body = json!({"email": "user@email.com", "first_name": "Jane", "last_name": "Doe", "job_title": "Energy Manager"});
    let response = app.add_customer_user(app.admin_token(), &cid, &body).await;
    let location = header(&response, "location");
    let user = expect_json(response, StatusCode::CREATED).await;
    let uid = id_of(&user);
    assert_eq!(location, format!("/v1/users/{uid}"));
    for field in USER_FIELDS.iter().chain(&["role", "settings", "added_at"]) {
        assert!(user.get(*field).is_some(), "{field} missing from {user}");
    }
    assert_eq!(user["email"], "user@email.com");
    assert_eq!(user["first_name"], "Jane");
    assert_eq!(user["last_name"], "Doe");
    assert_eq!(user["job_title"], "Energy Manager");
    assert_eq!(user["status"], "invited");
    assert_eq!(user["locked"], false);
    assert_eq!(user["platform_role"], "none");
    assert_eq!(user["role"], "full_access", "the default role");
    assert!(user["settings"].is_object(), "{user}");
    assert!(is_timestamp(&user["invited_at"]) && is_timestamp(&user["added_at"]));
    assert!(user["activated_at"].is_null() && user["retired_at"].is_null());

    let email = app.last_email("activation", "user@email.com").await;
    assert!(
        email
            .text_body
            .contains("https://app.roster.test/activate?token="),
        "{}",
        email.text_body
    );
    let token = app.token_from_email("activation", "user@email.com").await;
    let peek = expect_json(app.action_token(&token).await, StatusCode::OK).await;
    assert_eq!(
        (peek["purpose"].as_str(), peek["email"].as_str()),
        (Some("activation"), Some("user@email.com"))
    );
}

#[tokio::test]
async fn an_existing_email_in_any_case_only_adds_a_membership_and_tells_the_user() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let (uid, _) = app
        .invite_and_activate(&a, "pat@acme.test", "full_access")
        .await;
    let response = app
        .add_customer_user(
            app.admin_token(),
            &b,
            &json!({"email": "PAT@Acme.Test", "role": "standard_user"}),
        )
        .await;
    let added = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(added["id"], uid.as_str());
    assert_eq!(added["email"], "pat@acme.test");
    assert_eq!(added["status"], "active", "the user is untouched");
    assert_eq!(added["role"], "standard_user");
    assert_eq!(
        app.count_emails("membership_added", "pat@acme.test").await,
        1
    );
    assert_eq!(
        app.count_emails("activation", "pat@acme.test").await,
        1,
        "no second activation email"
    );
    assert_eq!(app.customer_ids_of(&uid).await.len(), 2);
}

#[tokio::test]
async fn adding_a_member_twice_is_409_already_member() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let problem = expect_problem(
        app.add_customer_user(app.admin_token(), &cid, &new_person("Pat@acme.test"))
            .await,
        StatusCode::CONFLICT,
        "already_member",
    )
    .await;
    assert_eq!(
        problem["user_id"],
        uid.as_str(),
        "the problem names the member"
    );
    assert_eq!(app.named_users(&cid).await, 1);
}

#[tokio::test]
async fn adding_a_retired_user_is_409_user_retired_with_their_id() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let (uid, _) = app
        .invite_and_activate(&a, "pat@acme.test", "full_access")
        .await;
    app.admin_set_status(&uid, "retired").await;
    let problem = expect_problem(
        app.add_customer_user(app.admin_token(), &b, &json!({"email": "pat@acme.test"}))
            .await,
        StatusCode::CONFLICT,
        "user_retired",
    )
    .await;
    assert_eq!(problem["user_id"], uid.as_str());
    assert_eq!(app.customer_ids_of(&uid).await, [a]);
}

#[tokio::test]
async fn copy_from_user_id_copies_the_role_and_settings() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let settings = json!({"menu": "energy", "chat_tag": true, "user_groups": ["east"]});
    let source = json!({"email": "src@acme.test", "first_name": "Sam", "last_name": "Source", "role": "standard_user", "settings": settings});
    let source = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &source)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let mut copy = new_person("copy@acme.test");
    copy["copy_from_user_id"] = source["id"].clone();
    let copied = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &copy).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(copied["role"], "standard_user");
    assert_eq!(copied["settings"], settings);
    assert_eq!(
        copied["email"], "copy@acme.test",
        "only defaults are copied"
    );
    assert_eq!(copied["first_name"], "Pat");
}

#[tokio::test]
async fn explicit_role_and_settings_win_over_the_copy_source() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let source = json!({"email": "src@acme.test", "first_name": "Sam", "last_name": "Source", "role": "standard_user", "settings": {"menu": "energy"}});
    let source = id_of(
        &expect_json(
            app.add_customer_user(app.admin_token(), &cid, &source)
                .await,
            StatusCode::CREATED,
        )
        .await,
    );
    // An explicit role wins; the settings are still copied.
    let mut body = new_person("x@acme.test");
    body["copy_from_user_id"] = json!(source);
    body["role"] = json!("admin");
    let added = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["role"], "admin");
    assert_eq!(added["settings"], json!({"menu": "energy"}));
    // Explicit settings win too.
    let mut body = new_person("y@acme.test");
    body["copy_from_user_id"] = json!(source);
    body["role"] = json!("admin");
    body["settings"] = json!({"menu": "billing"});
    let added = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["role"], "admin");
    assert_eq!(added["settings"], json!({"menu": "billing"}));
}

#[tokio::test]
async fn a_copy_source_outside_the_customer_is_422_naming_copy_from_user_id() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let outsider = app.add_new_user(&b, "b@acme.test", "admin").await;
    for source in [outsider, uuid::Uuid::new_v4().to_string()] {
        let mut body = new_person("new@acme.test");
        body["copy_from_user_id"] = json!(source);
        let problem = expect_problem(
            app.add_customer_user(app.admin_token(), &a, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["copy_from_user_id"]);
    }
    assert_eq!(app.named_users(&a).await, 0);
    assert_eq!(app.count_emails("activation", "new@acme.test").await, 0);
}

#[tokio::test]
async fn read_only_fields_in_an_added_user_are_422_and_store_nothing() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    for (field, value) in [
        ("status", json!("active")),
        ("platform_role", json!("admin")),
        ("id", json!(uuid::Uuid::new_v4().to_string())),
        ("password_hash", json!("$argon2id$v=19$m=19456,t=2,p=1$x$y")),
    ] {
        let mut body = new_person("sneaky@acme.test");
        body[field] = value;
        expect_problem(
            app.add_customer_user(app.admin_token(), &cid, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let list = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert!(items(&list).is_empty(), "{list}");
    assert_eq!(app.count_emails("activation", "sneaky@acme.test").await, 0);
}

#[tokio::test]
async fn a_bad_email_role_or_settings_is_422_naming_the_field() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let big = "x".repeat(17 * 1024);
    for (key, value, field) in [
        ("email", json!("not an email"), "email"),
        ("role", json!("owner"), "role"),
        ("settings", json!(["menu"]), "settings"),
        ("settings", json!({"blob": big}), "settings"),
    ] {
        let mut body = new_person("ok@acme.test");
        body[key] = value;
        let problem = expect_problem(
            app.add_customer_user(app.admin_token(), &cid, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{problem}");
    }
}

#[tokio::test]
async fn a_new_user_needs_first_and_last_names() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let problem = expect_problem(
        app.add_customer_user(app.admin_token(), &cid, &json!({"email": "x@acme.test"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["first_name", "last_name"]);
    let list = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert!(items(&list).is_empty(), "{list}");
}

#[tokio::test]
async fn adding_with_a_confirmation_email_sends_an_action_confirmation_there() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let mut body = new_person("pat@acme.test");
    body["requester_name"] = json!("Sam Admin");
    body["confirmation_email"] = json!("sam@ubm.example");
    expect_json(
        app.add_customer_user(app.admin_token(), &cid, &body).await,
        StatusCode::CREATED,
    )
    .await;
    let confirmation = app
        .last_email("action_confirmation", "sam@ubm.example")
        .await;
    assert!(
        confirmation
            .text_body
            .contains("Pat Lee (pat@acme.test) was added to Alpha"),
        "{}",
        confirmation.text_body
    );
}

#[tokio::test]
async fn a_malformed_confirmation_email_is_422_naming_it_and_adds_nobody() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let mut body = new_person("q@acme.test");
    body["confirmation_email"] = json!("not an email");
    let problem = expect_problem(
        app.add_customer_user(app.admin_token(), &cid, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["confirmation_email"]);
    assert_eq!(app.named_users(&cid).await, 0);
}

#[tokio::test]
async fn send_invite_false_creates_an_invited_user_without_an_email() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let mut body = new_person("quiet@acme.test");
    body["send_invite"] = json!(false);
    let user = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(user["status"], "invited");
    assert_eq!(app.count_emails("activation", "quiet@acme.test").await, 0);
}

#[tokio::test]
async fn the_newest_added_user_is_listed_first_with_the_seat_counts() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", Some(10)).await;
    for name in ["first", "second", "third"] {
        app.add_new_user(&cid, &format!("{name}@acme.test"), "full_access")
            .await;
    }
    let page = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert_eq!(page["licensed_seats"], 10);
    assert_eq!(page["named_users"], 3);
    assert!(page["next_cursor"].is_null(), "{page}");
    assert_eq!(
        item_strings(&page, "email"),
        ["third@acme.test", "second@acme.test", "first@acme.test"]
    );
    for field in USER_FIELDS.iter().chain(&["role", "settings", "added_at"]) {
        assert!(page["items"][0].get(*field).is_some(), "{field} missing");
    }
}

#[tokio::test]
async fn an_existing_user_added_later_is_listed_first_by_when_they_were_added() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    app.add_new_user(&a, "old@acme.test", "full_access").await;
    app.add_new_user(&b, "local@acme.test", "full_access").await;
    expect_json(
        app.add_customer_user(app.admin_token(), &b, &json!({"email": "old@acme.test"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let page = app.admin_get(&format!("/v1/customers/{b}/users")).await;
    assert_eq!(
        item_strings(&page, "email"),
        ["old@acme.test", "local@acme.test"]
    );
}

#[tokio::test]
async fn customer_user_lists_filter_by_status_role_and_name_prefix() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    for (email, first, last, role) in [
        ("alice@acme.test", "Alice", "Smith", "full_access"),
        ("bob@acme.test", "Bob", "Jones", "admin"),
        ("zed@acme.test", "Carol", "Smithers", "standard_user"),
    ] {
        let body = json!({"email": email, "first_name": first, "last_name": last, "role": role});
        expect_json(
            app.add_customer_user(app.admin_token(), &cid, &body).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let token = app.token_from_email("activation", "alice@acme.test").await;
    let activated = app
        .activate_account(&token, crate::helpers::GOOD_PASSWORD)
        .await;
    expect_json(activated, StatusCode::OK).await;

    let emails = |query: &str| {
        let path = format!("/v1/customers/{cid}/users?{query}");
        let app = &app;
        async move { item_strings(&app.admin_get(&path).await, "email") }
    };
    assert_eq!(emails("q=SMI").await, ["zed@acme.test", "alice@acme.test"]);
    assert_eq!(emails("q=carol").await, ["zed@acme.test"], "first name");
    assert_eq!(emails("q=ZED@").await, ["zed@acme.test"], "email");
    assert_eq!(emails("q=jones").await, ["bob@acme.test"], "last name");
    assert!(
        emails("q=mith").await.is_empty(),
        "a prefix, not a substring"
    );
    assert_eq!(emails("role=admin").await, ["bob@acme.test"]);
    assert_eq!(emails("role=standard_user").await, ["zed@acme.test"]);
    assert_eq!(emails("status=active").await, ["alice@acme.test"]);
    assert_eq!(
        emails("status=invited").await,
        ["zed@acme.test", "bob@acme.test"]
    );
    assert_eq!(emails("status=invited&q=b").await, ["bob@acme.test"]);
}

#[tokio::test]
async fn customer_user_lists_page_with_a_cursor_without_repeats() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    for n in 1..=5 {
        app.add_new_user(&cid, &format!("u{n}@acme.test"), "full_access")
            .await;
    }
    let mut seen = Vec::new();
    let mut path = format!("/v1/customers/{cid}/users?limit=2");
    loop {
        let page = app.admin_get(&path).await;
        assert_eq!(page["named_users"], 5, "{page}");
        seen.extend(item_strings(&page, "email"));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/customers/{cid}/users?limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(seen.len() <= 5, "the cursor never ends: {seen:?}");
    }
    let expected: Vec<String> = (1..=5).rev().map(|n| format!("u{n}@acme.test")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_bad_limit_filter_or_cursor_on_a_customer_user_list_is_422_naming_it() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("status=asleep", "status"),
        ("role=owner", "role"),
        ("cursor=nonsense!", "cursor"),
    ] {
        let problem = expect_problem(
            app.list_customer_users(app.admin_token(), &cid, query)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field], "{query}");
    }
}

#[tokio::test]
async fn updating_a_membership_changes_its_role_and_settings() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let body = json!({"role": "admin", "settings": {"menu": "billing", "chat_tag": false}, "requester_name": "Sam", "confirmation_email": "sam@ubm.example"});
    let updated = expect_json(
        app.update_customer_user(app.admin_token(), &cid, &uid, &body)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["id"], uid.as_str());
    assert_eq!(updated["role"], "admin");
    assert_eq!(updated["settings"], body["settings"]);
    for field in USER_FIELDS.iter().chain(&["added_at"]) {
        assert!(
            updated.get(*field).is_some(),
            "{field} missing from {updated}"
        );
    }
    app.last_email("action_confirmation", "sam@ubm.example")
        .await;

    let role_only = expect_json(
        app.update_customer_user(
            app.admin_token(),
            &cid,
            &uid,
            &json!({"role": "standard_user"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(role_only["role"], "standard_user");
    assert_eq!(
        role_only["settings"], body["settings"],
        "settings untouched"
    );
    let listed = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert_eq!(listed["items"][0]["role"], "standard_user");
}

#[tokio::test]
async fn updating_an_unknown_membership_is_404() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let in_b = app.add_new_user(&b, "b@acme.test", "full_access").await;
    for uid in [in_b, uuid::Uuid::new_v4().to_string()] {
        expect_problem(
            app.update_customer_user(app.admin_token(), &a, &uid, &json!({"role": "admin"}))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn removing_a_user_from_one_customer_keeps_their_other_memberships() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let (uid, token) = app
        .invite_and_activate(&a, "pat@acme.test", "full_access")
        .await;
    expect_json(
        app.add_customer_user(app.admin_token(), &b, &json!({"email": "pat@acme.test"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let removed = app
        .remove_customer_user(app.admin_token(), &a, &uid, "")
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.customer_ids_of(&uid).await, [b.as_str()]);
    let list = app.admin_get(&format!("/v1/customers/{a}/users")).await;
    assert!(items(&list).is_empty(), "{list}");
    assert_eq!(
        app.count_emails("membership_removed", "pat@acme.test")
            .await,
        0,
        "no notification was asked for"
    );
    let mine = expect_json(app.list_customers(&token, "").await, StatusCode::OK).await;
    assert_eq!(item_strings(&mine, "id"), [b]);
    expect_problem(
        app.get_customer(&token, &a).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn removing_with_notify_emails_the_user_and_confirms_to_the_requester() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let removed = app
        .remove_customer_user(
            app.admin_token(),
            &cid,
            &uid,
            "notify=true&requester_name=Sam%20Admin&confirmation_email=sam@ubm.example",
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    app.last_email("membership_removed", "pat@acme.test").await;
    app.last_email("action_confirmation", "sam@ubm.example")
        .await;
}

#[tokio::test]
async fn removing_an_unknown_membership_is_404() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let in_b = app.add_new_user(&b, "b@acme.test", "full_access").await;
    expect_problem(
        app.remove_customer_user(app.admin_token(), &a, &in_b, "")
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(app.customer_ids_of(&in_b).await, [b]);
}

#[tokio::test]
async fn removing_a_user_frees_their_seat() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", Some(1)).await;
    let first = app
        .add_new_user(&cid, "first@acme.test", "full_access")
        .await;
    expect_problem(
        app.add_customer_user(app.admin_token(), &cid, &new_person("second@acme.test"))
            .await,
        StatusCode::CONFLICT,
        "seat_limit_reached",
    )
    .await;
    let removed = app
        .remove_customer_user(app.admin_token(), &cid, &first, "")
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.named_users(&cid).await, 0);
    app.add_new_user(&cid, "second@acme.test", "full_access")
        .await;
    assert_eq!(app.named_users(&cid).await, 1);
}

#[tokio::test]
async fn adding_a_user_beyond_the_seat_limit_returns_409() {
    let app = spawn_app().await;
    let cid = app.customer("UBM Demo", Some(3)).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let uid = app
            .add_new_user(&cid, &format!("u{n}@acme.test"), "full_access")
            .await;
        ids.push(uid);
        assert_eq!(app.named_users(&cid).await, n);
    }
    let fourth = app
        .add_customer_user(app.admin_token(), &cid, &new_person("u4@acme.test"))
        .await;
    expect_problem(fourth, StatusCode::CONFLICT, "seat_limit_reached").await;
    assert_eq!(app.named_users(&cid).await, 3);
    assert_eq!(app.count_emails("activation", "u4@acme.test").await, 0);

    let retired = app
        .set_status(app.admin_token(), &ids[0], &json!({"status": "retired"}))
        .await;
    assert!(is_timestamp(
        &expect_json(retired, StatusCode::OK).await["retired_at"]
    ));
    assert_eq!(app.named_users(&cid).await, 2);

    app.add_new_user(&cid, "u4@acme.test", "full_access").await;
    assert_eq!(app.named_users(&cid).await, 3);

    let reinstate = app
        .set_status(app.admin_token(), &ids[0], &json!({"status": "active"}))
        .await;
    expect_problem(reinstate, StatusCode::CONFLICT, "seat_limit_reached").await;
    assert_eq!(app.named_users(&cid).await, 3);
    assert_eq!(app.user_info(&ids[0]).await["status"], "retired");
}

#[tokio::test]
async fn a_membership_edit_with_a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let cid = app.customer("UBM Demo", None).await;
    let added = app
        .add_customer_user(
            app.admin_token(),
            &cid,
            &json!({"email": "marcus.lee@ubm-demo.example", "first_name": "Marcus", "last_name": "Lee", "role": "standard_user"}),
        )
        .await;
    let first_etag = header(&added, "etag");
    assert!(
        first_etag.starts_with('"'),
        "the 201 carries the membership's ETag"
    );
    let uid = id_of(&expect_json(added, StatusCode::CREATED).await);
    let path = format!("/v1/customers/{cid}/users/{uid}");
    let patch = |etag: String, role: &'static str| {
        let app = &app;
        let path = path.clone();
        async move {
            app.request(reqwest::Method::PATCH, &path, Some(app.admin_token()))
                .header("If-Match", etag)
                .json(&json!({"role": role}))
                .send()
                .await
                .unwrap()
        }
    };
    let fresh = patch(first_etag.clone(), "full_access").await;
    let second_etag = header(&fresh, "etag");
    assert_ne!(second_etag, first_etag);
    assert_eq!(
        expect_json(fresh, StatusCode::OK).await["role"],
        "full_access"
    );
    let stale = patch(first_etag, "admin").await;
    expect_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let again = patch(second_etag, "admin").await;
    assert_eq!(expect_json(again, StatusCode::OK).await["role"], "admin");
}
