//! Status changes follow API.md's lifecycle table.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_json, expect_problem, spawn_app, GOOD_PASSWORD};
use crate::people::{active_member, customer, invite, set_status};

#[tokio::test]
async fn inactivating_sends_the_deactivation_notice_once_and_is_idempotent() {
    let app = spawn_app().await;
    let (_, uid, _) = active_member(&app, "pat@acme.test").await;
    assert_eq!(
        set_status(&app, &uid, "inactive").await["status"],
        "inactive"
    );
    assert_eq!(
        set_status(&app, &uid, "inactive").await["status"],
        "inactive"
    );
    let notices = app
        .outbox()
        .await
        .into_iter()
        .filter(|e| e.kind == "account_deactivated")
        .collect::<Vec<_>>();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].text_body.contains("contact your CSM"));
}

#[tokio::test]
async fn reactivation_sends_nothing_to_a_user_with_a_password() {
    let app = spawn_app().await;
    let (_, uid, _) = active_member(&app, "pat@acme.test").await;
    set_status(&app, &uid, "inactive").await;
    let before = app.outbox().await.len();
    assert_eq!(set_status(&app, &uid, "active").await["status"], "active");
    assert_eq!(app.outbox().await.len(), before);
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn reactivating_a_user_who_never_set_a_password_invites_them_again() {
    let app = spawn_app().await;
    let cid = customer(&app, "Acme", None).await;
    let uid = invite(&app, &cid, "new@acme.test", "full_access").await;
    let first = app.token_from_email("activation", "new@acme.test").await;
    set_status(&app, &uid, "inactive").await;
    let back = set_status(&app, &uid, "active").await;
    assert_eq!(back["status"], "invited");
    let second = app.token_from_email("activation", "new@acme.test").await;
    assert_ne!(first, second);
    expect_problem(
        app.get(&format!("/v1/auth/action-tokens/{first}"), None)
            .await,
        StatusCode::GONE,
        "gone",
    )
    .await;
    crate::people::activate(&app, "new@acme.test").await;
}

#[tokio::test]
async fn retiring_sets_the_retired_on_date_and_reinstating_clears_it() {
    let app = spawn_app().await;
    let (cid, uid, tokens) = active_member(&app, "pat@acme.test").await;
    let retired = set_status(&app, &uid, "retired").await;
    assert!(retired["retired_at"].is_string());
    expect_problem(
        app.get("/v1/me", Some(&tokens.access_token())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let listed = expect_json(
        app.get(
            &format!("/v1/customers/{cid}/users?status=retired"),
            Some(app.admin_token()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"][0]["retired_at"], retired["retired_at"]);
    assert_eq!(listed["named_users"], 0);
    let back = set_status(&app, &uid, "active").await;
    assert!(back["retired_at"].is_null());
    assert_eq!(back["status"], "active");
}

#[tokio::test]
async fn invited_and_expired_are_not_status_targets_and_odd_moves_are_refused() {
    let app = spawn_app().await;
    let cid = customer(&app, "Acme", None).await;
    let uid = invite(&app, &cid, "new@acme.test", "full_access").await;
    for target in ["invited", "expired", "asleep"] {
        let response = app
            .send_json(
                Method::PUT,
                &format!("/v1/users/{uid}/status"),
                Some(app.admin_token()),
                &json!({"status": target}),
            )
            .await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "status");
    }
    let not_yet = app
        .send_json(
            Method::PUT,
            &format!("/v1/users/{uid}/status"),
            Some(app.admin_token()),
            &json!({"status": "active"}),
        )
        .await;
    expect_problem(not_yet, StatusCode::CONFLICT, "user_not_activated").await;
    set_status(&app, &uid, "retired").await;
    let retired = app
        .send_json(
            Method::PUT,
            &format!("/v1/users/{uid}/status"),
            Some(app.admin_token()),
            &json!({"status": "inactive"}),
        )
        .await;
    expect_problem(retired, StatusCode::CONFLICT, "user_retired").await;
}

#[tokio::test]
async fn link_emails_are_only_for_users_in_the_right_state() {
    let app = spawn_app().await;
    let (cid, active, _) = active_member(&app, "pat@acme.test").await;
    let invited = invite(&app, &cid, "new@acme.test", "full_access").await;
    let post = |path: String| {
        app.request(Method::POST, &path, Some(app.admin_token()))
            .send()
    };
    let wrong = post(format!("/v1/users/{active}/activation-email"))
        .await
        .unwrap();
    expect_problem(wrong, StatusCode::CONFLICT, "not_invited").await;
    let wrong = post(format!("/v1/users/{invited}/password-reset-email"))
        .await
        .unwrap();
    expect_problem(wrong, StatusCode::CONFLICT, "not_active").await;
    assert_eq!(
        post(format!("/v1/users/{active}/password-reset-email"))
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let email = app.last_email("password_reset", "pat@acme.test").await;
    assert!(email.text_body.contains("valid for 48 hours"));
}
