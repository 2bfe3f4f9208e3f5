//! A user's lifecycle, as docs/api.md ("Lifecycle") lays it out: status
//! changes (`PUT /v1/users/{uid}/status`), unlocking (`DELETE …/lock`), and
//! the activation and password-reset emails an admin sends.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    error_fields, expect_json, expect_problem, header, is_timestamp, spawn_app, GOOD_PASSWORD,
};

// Status changes.

#[tokio::test]
async fn inactivating_emails_the_user_and_ends_their_session_at_once() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let info = app.admin_set_status(&uid, "inactive").await;
    assert_eq!(info["status"], "inactive");
    assert!(info["memberships"].is_array(), "User Info: {info}");
    let notice = app.last_email("account_deactivated", "pat@acme.test").await;
    assert!(
        notice.text_body.contains("contact your administrator"),
        "{}",
        notice.text_body
    );
    expect_problem(
        app.me(&token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
        "account_inactive"
    );
}

#[tokio::test]
async fn setting_the_same_status_again_is_idempotent_and_sends_nothing_twice() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let first = app.admin_set_status(&uid, "inactive").await;
    let emails = app.outbox().await.len();
    let second = app.admin_set_status(&uid, "inactive").await;
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
    let cid = app.customer("Alpha", None).await;
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
            app.set_status(app.admin_token(), &uid, &json!({"status": target}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["status"], "{target}");
    }
    assert_eq!(app.user_info(&uid).await["status"], "active");
}

#[tokio::test]
async fn invited_and_expired_are_not_status_targets_and_odd_moves_are_refused() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    for target in ["invited", "expired", "asleep"] {
        let response = app
            .set_status(app.admin_token(), &uid, &json!({"status": target}))
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
        .set_status(app.admin_token(), &uid, &json!({"status": "active"}))
        .await;
    expect_problem(not_yet, StatusCode::CONFLICT, "user_not_activated").await;
    app.admin_set_status(&uid, "retired").await;
    let retired = app
        .set_status(app.admin_token(), &uid, &json!({"status": "inactive"}))
        .await;
    expect_problem(retired, StatusCode::CONFLICT, "user_retired").await;
}

#[tokio::test]
async fn nobody_may_change_their_own_status() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (boss, boss_token) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let platform = app.my_id(app.admin_token()).await;
    for (token, uid) in [(app.admin_token(), &platform), (boss_token.as_str(), &boss)] {
        expect_problem(
            app.set_status(token, uid, &json!({"status": "inactive"}))
                .await,
            StatusCode::CONFLICT,
            "cannot_change_self",
        )
        .await;
        assert_eq!(app.user_info(uid).await["status"], "active");
    }
}

#[tokio::test]
async fn reactivating_an_inactive_user_sends_no_email_and_lets_them_sign_in() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    app.admin_set_status(&uid, "inactive").await;
    let emails = app.outbox().await.len();
    let back = app.admin_set_status(&uid, "active").await;
    assert_eq!(back["status"], "active");
    assert_eq!(app.outbox().await.len(), emails, "no email to the user");
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn reactivating_a_user_who_never_set_a_password_invites_them_again() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let old = app.token_from_email("activation", "new@acme.test").await;
    app.admin_set_status(&uid, "inactive").await;
    let back = app.admin_set_status(&uid, "active").await;
    assert_eq!(back["status"], "invited");
    assert_eq!(app.count_emails("activation", "new@acme.test").await, 2);
    let fresh = app.token_from_email("activation", "new@acme.test").await;
    assert_ne!(old, fresh);
    expect_problem(app.action_token(&old).await, StatusCode::GONE, "gone").await;
    let activated = app.activate_account(&fresh, GOOD_PASSWORD).await;
    expect_json(activated, StatusCode::OK).await;
    assert_eq!(app.user_info(&uid).await["status"], "active");
}

#[tokio::test]
async fn retiring_sets_retired_at_frees_the_seat_and_ends_the_session() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", Some(1)).await;
    let (uid, token) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let retired = app.admin_set_status(&uid, "retired").await;
    assert_eq!(retired["status"], "retired");
    assert!(is_timestamp(&retired["retired_at"]), "{retired}");
    assert_eq!(
        retired["memberships"].as_array().unwrap().len(),
        1,
        "record kept"
    );
    assert_eq!(app.named_users(&cid).await, 0);
    expect_problem(
        app.me(&token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
        "account_retired"
    );
    app.add_new_user(&cid, "next@acme.test", "full_access")
        .await;
}

