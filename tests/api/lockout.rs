//! The lockout as an attacker meets it: guesses raced against the right
//! password, and guesses against accounts that are not `active`.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::{
    expect_json, spawn_app, spawn_app_with, TestApp, Tokens, ADMIN_EMAIL, ADMIN_PASSWORD,
    GOOD_PASSWORD,
};

const WRONG: &str = "not the password at all";
const NEW_PASSWORD: &str = "quartz lantern meadow";

/// The status and JSON body of an answer.
async fn settle(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts the session of a 200 token answer is over: its access token is
/// refused and its refresh token rotates no more.
async fn assert_session_ended(app: &TestApp, tokens: &Value) {
    let tokens = Tokens(tokens.clone());
    assert_eq!(
        app.me(&tokens.access_token()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = expect_json(
        app.refresh(&tokens.refresh_token()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refreshed["error"], "invalid_grant");
}

#[tokio::test]
async fn the_right_password_racing_twenty_five_wrong_ones_gets_no_session_that_outlives_the_lock() {
    // One hashing slot: the guesses are checked one after the other, the
    // right password (sent last) typically after the account has locked.
    let app = spawn_app_with(&[("ROSTER_HASH_CONCURRENCY", "1")]).await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    let guesses = (0..25).map(|_| app.password_grant("pat@acme.test", WRONG));
    let (guesses, right) = tokio::join!(join_all(guesses), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.password_grant("pat@acme.test", GOOD_PASSWORD).await
    });
    for guess in guesses {
        let (status, body) = settle(guess).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant");
        assert!(body.get("code").is_none(), "{body}");
    }
    let (status, right) = settle(right).await;
    assert_eq!(app.user_info(&uid).await["locked"], true);
    // An answer decided while locked is the plain invalid_grant. One decided
    // before the lock may have succeeded, but the lock then ended its
    // session, and unlocking does not bring an ended session back.
    let unlocked = app.unlock(app.admin_token(), &uid, "").await;
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    if status == StatusCode::OK {
        assert_session_ended(&app, &right).await;
    } else {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{right}");
        assert_eq!(right["error"], "invalid_grant");
        assert!(right.get("code").is_none(), "{right}");
    }
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn wrong_current_passwords_racing_the_right_one_leave_the_account_locked() {
    let app = spawn_app_with(&[("ROSTER_HASH_CONCURRENCY", "1")]).await;
    let (_, uid, tokens) = app.active_member("pat@acme.test").await;
    let token = tokens.access_token();
    let guesses = (0..25).map(|_| app.change_password(&token, WRONG, NEW_PASSWORD));
    let (guesses, right) = tokio::join!(join_all(guesses), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.change_password(&token, GOOD_PASSWORD, NEW_PASSWORD)
            .await
    });
    for guess in guesses {
        let status = guess.status();
        assert!(
            matches!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNAUTHORIZED
            ),
            "{status}"
        );
    }
    let (status, right) = settle(right).await;
    // Whichever way the race went, the guesses locked the account and the
    // change did not unlock it.
    assert_eq!(app.user_info(&uid).await["locked"], true, "{right}");
    if status == StatusCode::OK {
        assert_session_ended(&app, &right).await;
    } else {
        assert!(
            matches!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNAUTHORIZED
            ),
            "{status} {right}"
        );
        assert_eq!(
            app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
            "invalid_grant"
        );
    }
}

/// Five wrong guesses, then the right password: the answer it gets.
async fn guess_then_try(app: &TestApp, email: &str) -> String {
    for _ in 0..5 {
        assert_eq!(app.sign_in_outcome(email, WRONG).await, "invalid_grant");
    }
    app.sign_in_outcome(email, GOOD_PASSWORD).await
}

#[tokio::test]
async fn guesses_lock_inactive_and_retired_accounts_and_the_lock_hides_their_status() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    for (email, status) in [("ina@acme.test", "inactive"), ("ret@acme.test", "retired")] {
        let uid = app.add_new_user(&cid, email, "full_access").await;
        app.activate(email).await;
        app.admin_set_status(&uid, status).await;
        let code = format!("account_{status}");
        assert_eq!(app.sign_in_outcome(email, GOOD_PASSWORD).await, code);
        assert_eq!(
            guess_then_try(&app, email).await,
            "invalid_grant",
            "{status}"
        );
        let info = app.user_info(&uid).await;
        assert_eq!(info["locked"], true, "{status}");
        assert_eq!(info["status"], status);
        // Unlocked, the right password names the status again.
        app.unlock(app.admin_token(), &uid, "").await;
        assert_eq!(app.sign_in_outcome(email, GOOD_PASSWORD).await, code);
    }
}

#[tokio::test]
async fn guesses_lock_an_expired_account_and_the_lock_hides_that_it_expired() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    app.clock.advance(Duration::from_secs(91 * 86_400));
    let admin = app
        .sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .access_token();
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    assert_eq!(
        app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
        "account_expired"
    );
    assert_eq!(guess_then_try(&app, "pat@acme.test").await, "invalid_grant");
    let info = expect_json(app.get_user(&admin, &uid).await, StatusCode::OK).await;
    assert_eq!(info["locked"], true);
    assert_eq!(info["status"], "expired");
}

#[tokio::test]
async fn reactivating_a_locked_account_does_not_unlock_it() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    app.admin_set_status(&uid, "inactive").await;
    assert_eq!(guess_then_try(&app, "pat@acme.test").await, "invalid_grant");
    let reactivated = app.admin_set_status(&uid, "active").await;
    assert_eq!(reactivated["status"], "active");
    assert_eq!(reactivated["locked"], true);
    assert_eq!(
        app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
        "invalid_grant"
    );
    app.unlock(app.admin_token(), &uid, "").await;
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}
