//! Lockout, sign-in answers, forgotten, reset and changed passwords, policy.

use std::time::Duration;

use reqwest::StatusCode;
use roster::config::HashMemory;

use crate::helpers::{expect_json, expect_problem, spawn_app, spawn_app_with, GOOD_PASSWORD};

const NEW_PASSWORD: &str = "quartz lantern meadow";

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_and_email_the_user() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    for _ in 0..5 {
        let body = expect_json(
            app.password_grant("pat@acme.test", "wrong password!").await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(body["error"], "invalid_grant");
    }
    app.last_email("account_locked", "pat@acme.test").await;
    // Locked: even the right password gets the same generic answer.
    let locked = expect_json(
        app.password_grant("pat@acme.test", GOOD_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let unknown = expect_json(
        app.password_grant("nobody@acme.test", GOOD_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(locked, unknown);
    let user = expect_json(app.get_user(app.admin_token(), &uid).await, StatusCode::OK).await;
    assert_eq!(user["locked"], true);

    let unlocked = app.unlock(app.admin_token(), &uid, "").await;
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    let again = app.unlock(app.admin_token(), &uid, "").await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn fifty_parallel_wrong_passwords_are_all_counted() {
    let app = spawn_app_with(&[
        ("ROSTER_LOCKOUT_THRESHOLD", "1000"),
        ("ROSTER_HASH_CONCURRENCY", "4"),
    ])
    .await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    let attempts = (0..50).map(|_| app.password_grant("pat@acme.test", "wrong password!"));
    let answers = futures_util::future::join_all(attempts).await;
    assert!(answers
        .iter()
        .all(|r| r.status() == StatusCode::BAD_REQUEST));
    assert_eq!(app.failed_logins(&uid).await, 50);
}

#[tokio::test]
async fn a_right_password_names_the_account_state_and_a_wrong_one_does_not() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    app.admin_set_status(&uid, "inactive").await;
    let right = expect_json(
        app.password_grant("pat@acme.test", GOOD_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(right["code"], "account_inactive");
    assert!(right["error_description"]
        .as_str()
        .unwrap()
        .contains("contact your administrator"));
    let wrong = expect_json(
        app.password_grant("pat@acme.test", "wrong password!").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(wrong.get("code").is_none());
    app.admin_set_status(&uid, "retired").await;
    let retired = expect_json(
        app.password_grant("pat@acme.test", GOOD_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(retired["code"], "account_retired");
}

#[tokio::test]
async fn forgot_password_answers_the_same_whoever_asks() {
    let app = spawn_app().await;
    let (cid, uid, _) = app.active_member("pat@acme.test").await;
    app.add_new_user(&cid, "new@acme.test", "full_access").await;
    // Past the invitation's ROSTER_RESET_EMAIL_COOLDOWN.
    app.clock.advance(Duration::from_secs(120));
    let known = expect_json(
        app.forgot_password("PAT@acme.test").await,
        StatusCode::ACCEPTED,
    )
    .await;
    let unknown = expect_json(
        app.forgot_password("ghost@acme.test").await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(known, unknown);
    let invited = app.forgot_password("new@acme.test").await;
    assert_eq!(invited.status(), StatusCode::ACCEPTED);
    app.resolve_requests().await;
    app.last_email("password_reset", "pat@acme.test").await;
    // The invited user gets a fresh activation email instead (their second).
    assert_eq!(app.count_emails("activation", "new@acme.test").await, 2);
    assert!(app
        .outbox()
        .await
        .iter()
        .all(|e| e.recipient != "ghost@acme.test"));

    app.admin_set_status(&uid, "inactive").await;
    let before = app.outbox().await.len();
    app.clock.advance(Duration::from_secs(120));
    app.forgot_password("pat@acme.test").await;
    app.resolve_requests().await;
    assert_eq!(
        app.outbox().await.len(),
        before,
        "an inactive user gets no reset email"
    );
}

#[tokio::test]
async fn a_reset_signs_nobody_in_ends_every_session_and_unlocks() {
    let app = spawn_app().await;
    let (_, _, tokens) = app.active_member("pat@acme.test").await;
    for _ in 0..5 {
        app.password_grant("pat@acme.test", "wrong password!").await;
    }
    app.forgot_password("pat@acme.test").await;
    app.resolve_requests().await;
    let email = app.last_email("password_reset", "pat@acme.test").await;
    assert!(email
        .text_body
        .contains("https://app.roster.test/reset-password?token="));
    let token = app
        .token_from_email("password_reset", "pat@acme.test")
        .await;
    let info = expect_json(app.action_token(&token).await, StatusCode::OK).await;
    assert_eq!(info["purpose"], "password_reset");

    let weak = app.reset_password(&token, "password1234").await;
    let problem = expect_problem(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "password");

    let reset = app.reset_password(&token, NEW_PASSWORD).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    app.last_email("password_changed", "pat@acme.test").await;
    expect_problem(
        app.me(&tokens.access_token()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let refresh = expect_json(
        app.refresh(&tokens.refresh_token()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refresh["error"], "invalid_grant");
    expect_json(
        app.password_grant("pat@acme.test", GOOD_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    app.sign_in("pat@acme.test", NEW_PASSWORD).await;
    // The link is spent.
    expect_problem(app.action_token(&token).await, StatusCode::GONE, "gone").await;
}

#[tokio::test]
async fn a_password_change_keeps_you_in_and_ends_your_other_sessions() {
    let app = spawn_app().await;
    let (_, _, first) = app.active_member("pat@acme.test").await;
    let second = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    let wrong = app
        .change_password(&first.access_token(), "not it at all", NEW_PASSWORD)
        .await;
    let problem =
        expect_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "current_password");
    let personal = app
        .change_password(&first.access_token(), GOOD_PASSWORD, "pat.lee.acme.test")
        .await;
    let problem = expect_problem(
        personal,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "new_password");

    let changed = expect_json(
        app.change_password(&first.access_token(), GOOD_PASSWORD, NEW_PASSWORD)
            .await,
        StatusCode::OK,
    )
    .await;
    let fresh = changed["access_token"].as_str().unwrap();
    expect_json(app.me(fresh).await, StatusCode::OK).await;
    expect_problem(
        app.me(&second.access_token()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    app.last_email("password_changed", "pat@acme.test").await;
    app.sign_in("pat@acme.test", NEW_PASSWORD).await;
}

#[tokio::test]
async fn common_and_personal_passwords_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    for (password, hint) in [
        ("short", "at least 12"),
        ("password1234", "common"),
        ("Pat.Lee.acme.test", "email"),
    ] {
        let response = app.activate_account(&token, password).await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let message = problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(hint), "{password}: {message}");
    }
    // A rejected password leaves the link usable.
    expect_json(app.action_token(&token).await, StatusCode::OK).await;
}

#[tokio::test]
async fn the_auth_endpoints_are_throttled_per_client() {
    let app = spawn_app_with(&[("ROSTER_AUTH_RATE_LIMIT", "3")]).await;
    for _ in 0..3 {
        let _ = app
            .password_grant("nobody@acme.test", "whatever pass")
            .await;
    }
    let throttled = app
        .password_grant("nobody@acme.test", "whatever pass")
        .await;
    assert!(throttled.headers().contains_key("retry-after"));
    expect_problem(throttled, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Admin endpoints are not throttled.
    expect_json(app.me(app.admin_token()).await, StatusCode::OK).await;
}

#[tokio::test]
async fn failed_sign_ins_never_lock_an_invited_account() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    for _ in 0..6 {
        app.password_grant("new@acme.test", "guessing away!!").await;
    }
    assert_eq!(app.failed_logins(&uid).await, 0);
    assert!(app
        .outbox()
        .await
        .iter()
        .all(|e| e.kind != "account_locked"));
    app.activate("new@acme.test").await;
}

#[tokio::test]
async fn wrong_current_passwords_lock_the_account_like_failed_sign_ins() {
    let app = spawn_app().await;
    let (_, _, tokens) = app.active_member("pat@acme.test").await;
    for _ in 0..5 {
        let response = app
            .change_password(&tokens.access_token(), "wrong password!", NEW_PASSWORD)
            .await;
        assert!(matches!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNAUTHORIZED
        ));
    }
    app.last_email("account_locked", "pat@acme.test").await;
    expect_problem(
        app.me(&tokens.access_token()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

/// The stored password hash of `uid`, read straight from the database.
async fn stored_hash(app: &crate::helpers::TestApp, uid: &str) -> String {
    let id = uid.to_string();
    app.state
        .read(move |conn, _| Ok(roster::db::users::find(conn, &id)?))
        .await
        .unwrap()
        .and_then(|user| user.password_hash)
        .expect("a password")
}

#[tokio::test]
async fn a_password_hashed_with_other_parameters_is_hashed_again_at_sign_in_and_sessions_stay() {
    let app = spawn_app().await;
    let (_, uid, before) = app.active_member("pat@acme.test").await;
    let old = roster::auth::passwords::hash_now(GOOD_PASSWORD, HashMemory::Mib19).unwrap();
    let (id, hash) = (uid.clone(), old.clone());
    app.state
        .write(move |conn, _| Ok(roster::db::users::replace_password_hash(conn, &id, &hash)?))
        .await
        .unwrap();

    let wrong = app.sign_in_outcome("pat@acme.test", NEW_PASSWORD).await;
    assert_eq!(wrong, "invalid_grant");
    assert_eq!(
        stored_hash(&app, &uid).await,
        old,
        "a wrong password changes nothing"
    );

    // Signed in at once, each finds the old hash: none may count as wrong
    // because another stored the new one meanwhile.
    let at_once = (0..6).map(|_| app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD));
    let outcomes = futures_util::future::join_all(at_once).await;
    assert_eq!(outcomes, vec!["ok"; 6]);
    let upgraded = stored_hash(&app, &uid).await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
        "{upgraded}"
    );
    assert!(roster::auth::passwords::verify_now(
        GOOD_PASSWORD,
        &upgraded
    ));
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    assert_eq!(stored_hash(&app, &uid).await, upgraded, "hashed again once");
    let refreshed = app.refresh(&before.refresh_token()).await;
    expect_json(refreshed, StatusCode::OK).await;
}

#[tokio::test]
async fn the_configured_hash_memory_is_what_new_passwords_are_stored_with() {
    let app = spawn_app_with(&[("ROSTER_HASH_MEMORY", "19MiB")]).await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    let stored = stored_hash(&app, &uid).await;
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    assert_eq!(stored_hash(&app, &uid).await, stored, "already current");
}
