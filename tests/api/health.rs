use reqwest::StatusCode;

use crate::helpers::{expect_json, spawn_app};

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;
    let live = expect_json(app.get("/healthz", None).await, StatusCode::OK).await;
    assert_eq!(live["status"], "ok");
    let ready = expect_json(app.get("/readyz", None).await, StatusCode::OK).await;
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn every_response_echoes_a_request_id() {
    let app = spawn_app().await;
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-abc-123");
    let generated = app.get("/nowhere", None).await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn a_request_id_with_line_breaks_is_replaced() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "evil value with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "evil value with spaces");
}

#[tokio::test]
async fn the_contract_and_swagger_ui_are_served() {
    let app = spawn_app().await;
    let doc = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert_eq!(doc["info"]["title"], "roster");
    let redirect = app.get("/docs", None).await;
    assert_eq!(redirect.status(), StatusCode::MOVED_PERMANENTLY);
    let ui = app.get("/docs/", None).await;
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(ui.text().await.unwrap().contains("swagger"));
}
