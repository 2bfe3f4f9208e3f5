//! API clients (docs/api.md, "API clients"): a client made through the API
//! holds no more than its creator's rights. It stops working (its grant is
//! `invalid_client`, its live tokens 401) as soon as the person who made it
//! could no longer make it, and its list entry says so; clients made with
//! the command line are the platform's.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, expect_problem, id_of, items, spawn_app, TestApp};

/// A client of `cid` made with `token`; (id, secret).
async fn client_made_by(app: &TestApp, token: &str, cid: &str, name: &str) -> (String, String) {
    let body = json!({"name": name, "customer_id": cid});
    let created = expect_json(
        app.create_api_client(token, &body).await,
        StatusCode::CREATED,
    )
    .await;
    (
        id_of(&created),
        created["client_secret"].as_str().unwrap().to_string(),
    )
}

/// Whether the client still gets a token, and whether `token` (one of its
/// access tokens) is still accepted on the customer's user list.
async fn still_works(app: &TestApp, id: &str, secret: &str, token: &str, cid: &str) -> bool {
    let grant = app.client_credentials(id, secret).await;
    let granted = match grant.status() {
        StatusCode::OK => true,
        status => {
            let body = expect_json(grant, status).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(body["error"], "invalid_client", "{body}");
            false
        }
    };
    let used = app.list_customer_users(token, cid, "").await;
    let accepted = match used.status() {
        StatusCode::OK => true,
        _ => {
            expect_problem(used, StatusCode::UNAUTHORIZED, "unauthorized").await;
            false
        }
    };
    assert_eq!(granted, accepted, "the grant and the live token disagree");
    granted
}

/// The platform admin's list entry of client `id`.
async fn listed(app: &TestApp, id: &str) -> Value {
    let page = expect_json(
        app.list_api_clients(app.admin_token()).await,
        StatusCode::OK,
    )
    .await;
    items(&page)
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not listed: {page}"))
}

#[derive(Clone, Copy, Debug)]
enum Loss {
    RemovedFromTheCustomer,
    NoLongerAdmin,
    Inactivated,
    Retired,
    Deleted,
}

async fn take_the_right_away(app: &TestApp, loss: Loss, cid: &str, uid: &str) {
    let platform = app.admin_token();
    let status = match loss {
        Loss::RemovedFromTheCustomer => app.remove_customer_user(platform, cid, uid, "").await,
        Loss::NoLongerAdmin => {
            let body = json!({"role": "full_access"});
            app.update_customer_user(platform, cid, uid, &body).await
        }
        Loss::Inactivated => {
            app.set_status(platform, uid, &json!({"status": "inactive"}))
                .await
        }
        Loss::Retired => {
            app.set_status(platform, uid, &json!({"status": "retired"}))
                .await
        }
        Loss::Deleted => app.delete_user(platform, uid, "").await,
    }
    .status();
    assert!(status.is_success(), "{loss:?}: {status}");
}

#[tokio::test]
async fn a_customer_admins_client_stops_as_soon_as_the_admin_loses_the_right_to_make_it() {
    let app = spawn_app().await;
    for (n, loss) in [
        Loss::RemovedFromTheCustomer,
        Loss::NoLongerAdmin,
        Loss::Inactivated,
        Loss::Retired,
        Loss::Deleted,
    ]
    .into_iter()
    .enumerate()
    {
        let cid = app.customer(&format!("Customer {n}"), None).await;
        let (uid, admin) = app
            .invite_and_activate(&cid, &format!("boss@c{n}.test"), "admin")
            .await;
        let (id, secret) = client_made_by(&app, &admin, &cid, "nightly sync").await;
        let token = app.client_token(&id, &secret).await;
        assert!(
            still_works(&app, &id, &secret, &token, &cid).await,
            "{loss:?}"
        );
        assert_eq!(listed(&app, &id).await["suspended"], false, "{loss:?}");

        take_the_right_away(&app, loss, &cid, &uid).await;
        assert!(
            !still_works(&app, &id, &secret, &token, &cid).await,
            "{loss:?}: the client outlived its creator's right"
        );
        let entry = listed(&app, &id).await;
        assert_eq!(entry["suspended"], true, "{loss:?}: {entry}");
        assert_eq!(entry["created_by_user_id"], uid.as_str(), "{loss:?}");
    }
}

#[tokio::test]
async fn a_customer_admins_client_stops_when_the_admin_expires_from_dormancy() {
    let app = spawn_app().await;
    let cid = app.customer("Dormant", None).await;
    let (_, admin) = app
        .invite_and_activate(&cid, "boss@dormant.test", "admin")
        .await;
    let (id, secret) = client_made_by(&app, &admin, &cid, "nightly sync").await;
    app.client_token(&id, &secret).await;
    // The script keeps running; its creator never signs in again.
    app.clock.advance(Duration::from_secs(91 * 86_400));
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    let refused = expect_json(
        app.client_credentials(&id, &secret).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(refused["error"], "invalid_client");
}

#[tokio::test]
async fn a_suspended_client_works_again_once_its_creator_is_an_admin_again() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, admin) = app
        .invite_and_activate(&cid, "boss@alpha.test", "admin")
        .await;
    let (id, secret) = client_made_by(&app, &admin, &cid, "nightly sync").await;
    let token = app.client_token(&id, &secret).await;
    take_the_right_away(&app, Loss::NoLongerAdmin, &cid, &uid).await;
    assert!(!still_works(&app, &id, &secret, &token, &cid).await);
    let back = json!({"role": "admin"});
    expect_json(
        app.update_customer_user(app.admin_token(), &cid, &uid, &back)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(still_works(&app, &id, &secret, &token, &cid).await);
}

