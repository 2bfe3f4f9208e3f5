//! Action tokens, refresh tokens, revocation, API clients and the
//! immediate effect of account changes on live access tokens.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_json, expect_problem, header, spawn_app, GOOD_PASSWORD};

#[tokio::test]
async fn opening_an_activation_link_does_not_consume_it() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    for _ in 0..3 {
        let info = expect_json(app.action_token(&token).await, StatusCode::OK).await;
        assert_eq!(info["purpose"], "activation");
        assert_eq!(info["email"], "pat@acme.test");
    }
    app.activate("pat@acme.test").await;
}

#[tokio::test]
async fn an_activation_link_works_once() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    app.activate("pat@acme.test").await;
    expect_problem(app.action_token(&token).await, StatusCode::GONE, "gone").await;
    let again = app.activate_account(&token, GOOD_PASSWORD).await;
    expect_problem(again, StatusCode::GONE, "gone").await;
}

#[tokio::test]
async fn an_activation_link_expires_after_48_hours() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    app.clock.advance(Duration::from_secs(47 * 3600));
    expect_json(app.action_token(&token).await, StatusCode::OK).await;
    app.clock.advance(Duration::from_secs(2 * 3600));
    expect_problem(app.action_token(&token).await, StatusCode::GONE, "gone").await;
}

