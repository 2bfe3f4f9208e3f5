//! Dormant accounts expire; reactivation brings them back.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{expect_json, spawn_app, spawn_app_with, GOOD_PASSWORD};

const DAY: u64 = 86_400;

#[tokio::test]
async fn an_account_unused_for_ninety_days_expires_and_can_be_reactivated() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    app.clock.advance(Duration::from_secs(89 * DAY));
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    let admin = app
        .sign_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let still = expect_json(
        app.get_user(&admin.access_token(), &uid).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["status"], "active");

    app.clock.advance(Duration::from_secs(2 * DAY));
    // The admin signs in again so their own account stays fresh.
    let admin = app
        .sign_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    let expired = expect_json(
        app.get_user(&admin.access_token(), &uid).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(expired["status"], "expired");
    let refused = expect_json(
        app.password_grant("pat@acme.test", GOOD_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refused["code"], "account_expired");

    let body = expect_json(
        app.set_status(
            &admin.access_token(),
            &uid,
            &serde_json::json!({"status": "active"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["status"], "active");
    // Reactivation restarts the dormancy clock.
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}

#[tokio::test]
async fn dormancy_zero_turns_expiry_off() {
    let app = spawn_app_with(&[("ROSTER_DORMANCY_DAYS", "0")]).await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    app.clock.advance(Duration::from_secs(400 * DAY));
    assert_eq!(
        roster::service::maintenance::run_once(&app.state)
            .await
            .unwrap(),
        0
    );
    let admin = app
        .sign_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let user = expect_json(
        app.get_user(&admin.access_token(), &uid).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(user["status"], "active");
}