#[tokio::test]
async fn a_client_made_by_another_client_falls_with_the_person_at_the_root() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, admin) = app
        .invite_and_activate(&cid, "boss@alpha.test", "admin")
        .await;
    let (first, first_secret) = client_made_by(&app, &admin, &cid, "first").await;
    let first_token = app.client_token(&first, &first_secret).await;
    let (second, second_secret) = client_made_by(&app, &first_token, &cid, "second").await;
    let second_token = app.client_token(&second, &second_secret).await;
    let entry = listed(&app, &second).await;
    assert_eq!(entry["created_by_client_id"], first.as_str(), "{entry}");
    assert!(entry["created_by_user_id"].is_null(), "{entry}");

    take_the_right_away(&app, Loss::NoLongerAdmin, &cid, &uid).await;
    assert!(!still_works(&app, &first, &first_secret, &first_token, &cid).await);
    assert!(
        !still_works(&app, &second, &second_secret, &second_token, &cid).await,
        "a client made by a suspended client kept its rights"
    );
    assert_eq!(listed(&app, &second).await["suspended"], true);
}

#[tokio::test]
async fn a_client_made_by_a_revoked_client_stops_too() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (first, first_secret) = app.api_client("first", Some(&cid)).await;
    let first_token = app.client_token(&first, &first_secret).await;
    let (second, second_secret) = client_made_by(&app, &first_token, &cid, "second").await;
    let second_token = app.client_token(&second, &second_secret).await;
    let revoked = app.revoke_api_client(app.admin_token(), &first).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert!(!still_works(&app, &second, &second_secret, &second_token, &cid).await);
}

#[tokio::test]
async fn a_platform_admins_client_stops_when_that_admin_is_inactivated() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let other = app.another_platform_admin("ops@platform.test").await;
    let ops = app.my_id(&other).await;
    let created = expect_json(
        app.create_api_client(&other, &json!({"name": "ops scripts"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let (id, secret) = (
        id_of(&created),
        created["client_secret"].as_str().unwrap().to_string(),
    );
    let token = app.client_token(&id, &secret).await;
    assert!(still_works(&app, &id, &secret, &token, &cid).await);
    take_the_right_away(&app, Loss::Inactivated, &cid, &ops).await;
    assert!(!still_works(&app, &id, &secret, &token, &cid).await);
}

#[tokio::test]
async fn a_client_made_with_the_command_line_is_the_platforms_and_outlives_every_admin() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, _) = app
        .invite_and_activate(&cid, "boss@alpha.test", "admin")
        .await;
    // What `roster admin api-client create --customer` does.
    let operator = roster::domain::permissions::Actor {
        kind: roster::domain::permissions::ActorKind::Client { id: "cli".into() },
        platform_admin: true,
        member_of: Default::default(),
        admin_of: Default::default(),
    };
    let (client, secret) = roster::service::api_clients::create(
        &app.state,
        &operator,
        roster::service::audit::AuditContext::system(),
        "made on the command line".into(),
        Some(cid.clone()),
    )
    .await
    .unwrap();
    let token = app.client_token(&client.id, secret.expose()).await;
    take_the_right_away(&app, Loss::Deleted, &cid, &uid).await;
    assert!(still_works(&app, &client.id, secret.expose(), &token, &cid).await);
    let entry = listed(&app, &client.id).await;
    assert_eq!(entry["suspended"], false, "{entry}");
    assert!(entry["created_by_user_id"].is_null(), "{entry}");
    assert!(entry["created_by_client_id"].is_null(), "{entry}");
}

#[tokio::test]
async fn a_customer_admin_sees_their_suspended_clients_in_the_list() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, admin) = app
        .invite_and_activate(&cid, "boss@alpha.test", "admin")
        .await;
    let (_, colleague) = app
        .invite_and_activate(&cid, "deputy@alpha.test", "admin")
        .await;
    let (id, _) = client_made_by(&app, &admin, &cid, "nightly sync").await;
    take_the_right_away(&app, Loss::Retired, &cid, &uid).await;
    let page = expect_json(app.list_api_clients(&colleague).await, StatusCode::OK).await;
    let entry = items(&page)
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{page}"));
    assert_eq!(entry["suspended"], true, "{entry}");
    assert_eq!(entry["created_by_user_id"], uid.as_str(), "{entry}");
    // A colleague may still revoke it for good.
    let revoked = app.revoke_api_client(&colleague, &id).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
}
