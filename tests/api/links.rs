//! Emailed links and the emails that carry them (docs/security.md, "Links
//! and emails"): forgot-password is stored before it is answered and the
//! delivery worker resolves it, link emails are rate-limited per account,
//! links die with the account's standing, and an admin's email change
//! moves the account without leaving a way in.

use std::sync::Arc;
use std::time::Duration;

use diesel::{Connection, ExpressionMethods, QueryDsl, RunQueryDsl, SelectableHelper};
use reqwest::StatusCode;
use roster::db::outbox::OutboxRow;
use roster::db::schema::email_outbox;
use roster::email::providers::Mailer;
use roster::email::worker::{DeliveryWorker, Resolve};

use crate::helpers::{expect_json, expect_problem, header, spawn_app, spawn_app_with, TestApp};

const MINUTE: Duration = Duration::from_secs(60);

/// Whether the link's token still works (`GET /v1/auth/action-tokens/…`).
async fn link_status(app: &TestApp, token: &str) -> StatusCode {
    app.action_token(token).await.status()
}

#[tokio::test]
async fn forgot_password_stores_one_request_whoever_asks_and_the_worker_resolves_it() {
    let app = spawn_app().await;
    let (cid, _, _) = app.active_member("pat@acme.test").await;
    app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let gone = app
        .add_new_user(&cid, "gone@acme.test", "full_access")
        .await;
    app.admin_set_status(&gone, "inactive").await;
    // Past the invitation's cooldown, so the invited user may get a new link.
    app.clock.advance(2 * MINUTE);

    let mut answers = Vec::new();
    for address in [
        "ghost@acme.test",
        "PAT@acme.test",
        "new@acme.test",
        "gone@acme.test",
    ] {
        let before = app.pending_outbox_rows().await;
        let response = app.forgot_password(address).await;
        answers.push(expect_json(response, StatusCode::ACCEPTED).await);
        assert_eq!(
            app.pending_outbox_rows().await,
            before + 1,
            "{address}: one stored request, whether or not it has an account"
        );
    }
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "{answers:?}"
    );
    // Nothing is decided in the request: no link exists yet.
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 0);

    app.resolve_requests().await;
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 1);
    assert_eq!(app.count_emails("activation", "new@acme.test").await, 2);
    assert_eq!(
        app.outbox_rows_to("gone@acme.test").await,
        2,
        "only the invitation and the deactivation notice"
    );
    // The requests are gone once resolved, and with them the addresses.
    assert_eq!(app.outbox_rows_to("ghost@acme.test").await, 0);
    let reset = app
        .token_from_email("password_reset", "pat@acme.test")
        .await;
    assert_eq!(link_status(&app, &reset).await, StatusCode::OK);
}

#[tokio::test]
async fn a_forgot_password_the_database_cannot_store_is_refused_rather_than_lost() {
    let app = spawn_app_with(&[("ROSTER_DATABASE_BUSY_TIMEOUT", "300ms")]).await;
    app.active_member("pat@acme.test").await;
    // The database stops taking writes: SQLite is held by another writer,
    // PostgreSQL refuses connections and drops the app's.
    let blocker = match app.db.name().map(str::to_string) {
        Some(name) => {
            app.db
                .admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
            app.db.admin_sql(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ));
            None
        }
        None => {
            let mut blocker = diesel::SqliteConnection::establish(&app.db.url).unwrap();
            diesel::sql_query("BEGIN EXCLUSIVE")
                .execute(&mut blocker)
                .unwrap();
            Some(blocker)
        }
    };
    let response = app.forgot_password("pat@acme.test").await;
    assert_eq!(header(&response, "retry-after"), "2");
    expect_problem(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;

    match (blocker, app.db.name()) {
        (Some(mut blocker), _) => {
            diesel::sql_query("ROLLBACK").execute(&mut blocker).unwrap();
        }
        (None, Some(name)) => app
            .db
            .admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")),
        (None, None) => unreachable!("one backend or the other"),
    }
    // Asked again once the database is back, the request is taken and kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let response = app.forgot_password("pat@acme.test").await;
        if response.status() == StatusCode::ACCEPTED {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.resolve_requests().await;
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 1);
}

