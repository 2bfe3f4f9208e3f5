//! Confirmation emails (docs/api.md, "Requester and confirmation") are
//! capped per caller: `ROSTER_CONFIRMATION_EMAILS_PER_HOUR` in any hour, per
//! person or API client, counted in the database so every instance agrees.
//! Beyond it a request that asks for one is 429 and changes nothing.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::helpers::{expect_json, expect_problem, header, spawn_app_with, TestApp, GOOD_PASSWORD};

const CAP: &str = "3";

async fn app_with_a_cap_of_three() -> TestApp {
    spawn_app_with(&[("ROSTER_CONFIRMATION_EMAILS_PER_HOUR", CAP)]).await
}

/// `PATCH /v1/users/{uid}` setting the job title, with a confirmation to `to`.
async fn edit_with_confirmation(
    app: &TestApp,
    token: &str,
    uid: &str,
    title: &str,
    to: &str,
) -> Response {
    let body = json!({"job_title": title, "confirmation_email": to});
    app.update_user(token, uid, &body).await
}

/// Asserts a 429 `confirmation_limit_reached` whose `Retry-After` is a whole
/// number of seconds within the hour; returns it.
async fn expect_capped(response: Response) -> u64 {
    let retry_after = header(&response, "retry-after");
    expect_problem(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "confirmation_limit_reached",
    )
    .await;
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {retry_after:?}"));
    assert!((1..=3600).contains(&seconds), "Retry-After {seconds}");
    seconds
}

#[tokio::test]
async fn a_request_beyond_the_hourly_confirmation_cap_is_429_and_changes_nothing() {
    let app = app_with_a_cap_of_three().await;
    let cid = app.customer("Alpha", None).await;
    let (_, admin) = app
        .invite_and_activate(&cid, "boss@alpha.test", "admin")
        .await;
    let uid = app
        .add_new_user(&cid, "pat@alpha.test", "full_access")
        .await;
    for n in 0..3 {
        let edited = edit_with_confirmation(
            &app,
            &admin,
            &uid,
            &format!("Title {n}"),
            "victim@else.test",
        )
        .await;
        expect_json(edited, StatusCode::OK).await;
    }
    let events_before = app.audit_events(&format!("user_id={uid}")).await.len();
    let capped = edit_with_confirmation(&app, &admin, &uid, "Spam", "victim@else.test").await;
    expect_capped(capped).await;

    assert_eq!(app.user_info(&uid).await["job_title"], "Title 2");
    assert_eq!(
        app.count_emails("action_confirmation", "victim@else.test")
            .await,
        3
    );
    assert_eq!(
        app.audit_events(&format!("user_id={uid}")).await.len(),
        events_before
    );
    // Other admin calls that ask for a confirmation are refused as well…
    let removal = app
        .remove_customer_user(&admin, &cid, &uid, "confirmation_email=victim@else.test")
        .await;
    expect_capped(removal).await;
    assert_eq!(app.customer_ids_of(&uid).await, [cid.as_str()]);
    // …while the same change without one goes through.
    let plain = app
        .update_user(&admin, &uid, &json!({"job_title": "Quiet"}))
        .await;
    expect_json(plain, StatusCode::OK).await;
}

#[tokio::test]
async fn the_cap_is_per_caller_and_frees_up_an_hour_later() {
    let app = app_with_a_cap_of_three().await;
    let cid = app.customer("Alpha", None).await;
    let (_, admin) = app
        .invite_and_activate(&cid, "boss@alpha.test", "admin")
        .await;
    let uid = app
        .add_new_user(&cid, "pat@alpha.test", "full_access")
        .await;
    for n in 0..3 {
        let edited =
            edit_with_confirmation(&app, &admin, &uid, &format!("T{n}"), "me@alpha.test").await;
        expect_json(edited, StatusCode::OK).await;
    }
    let seconds =
        expect_capped(edit_with_confirmation(&app, &admin, &uid, "T3", "me@alpha.test").await)
            .await;
    // Another caller has a budget of their own: the platform admin, and an
    // API client of the customer.
    let by_platform =
        edit_with_confirmation(&app, app.admin_token(), &uid, "P", "ops@ubm.test").await;
    expect_json(by_platform, StatusCode::OK).await;
    let (id, secret) = app.api_client("sync", Some(&cid)).await;
    let client = app.client_token(&id, &secret).await;
    for n in 0..3 {
        let edited =
            edit_with_confirmation(&app, &client, &uid, &format!("C{n}"), "me@alpha.test").await;
        expect_json(edited, StatusCode::OK).await;
    }
    expect_capped(edit_with_confirmation(&app, &client, &uid, "C3", "me@alpha.test").await).await;

    // Once Retry-After has passed, the admin may ask again (signed in anew:
    // their access token has expired meanwhile).
    app.clock.advance(Duration::from_secs(seconds));
    let admin = app
        .sign_in("boss@alpha.test", GOOD_PASSWORD)
        .await
        .access_token();
    let later = edit_with_confirmation(&app, &admin, &uid, "Later", "me@alpha.test").await;
    expect_json(later, StatusCode::OK).await;
}

#[tokio::test]
async fn concurrent_requests_never_send_more_confirmations_than_the_cap() {
    let app = app_with_a_cap_of_three().await;
    let cid = app.customer("Alpha", None).await;
    let (_, admin) = app
        .invite_and_activate(&cid, "boss@alpha.test", "admin")
        .await;
    let mut users = Vec::new();
    for n in 0..8 {
        users.push(
            app.add_new_user(&cid, &format!("u{n}@alpha.test"), "full_access")
                .await,
        );
    }
    // Different users, so nothing but the cap makes the requests wait for
    // one another.
    let requests = users
        .iter()
        .map(|uid| edit_with_confirmation(&app, &admin, uid, "Burst", "burst@else.test"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|response| response.status())
        .collect();
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let capped = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, capped), (3, 5), "{statuses:?}");
    assert_eq!(
        app.count_emails("action_confirmation", "burst@else.test")
            .await,
        3
    );
}

#[test]
fn the_cap_is_bounded_at_start() {
    for bad in ["0", "10001", "many"] {
        let err =
            roster::config::Settings::from_pairs(&[("ROSTER_CONFIRMATION_EMAILS_PER_HOUR", bad)])
                .expect_err(bad);
        assert_eq!(err.variable, "ROSTER_CONFIRMATION_EMAILS_PER_HOUR");
    }
}
