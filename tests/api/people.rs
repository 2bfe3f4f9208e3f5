//! Small scenario helpers for the lifecycle and token tests: a customer,
//! an invited user, an activated user.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, TestApp, Tokens, GOOD_PASSWORD};

pub async fn customer(app: &TestApp, name: &str, seats: Option<i32>) -> String {
    let body = expect_json(
        app.post_json(
            "/v1/customers",
            Some(app.admin_token()),
            &json!({"name": name, "licensed_seats": seats}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    body["id"].as_str().unwrap().to_string()
}

/// Adds a new person to the customer as `role`; returns the user id.
pub async fn invite(app: &TestApp, customer_id: &str, email: &str, role: &str) -> String {
    let body = expect_json(
        app.post_json(
            &format!("/v1/customers/{customer_id}/users"),
            Some(app.admin_token()),
            &json!({"email": email, "first_name": "Pat", "last_name": "Lee", "role": role}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    body["id"].as_str().unwrap().to_string()
}

/// Redeems the newest activation email of `email` with [`GOOD_PASSWORD`].
pub async fn activate(app: &TestApp, email: &str) -> Tokens {
    let token = app.token_from_email("activation", email).await;
    Tokens(
        expect_json(
            app.post_json(
                "/v1/auth/activate",
                None,
                &json!({"token": token, "password": GOOD_PASSWORD}),
            )
            .await,
            StatusCode::OK,
        )
        .await,
    )
}

/// A customer with one active member; returns (customer id, user id, tokens).
pub async fn active_member(app: &TestApp, email: &str) -> (String, String, Tokens) {
    let customer_id = customer(app, "Acme", None).await;
    let user_id = invite(app, &customer_id, email, "full_access").await;
    let tokens = activate(app, email).await;
    (customer_id, user_id, tokens)
}

pub async fn set_status(app: &TestApp, user_id: &str, status: &str) -> Value {
    expect_json(
        app.send_json(
            reqwest::Method::PUT,
            &format!("/v1/users/{user_id}/status"),
            Some(app.admin_token()),
            &json!({"status": status}),
        )
        .await,
        StatusCode::OK,
    )
    .await
}

/// The user's stored failed-sign-in counter.
pub async fn failed_logins(app: &TestApp, user_id: &str) -> i32 {
    let id = user_id.to_string();
    app.state
        .db
        .run(move |conn| Ok(roster::db::users::find(conn, &id)?.unwrap().failed_logins))
        .await
        .unwrap()
}
