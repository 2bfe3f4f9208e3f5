//! Action tokens, refresh tokens, revocation, API clients and the
//! immediate effect of account changes on live access tokens.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_json, expect_problem, spawn_app, GOOD_PASSWORD};
use crate::people::{activate, active_member, customer, invite, set_status};

#[tokio::test]
async fn opening_an_activation_link_does_not_consume_it() {
    let app = spawn_app().await;
    let cid = customer(&app, "Acme", None).await;
    invite(&app, &cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    for _ in 0..3 {
        let info = expect_json(
            app.get(&format!("/v1/auth/action-tokens/{token}"), None)
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(info["purpose"], "activation");
        assert_eq!(info["email"], "pat@acme.test");
    }
    activate(&app, "pat@acme.test").await;
}

#[tokio::test]
async fn an_activation_link_works_once() {
    let app = spawn_app().await;
    let cid = customer(&app, "Acme", None).await;
    invite(&app, &cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    activate(&app, "pat@acme.test").await;
    expect_problem(
        app.get(&format!("/v1/auth/action-tokens/{token}"), None)
            .await,
        StatusCode::GONE,
        "gone",
    )
    .await;
    let again = app
        .post_json(
            "/v1/auth/activate",
            None,
            &json!({"token": token, "password": GOOD_PASSWORD}),
        )
        .await;
    expect_problem(again, StatusCode::GONE, "gone").await;
}

#[tokio::test]
async fn an_activation_link_expires_after_48_hours() {
    let app = spawn_app().await;
    let cid = customer(&app, "Acme", None).await;
    invite(&app, &cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    app.clock.advance(Duration::from_secs(47 * 3600));
    expect_json(
        app.get(&format!("/v1/auth/action-tokens/{token}"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    app.clock.advance(Duration::from_secs(2 * 3600));
    expect_problem(
        app.get(&format!("/v1/auth/action-tokens/{token}"), None)
            .await,
        StatusCode::GONE,
        "gone",
    )
    .await;
}

#[tokio::test]
async fn a_resent_activation_link_voids_the_older_one() {
    let app = spawn_app().await;
    let cid = customer(&app, "Acme", None).await;
    let uid = invite(&app, &cid, "pat@acme.test", "full_access").await;
    let old = app.token_from_email("activation", "pat@acme.test").await;
    let resent = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/users/{uid}/activation-email"),
            Some(app.admin_token()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let new = app.token_from_email("activation", "pat@acme.test").await;
    assert_ne!(old, new);
    expect_problem(
        app.get(&format!("/v1/auth/action-tokens/{old}"), None)
            .await,
        StatusCode::GONE,
        "gone",
    )
    .await;
    activate(&app, "pat@acme.test").await;
}

#[tokio::test]
async fn an_unknown_action_token_is_404() {
    let app = spawn_app().await;
    expect_problem(
        app.get("/v1/auth/action-tokens/rat_nothing", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_refresh_token_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let (_, _, tokens) = active_member(&app, "pat@acme.test").await;
    let first = tokens.refresh_token();
    let rotated = expect_json(
        app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &first)])
            .await,
        StatusCode::OK,
    )
    .await;
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    // Replaying the rotated token is theft: the whole family dies.
    let replay = expect_json(
        app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &first)])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(replay["error"], "invalid_grant");
    let after = expect_json(
        app.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &second)])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(after["error"], "invalid_grant");
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_let_at_most_one_succeed() {
    let app = spawn_app().await;
    let (_, _, tokens) = active_member(&app, "pat@acme.test").await;
    let refresh = tokens.refresh_token();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let (a, b) = tokio::join!(app.token_request(&form), app.token_request(&form));
    let successes = [a.status(), b.status()]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert!(successes <= 1, "{:?} {:?}", a.status(), b.status());
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let app = spawn_app().await;
    let (_, _, tokens) = active_member(&app, "pat@acme.test").await;
    let revoked = app
        .client
        .post(app.url("/v1/auth/revoke"))
        .form(&[("token", tokens.refresh_token())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let body = expect_json(
        app.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token()),
        ])
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let unknown = app
        .client
        .post(app.url("/v1/auth/revoke"))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_inactivated_users_live_access_token_is_rejected_at_once() {
    let app = spawn_app().await;
    let (_, uid, tokens) = active_member(&app, "pat@acme.test").await;
    expect_json(
        app.get("/v1/me", Some(&tokens.access_token())).await,
        StatusCode::OK,
    )
    .await;
    set_status(&app, &uid, "inactive").await;
    expect_problem(
        app.get("/v1/me", Some(&tokens.access_token())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let refresh = expect_json(
        app.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token()),
        ])
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(refresh["error"], "invalid_grant");
}

#[tokio::test]
async fn a_deleted_users_access_token_is_rejected_at_once() {
    let app = spawn_app().await;
    let (_, uid, tokens) = active_member(&app, "pat@acme.test").await;
    let deleted = app
        .delete(&format!("/v1/users/{uid}"), Some(app.admin_token()))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get("/v1/me", Some(&tokens.access_token())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn an_access_token_expires_after_fifteen_minutes() {
    let app = spawn_app().await;
    let (_, _, tokens) = active_member(&app, "pat@acme.test").await;
    app.clock.advance(Duration::from_secs(14 * 60));
    expect_json(
        app.get("/v1/me", Some(&tokens.access_token())).await,
        StatusCode::OK,
    )
    .await;
    app.clock.advance(Duration::from_secs(2 * 60));
    expect_problem(
        app.get("/v1/me", Some(&tokens.access_token())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // The refresh token still yields a fresh pair.
    let refreshed = expect_json(
        app.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token()),
        ])
        .await,
        StatusCode::OK,
    )
    .await;
    expect_json(
        app.get("/v1/me", refreshed["access_token"].as_str()).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn an_api_client_signs_in_with_client_credentials_and_stays_in_its_customer() {
    let app = spawn_app().await;
    let a = customer(&app, "A", None).await;
    let b = customer(&app, "B", None).await;
    let created = expect_json(
        app.post_json(
            "/v1/api-clients",
            Some(app.admin_token()),
            &json!({"name": "provisioning", "customer_id": a}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    assert!(secret.starts_with("rcs_"));
    let listed = expect_json(
        app.get("/v1/api-clients", Some(app.admin_token())).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        listed["items"][0].get("client_secret").is_none(),
        "{listed}"
    );

    let tokens = expect_json(
        app.token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(tokens.get("refresh_token").is_none());
    let token = tokens["access_token"].as_str().unwrap();
    let added = app
        .post_json(
            &format!("/v1/customers/{a}/users"),
            Some(token),
            &json!({"email": "bot-made@acme.test", "first_name": "Bo", "last_name": "T"}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    expect_problem(
        app.get(&format!("/v1/customers/{b}/users"), Some(token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get("/v1/me", Some(token)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // HTTP Basic works too, and a wrong secret is invalid_client.
    let basic = app
        .client
        .post(app.url("/v1/auth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let wrong = expect_json(
        app.token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", "rcs_x"),
        ])
        .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(wrong["error"], "invalid_client");

    // Revoking the client kills its live token.
    let revoked = app
        .delete(&format!("/v1/api-clients/{id}"), Some(app.admin_token()))
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.get(&format!("/v1/customers/{a}/users"), Some(token))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let (_, _, tokens) = active_member(&app, "pat@acme.test").await;
    expect_problem(
        app.get("/v1/me", Some(&tokens.refresh_token())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_customer_admin_sees_status_changes_of_their_users_but_not_other_customers_events() {
    let app = spawn_app().await;
    let a = customer(&app, "A", None).await;
    let b = customer(&app, "B", None).await;
    invite(&app, &a, "boss@a.test", "admin").await;
    let boss = activate(&app, "boss@a.test").await;
    let pat = invite(&app, &a, "pat@a.test", "full_access").await;
    let other = invite(&app, &b, "other@b.test", "full_access").await;
    for user in [&pat, &other] {
        let response = app
            .send_json(
                reqwest::Method::PUT,
                &format!("/v1/users/{user}/status"),
                Some(app.admin_token()),
                &json!({"status": "retired"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let events = expect_json(
        app.get("/v1/audit-events?limit=200", Some(&boss.access_token()))
            .await,
        StatusCode::OK,
    )
    .await;
    let about = |id: &str| {
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target_user_id"] == id)
    };
    assert!(about(&pat), "{events}");
    assert!(!about(&other), "{events}");
    assert!(events["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["customer_id"] != json!(b)));
}

#[tokio::test]
async fn a_member_may_not_read_a_fellow_members_user_info() {
    let app = spawn_app().await;
    let (cid, pat, tokens) = active_member(&app, "pat@acme.test").await;
    let other = invite(&app, &cid, "other@acme.test", "full_access").await;
    expect_problem(
        app.get(&format!("/v1/users/{other}"), Some(&tokens.access_token()))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_json(
        app.get(&format!("/v1/users/{pat}"), Some(&tokens.access_token()))
            .await,
        StatusCode::OK,
    )
    .await;
}
