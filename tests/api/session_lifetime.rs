//! How long a session lives: at most `ROSTER_SESSION_MAX_AGE` from its
//! sign-in however often it is refreshed, and while it is used the account
//! does not go dormant.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{expect_json, spawn_app, spawn_app_with, Tokens, GOOD_PASSWORD};

const DAY: u64 = 86_400;

/// Refreshes and insists on success; the new pair.
async fn refreshed(app: &crate::helpers::TestApp, tokens: &Tokens) -> Tokens {
    let response = app.refresh(&tokens.refresh_token()).await;
    Tokens(expect_json(response, StatusCode::OK).await)
}

#[tokio::test]
async fn a_session_refreshed_every_week_ends_thirty_days_after_its_sign_in() {
    let app = spawn_app().await;
    let (_, _, _) = app.active_member("pat@acme.test").await;
    let mut tokens = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(7 * DAY));
        tokens = refreshed(&app, &tokens).await;
    }
    // Day 28: the last refresh token is good for 30 more days, but the
    // session is not.
    app.clock.advance(Duration::from_secs(2 * DAY + 60));
    let refused = expect_json(
        app.refresh(&tokens.refresh_token()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refused["error"], "invalid_grant");
    assert!(refused.get("code").is_none(), "{refused}");
    // Signing in again starts a new session.
    let again = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    refreshed(&app, &again).await;
}

#[tokio::test]
async fn the_maximum_session_age_is_configurable() {
    let app = spawn_app_with(&[("ROSTER_SESSION_MAX_AGE", "2h")]).await;
    app.active_member("pat@acme.test").await;
    let tokens = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    app.clock.advance(Duration::from_secs(3600));
    let tokens = refreshed(&app, &tokens).await;
    app.clock.advance(Duration::from_secs(3600));
    let refused = expect_json(
        app.refresh(&tokens.refresh_token()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refused["error"], "invalid_grant");
}

#[tokio::test]
async fn a_user_who_keeps_refreshing_their_session_does_not_go_dormant() {
    let app = spawn_app_with(&[("ROSTER_DORMANCY_DAYS", "10")]).await;
    let (_, _, _) = app.active_member("pat@acme.test").await;
    let mut tokens = app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
    // Signed in once, then refreshing every three days for 27 days: three
    // times the dormancy period without another sign-in.
    for _ in 0..9 {
        app.clock.advance(Duration::from_secs(3 * DAY));
        roster::service::maintenance::run_once(&app.state)
            .await
            .unwrap();
        tokens = refreshed(&app, &tokens).await;
    }
    let me = expect_json(app.me(&tokens.access_token()).await, StatusCode::OK).await;
    assert_eq!(me["status"], "active");
    // Once it stops, the account goes dormant as before.
    app.clock.advance(Duration::from_secs(11 * DAY));
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    assert_eq!(
        app.sign_in_outcome("pat@acme.test", GOOD_PASSWORD).await,
        "account_expired"
    );
}
