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
use serde_json::json;

use crate::helpers::{
    expect_json, expect_problem, header, link_token, spawn_app, spawn_app_with, TestApp,
    ADMIN_EMAIL, ADMIN_PASSWORD, GOOD_PASSWORD,
};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// Whether the link's token still works (`GET /v1/auth/action-tokens/…`).
async fn link_status(app: &TestApp, token: &str) -> StatusCode {
    app.action_token(token).await.status()
}

/// A reset link sent by the platform admin; its token.
async fn reset_link(app: &TestApp, uid: &str, email: &str) -> String {
    let sent = app.send_password_reset_email(app.admin_token(), uid).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    app.token_from_email("password_reset", email).await
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

#[tokio::test]
async fn links_die_with_inactivation_and_retirement_and_reactivation_does_not_revive_them() {
    let app = spawn_app().await;
    let (cid, uid, _) = app.active_member("pat@acme.test").await;

    let before_inactivation = reset_link(&app, &uid, "pat@acme.test").await;
    app.admin_set_status(&uid, "inactive").await;
    assert_eq!(
        link_status(&app, &before_inactivation).await,
        StatusCode::GONE
    );
    app.admin_set_status(&uid, "active").await;
    assert_eq!(
        link_status(&app, &before_inactivation).await,
        StatusCode::GONE
    );
    let refused = app
        .reset_password(&before_inactivation, "a brand new passphrase")
        .await;
    expect_problem(refused, StatusCode::GONE, "gone").await;

    let before_retirement = reset_link(&app, &uid, "pat@acme.test").await;
    app.admin_set_status(&uid, "retired").await;
    assert_eq!(
        link_status(&app, &before_retirement).await,
        StatusCode::GONE
    );
    app.admin_set_status(&uid, "active").await;
    assert_eq!(
        link_status(&app, &before_retirement).await,
        StatusCode::GONE
    );

    // An invited user brought back is invited again with a new link only.
    let invited = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let invitation = app.token_from_email("activation", "new@acme.test").await;
    app.admin_set_status(&invited, "inactive").await;
    assert_eq!(link_status(&app, &invitation).await, StatusCode::GONE);
    app.admin_set_status(&invited, "active").await;
    assert_eq!(link_status(&app, &invitation).await, StatusCode::GONE);
    let fresh = app.token_from_email("activation", "new@acme.test").await;
    assert_ne!(fresh, invitation);
    assert_eq!(link_status(&app, &fresh).await, StatusCode::OK);

    // Deleting the user takes every link with them.
    let delete = app.delete_user(app.admin_token(), &invited, "").await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.action_token(&fresh).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_dormant_account_loses_its_links_when_it_expires() {
    let app = spawn_app_with(&[("ROSTER_ACTION_TOKEN_TTL", "1y")]).await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    let link = reset_link(&app, &uid, "pat@acme.test").await;
    app.clock.advance(91 * DAY);
    let admin = app
        .sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .access_token();
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    let expired = expect_json(app.get_user(&admin, &uid).await, StatusCode::OK).await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(link_status(&app, &link).await, StatusCode::GONE);
    let back = app
        .set_status(&admin, &uid, &json!({"status": "active"}))
        .await;
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(link_status(&app, &link).await, StatusCode::GONE);
}

#[tokio::test]
async fn an_email_change_kills_the_links_and_tells_the_old_address() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    let link = reset_link(&app, &uid, "pat@acme.test").await;
    let response = app
        .update_user(
            app.admin_token(),
            &uid,
            &json!({"email": "pat.lee@elsewhere.test"}),
        )
        .await;
    let info = expect_json(response, StatusCode::OK).await;
    assert_eq!(info["email"], "pat.lee@elsewhere.test");
    assert_eq!(link_status(&app, &link).await, StatusCode::GONE);

    // The old address hears about it, without learning the whole new one.
    let notice = app.last_email("email_changed", "pat@acme.test").await;
    assert!(
        notice.text_body.contains("p***@elsewhere.test"),
        "{}",
        notice.text_body
    );
    assert!(!notice.text_body.contains("pat.lee@elsewhere.test"));
    assert_eq!(app.outbox_rows_to("pat.lee@elsewhere.test").await, 0);
    let events = app
        .audit_events(&format!("action=user.updated&user_id={uid}"))
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["changes"]["email"],
        json!({"before": "pat@acme.test", "after": "pat.lee@elsewhere.test"})
    );
    app.sign_in("pat.lee@elsewhere.test", GOOD_PASSWORD).await;

    // A change of case is the same mailbox: no notice, links stay.
    let link = reset_link(&app, &uid, "pat.lee@elsewhere.test").await;
    let response = app
        .update_user(
            app.admin_token(),
            &uid,
            &json!({"email": "Pat.Lee@elsewhere.test"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.count_emails("email_changed", "pat.lee@elsewhere.test")
            .await,
        0
    );
    assert_eq!(link_status(&app, &link).await, StatusCode::OK);
}

#[tokio::test]
async fn an_invited_user_whose_email_changes_is_invited_again_at_the_new_address() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app
        .add_new_user(&cid, "typo@acme.tset", "full_access")
        .await;
    let invitation = app.token_from_email("activation", "typo@acme.tset").await;
    let response = app
        .update_user(app.admin_token(), &uid, &json!({"email": "pat@acme.test"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(link_status(&app, &invitation).await, StatusCode::GONE);
    assert_eq!(app.count_emails("email_changed", "typo@acme.tset").await, 0);
    let fresh = app.last_email("activation", "pat@acme.test").await;
    let token = link_token(&fresh.text_body).expect("a link");
    let activated = app.activate_account(&token, GOOD_PASSWORD).await;
    assert_eq!(activated.status(), StatusCode::OK);
}
