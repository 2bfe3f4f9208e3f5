//! A database that goes away gives a quick 503, and the service recovers by itself.

use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl};
use reqwest::StatusCode;

use crate::helpers::{expect_json, expect_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_database_that_goes_away_gives_a_quick_503_and_comes_back() {
    let app = spawn_app().await;
    let Some(name) = app.db.name().map(str::to_string) else {
        return sqlite_lock_gives_503().await;
    };
    app.db
        .admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    app.db.admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let started = Instant::now();
    let response = app.get("/v1/me", Some(app.admin_token())).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(response.headers()["retry-after"], "2");
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    expect_problem(
        app.get("/readyz", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    expect_json(app.get("/healthz", None).await, StatusCode::OK).await;

    app.db
        .admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = app.get("/readyz", None).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    expect_json(
        app.get("/v1/me", Some(app.admin_token())).await,
        StatusCode::OK,
    )
    .await;
}

/// SQLite cannot go away, but a writer can hold the lock too long: that is a 503 too.
async fn sqlite_lock_gives_503() {
    let app = spawn_app_with(&[("ROSTER_DATABASE_BUSY_TIMEOUT", "300ms")]).await;
    let mut blocker = diesel::SqliteConnection::establish(&app.db.url).unwrap();
    diesel::sql_query("BEGIN EXCLUSIVE")
        .execute(&mut blocker)
        .unwrap();
    let response = app
        .password_grant(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    diesel::sql_query("ROLLBACK").execute(&mut blocker).unwrap();
    app.sign_in(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
}

#[tokio::test]
async fn a_wrong_database_password_stops_start_up_with_the_real_message() {
    let settings = roster::config::Settings::from_pairs(&[
        (
            "ROSTER_DATABASE_URL",
            "postgres://nobody:wrong@127.0.0.1:5432/nothing_here",
        ),
        ("ROSTER_BIND", "127.0.0.1:0"),
    ])
    .unwrap();
    let started = Instant::now();
    let Err(err) = roster::startup::Application::build(settings).await else {
        panic!("start-up should fail");
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let message = err.to_string();
    assert!(
        message.contains("cannot connect to the database"),
        "{message}"
    );
    assert!(
        message.contains("nobody")
            || message.contains("nothing_here")
            || message.contains("password"),
        "{message}"
    );
}