#[tokio::test]
async fn a_request_the_worker_cannot_resolve_is_retried_and_then_dropped_with_its_address() {
    let app = spawn_app_with(&[("ROSTER_MAIL_MAX_ATTEMPTS", "2")]).await;
    app.forgot_password("pat@acme.test").await;
    let failing: Resolve = Arc::new(|row: OutboxRow| {
        Box::pin(async move { Err(format!("cannot look up {}", row.recipient).into()) })
    });
    let settings = app.state.settings.mail.clone();
    let worker = DeliveryWorker::new(
        app.state.db.clone(),
        Mailer::new(&settings),
        settings,
        app.clock.clone(),
        failing,
    );
    assert_eq!(worker.resolve_requests_once().await, 1);
    let rows = app
        .state
        .read(|conn, _| {
            Ok(email_outbox::table
                .filter(email_outbox::recipient.eq("pat@acme.test"))
                .select(OutboxRow::as_select())
                .load(conn)?)
        })
        .await
        .unwrap();
    let [row] = rows.as_slice() else {
        panic!("one request stays for a retry: {rows:?}");
    };
    assert_eq!(row.attempts, 1);
    assert_eq!(row.status.as_str(), "pending");
    assert_eq!(row.lease_owner, None);
    assert_eq!(
        row.last_error.as_deref(),
        Some("cannot look up p***@acme.test")
    );

    // Past its backoff it is tried again; at the attempt limit it goes.
    app.clock.advance(MINUTE);
    assert_eq!(worker.resolve_requests_once().await, 1);
    assert_eq!(app.outbox_rows_to("pat@acme.test").await, 0);
}

#[tokio::test]
async fn a_flood_of_forgot_password_requests_sends_one_email_and_keeps_its_link_working() {
    let app = spawn_app().await;
    let (cid, _, _) = app.active_member("pat@acme.test").await;
    for _ in 0..10 {
        let response = app.forgot_password("pat@acme.test").await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    app.resolve_requests().await;
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 1);
    let first = app
        .token_from_email("password_reset", "pat@acme.test")
        .await;
    assert_eq!(link_status(&app, &first).await, StatusCode::OK);

    // Still inside the minute: answered as usual, nothing sent, link alive.
    app.clock.advance(Duration::from_secs(50));
    app.forgot_password("pat@acme.test").await;
    app.resolve_requests().await;
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 1);
    assert_eq!(link_status(&app, &first).await, StatusCode::OK);

    // After it, one more email, whose link replaces the first.
    app.clock.advance(Duration::from_secs(11));
    app.forgot_password("pat@acme.test").await;
    app.resolve_requests().await;
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 2);
    let second = app
        .token_from_email("password_reset", "pat@acme.test")
        .await;
    assert_eq!(link_status(&app, &second).await, StatusCode::OK);
    assert_eq!(link_status(&app, &first).await, StatusCode::GONE);

    // The activation re-send of an invited user is held the same way: the
    // invitation itself starts the minute.
    app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let invitation = app.token_from_email("activation", "new@acme.test").await;
    for _ in 0..5 {
        app.forgot_password("new@acme.test").await;
    }
    app.resolve_requests().await;
    assert_eq!(app.count_emails("activation", "new@acme.test").await, 1);
    assert_eq!(link_status(&app, &invitation).await, StatusCode::OK);
}

#[tokio::test]
async fn the_reset_email_cooldown_follows_its_setting() {
    let app = spawn_app_with(&[("ROSTER_RESET_EMAIL_COOLDOWN", "10m")]).await;
    app.active_member("pat@acme.test").await;
    app.forgot_password("pat@acme.test").await;
    app.resolve_requests().await;
    app.clock.advance(5 * MINUTE);
    app.forgot_password("pat@acme.test").await;
    app.resolve_requests().await;
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 1);
    app.clock.advance(6 * MINUTE);
    app.forgot_password("pat@acme.test").await;
    app.resolve_requests().await;
    assert_eq!(app.count_emails("password_reset", "pat@acme.test").await, 2);
}