#[tokio::test]
async fn a_resent_activation_link_voids_the_older_one() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let old = app.token_from_email("activation", "pat@acme.test").await;
    let resent = app.send_activation_email(app.admin_token(), &uid).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let new = app.token_from_email("activation", "pat@acme.test").await;
    assert_ne!(old, new);
    expect_problem(app.action_token(&old).await, StatusCode::GONE, "gone").await;
    app.activate("pat@acme.test").await;
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
    let (_, _, tokens) = app.active_member("pat@acme.test").await;
    let first = tokens.refresh_token();
    let rotated = expect_json(app.refresh(&first).await, StatusCode::OK).await;
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    // Replaying the rotated token is theft: the whole family dies.
    let replay = expect_json(app.refresh(&first).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(replay["error"], "invalid_grant");
    let after = expect_json(app.refresh(&second).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(after["error"], "invalid_grant");
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_let_at_most_one_succeed() {
    let app = spawn_app().await;
    let (_, _, tokens) = app.active_member("pat@acme.test").await;
    let refresh = tokens.refresh_token();
    let (a, b) = tokio::join!(app.refresh(&refresh), app.refresh(&refresh));
    let successes = [a.status(), b.status()]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert!(successes <= 1, "{:?} {:?}", a.status(), b.status());
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let app = spawn_app().await;
    let (_, _, tokens) = app.active_member("pat@acme.test").await;
    let revoked = app.revoke(&tokens.refresh_token()).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let body = expect_json(
        app.refresh(&tokens.refresh_token()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let unknown = app.revoke("nope").await;
    assert_eq!(unknown.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_inactivated_users_live_access_token_is_rejected_at_once() {
    let app = spawn_app().await;
    let (_, uid, tokens) = app.active_member("pat@acme.test").await;
    expect_json(app.me(&tokens.access_token()).await, StatusCode::OK).await;
    app.admin_set_status(&uid, "inactive").await;
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
}

#[tokio::test]
async fn a_deleted_users_access_token_is_rejected_at_once() {
    let app = spawn_app().await;
    let (_, uid, tokens) = app.active_member("pat@acme.test").await;
    let deleted = app.delete_user(app.admin_token(), &uid, "").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.me(&tokens.access_token()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn an_access_token_expires_after_fifteen_minutes() {
    let app = spawn_app().await;
    let (_, _, tokens) = app.active_member("pat@acme.test").await;
    app.clock.advance(Duration::from_secs(14 * 60));
    expect_json(app.me(&tokens.access_token()).await, StatusCode::OK).await;
    app.clock.advance(Duration::from_secs(2 * 60));
    expect_problem(
        app.me(&tokens.access_token()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // The refresh token still yields a fresh pair.
    let refreshed = expect_json(app.refresh(&tokens.refresh_token()).await, StatusCode::OK).await;
    expect_json(
        app.get("/v1/me", refreshed["access_token"].as_str()).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn an_api_client_signs_in_with_client_credentials_and_stays_in_its_customer() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let created = expect_json(
        app.create_api_client(
            app.admin_token(),
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
        app.list_api_clients(app.admin_token()).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        listed["items"][0].get("client_secret").is_none(),
        "{listed}"
    );

    let tokens = expect_json(app.client_credentials(id, secret).await, StatusCode::OK).await;
    assert!(tokens.get("refresh_token").is_none());
    let token = tokens["access_token"].as_str().unwrap();
    let added = app
        .add_customer_user(
            token,
            &a,
            &json!({"email": "bot-made@acme.test", "first_name": "Bo", "last_name": "T"}),
        )
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    expect_problem(
        app.list_customer_users(token, &b, "").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(app.me(token).await, StatusCode::FORBIDDEN, "forbidden").await;

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
    let wrong = app.client_credentials(id, "rcs_x").await;
    assert_eq!(header(&wrong, "www-authenticate"), "Basic realm=\"roster\"");
    let wrong = expect_json(wrong, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong["error"], "invalid_client");

    // Revoking the client kills its live token.
    let revoked = app.revoke_api_client(app.admin_token(), id).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.list_customer_users(token, &a, "").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let (_, _, tokens) = app.active_member("pat@acme.test").await;
    expect_problem(
        app.me(&tokens.refresh_token()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

/// The hot reads re-check the caller in the same query as what they read;
/// an ended session is still told so first, whatever it asked for.
#[tokio::test]
async fn an_ended_session_is_401_on_the_hot_reads_even_with_a_malformed_path_or_query() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "admin").await;
    let session = app.activate("pat@acme.test").await.access_token();
    let paths = [
        format!("/v1/users/{uid}"),
        "/v1/users/not-a-uuid".to_string(),
        "/v1/me".to_string(),
        format!("/v1/customers/{cid}/users"),
        "/v1/customers/not-a-uuid/users".to_string(),
        format!("/v1/customers/{cid}/users?limit=zero"),
    ];
    let before: Vec<u16> =
        futures_util::future::join_all(paths.iter().map(|path| app.get(path, Some(&session))))
            .await
            .iter()
            .map(|answer| answer.status().as_u16())
            .collect();
    assert_eq!(before, [200, 404, 200, 200, 404, 422]);
    let inactive = json!({"status": "inactive"});
    let answer = app.set_status(app.admin_token(), &uid, &inactive).await;
    assert_eq!(answer.status(), StatusCode::OK);
    for path in &paths {
        let answer = app.get(path, Some(&session)).await;
        expect_problem(answer, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn a_person_reads_their_own_user_info_by_id_and_an_api_client_reads_its_customers_users() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let session = app.activate("pat@acme.test").await.access_token();
    let own = expect_json(app.get_user(&session, &uid).await, StatusCode::OK).await;
    assert_eq!(own["email"], "pat@acme.test");
    assert_eq!(own["memberships"][0]["customer_id"], cid.as_str());
    let me = expect_json(app.me(&session).await, StatusCode::OK).await;
    assert_eq!(me, own);

    let (client_id, secret) = app.api_client("sync", Some(&cid)).await;
    let client = app.client_token(&client_id, &secret).await;
    let seen = expect_json(app.get_user(&client, &uid).await, StatusCode::OK).await;
    assert_eq!(seen["id"], uid.as_str());
    let list = app
        .get(&format!("/v1/customers/{cid}/users"), Some(&client))
        .await;
    assert_eq!(list.status(), StatusCode::OK);
    expect_problem(app.me(&client).await, StatusCode::FORBIDDEN, "forbidden").await;
}