#[tokio::test]
async fn retiring_sets_the_retired_on_date_and_reinstating_clears_it() {
    let app = spawn_app().await;
    let (cid, uid, tokens) = app.active_member("pat@acme.test").await;
    let retired = app.admin_set_status(&uid, "retired").await;
    assert!(retired["retired_at"].is_string());
    expect_problem(
        app.me(&tokens.access_token()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let listed = expect_json(
        app.list_customer_users(app.admin_token(), &cid, "status=retired")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"][0]["retired_at"], retired["retired_at"]);
    assert_eq!(listed["named_users"], 0);
    let back = app.admin_set_status(&uid, "active").await;
    assert!(back["retired_at"].is_null());
    assert_eq!(back["status"], "active");
}

// Unlocking.

#[tokio::test]
async fn unlocking_a_locked_user_lets_them_sign_in_and_is_idempotent() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    app.lock_out("pat@acme.test").await;
    let locked = app.user_info(&uid).await;
    assert_eq!(locked["locked"], true);
    assert!(is_timestamp(&locked["locked_at"]));
    assert_eq!(
        app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
        "invalid_grant"
    );
    for _ in 0..2 {
        let unlocked = app.unlock(app.admin_token(), &uid, "").await;
        assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    }
    let info = app.user_info(&uid).await;
    assert_eq!(info["locked"], false);
    assert!(info["locked_at"].is_null());
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

// The emails an admin sends.

#[tokio::test]
async fn resending_the_activation_email_voids_the_old_link() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let old = app.token_from_email("activation", "new@acme.test").await;
    let resent = app.send_activation_email(app.admin_token(), &uid).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let fresh = app.token_from_email("activation", "new@acme.test").await;
    assert_ne!(old, fresh);
    expect_problem(app.action_token(&old).await, StatusCode::GONE, "gone").await;
    let peek = expect_json(app.action_token(&fresh).await, StatusCode::OK).await;
    assert_eq!(peek["purpose"], "activation");
    assert_eq!(app.user_info(&uid).await["status"], "invited");
}

#[tokio::test]
async fn an_activation_email_for_a_user_who_is_not_invited_is_409_not_invited() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    expect_problem(
        app.send_activation_email(app.admin_token(), &uid).await,
        StatusCode::CONFLICT,
        "not_invited",
    )
    .await;
    assert_eq!(app.count_emails("activation", "pat@acme.test").await, 1);
}

#[tokio::test]
async fn a_password_reset_email_goes_only_to_an_active_user() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (active, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let invited = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    expect_problem(
        app.send_password_reset_email(app.admin_token(), &invited)
            .await,
        StatusCode::CONFLICT,
        "not_active",
    )
    .await;
    assert_eq!(app.count_emails("password_reset", "new@acme.test").await, 0);
    let sent = app
        .send_password_reset_email(app.admin_token(), &active)
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let email = app.last_email("password_reset", "pat@acme.test").await;
    for promise in [
        "https://app.roster.test/reset-password?token=",
        "valid for 48 hours",
    ] {
        assert!(email.text_body.contains(promise), "{}", email.text_body);
    }
}

#[tokio::test]
async fn a_status_change_with_a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("dana.whitfield@ubm-demo.example").await;
    let etag = header(&app.get_user(app.admin_token(), &uid).await, "etag");
    let fresh = app
        .request(
            Method::PUT,
            &format!("/v1/users/{uid}/status"),
            Some(app.admin_token()),
        )
        .header("If-Match", &etag)
        .json(&json!({"status": "inactive"}))
        .send()
        .await
        .unwrap();
    let new_etag = header(&fresh, "etag");
    assert_ne!(new_etag, etag);
    assert_eq!(
        expect_json(fresh, StatusCode::OK).await["status"],
        "inactive"
    );
    let stale = app
        .request(
            Method::PUT,
            &format!("/v1/users/{uid}/status"),
            Some(app.admin_token()),
        )
        .header("If-Match", &etag)
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    expect_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    assert_eq!(app.user_info(&uid).await["status"], "inactive");
}
