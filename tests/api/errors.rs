//! Every bad request is a problem+json 4xx that names the problem.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_problem, header, spawn_app};

#[tokio::test]
async fn an_unknown_route_is_a_404_problem_that_says_no_such_route_exists() {
    let app = spawn_app().await;
    let problem = expect_problem(
        app.get("/v1/nothing-here", None).await,
        StatusCode::NOT_FOUND,
        "route_not_found",
    )
    .await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("No route exists"), "{detail}");
    assert!(!detail.contains("visible to you"), "{detail}");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let response = app
        .request(Method::PUT, "/v1/me", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    expect_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/v1/auth/forgot-password", None)
        .header("Content-Type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST, "malformed_request").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/v1/auth/forgot-password", None)
        .header("Content-Type", "text/plain")
        .body("email=a@b.com")
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413_problem() {
    let app = spawn_app().await;
    let huge = json!({"email": "x".repeat(70 * 1024)});
    let response = app.post_json("/v1/auth/forgot-password", None, &huge).await;
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn a_wrong_type_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let response = app
        .post_json("/v1/auth/forgot-password", None, &json!({"email": 42}))
        .await;
    let body = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn an_unknown_field_is_a_422_naming_it() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/v1/auth/forgot-password",
            None,
            &json!({"email": "a@b.com", "status": "active"}),
        )
        .await;
    let body = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("status"),
        "{body}"
    );
}

#[tokio::test]
async fn a_missing_token_is_a_401_problem() {
    let app = spawn_app().await;
    let response = app.get("/v1/me", None).await;
    assert!(response.headers().contains_key("www-authenticate"));
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_malformed_if_match_is_a_422_naming_the_header_and_a_weak_one_never_matches() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let etag = header(&app.get_customer(app.admin_token(), &cid).await, "etag");
    let rename = json!({"name": "Acme Two"});
    let patch = |if_match: String| {
        let (app, cid, rename) = (&app, &cid, &rename);
        async move {
            app.update_customer_if_match(app.admin_token(), cid, &if_match, rename)
                .await
        }
    };
    for malformed in ["0", "null", "\"7", "\"a b\""] {
        let problem = expect_problem(
            patch(malformed.to_string()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "If-Match", "{malformed}");
    }
    for never in [
        format!("W/{etag}"),
        "\"+1\"".to_string(),
        "\"x\"".to_string(),
    ] {
        expect_problem(
            patch(never.clone()).await,
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
        )
        .await;
    }
    assert_eq!(patch(etag).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revocation_without_a_token_is_invalid_request_and_any_token_is_200() {
    let app = spawn_app().await;
    let revoke = |content_type: Option<&'static str>, body: &'static str| {
        let mut request = app.request(Method::POST, "/v1/auth/revoke", None);
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        request.body(body).send()
    };
    for (content_type, body) in [
        (None, ""),
        (
            Some("application/x-www-form-urlencoded"),
            "token_type_hint=refresh_token",
        ),
        (Some("application/x-www-form-urlencoded"), "token="),
        (Some("application/json"), "{}"),
        (Some("application/json"), "[1]"),
    ] {
        let response = revoke(content_type, body).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(answer["error"], "invalid_request", "{body}");
    }
    expect_problem(
        revoke(Some("text/plain"), "token=x").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "token=never-issued"),
        ("application/json", "{\"token\": \"never-issued\"}"),
    ] {
        let status = revoke(Some(content_type), body).await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn a_missing_resource_is_404_whatever_if_match_says() {
    let app = spawn_app().await;
    let missing = uuid::Uuid::now_v7().to_string();
    let admin = app.admin_token();
    for if_match in ["W/\"x\"", "\"x\"", "\"1\""] {
        for response in [
            app.update_user_if_match(admin, "not-a-uuid", if_match, &json!({}))
                .await,
            app.update_user_if_match(admin, &missing, if_match, &json!({}))
                .await,
            app.update_customer_if_match(admin, &missing, if_match, &json!({}))
                .await,
        ] {
            expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
        }
    }
}
