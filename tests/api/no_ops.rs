//! Admin actions that change nothing do nothing (docs/api.md, "Requester and
//! confirmation"): 200 with the unchanged resource and its ETag, no audit
//! event and no email, so a `confirmation_email` cannot turn roster into a
//! relay that mails any address on demand.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, header, spawn_app, TestApp};

const VICTIM: &str = "victim@elsewhere.test";

/// The whole audit log, as the platform admin sees it.
async fn audit_count(app: &TestApp) -> usize {
    app.audit_events("limit=200").await.len()
}

/// Asserts a 200 whose ETag is `etag`; returns the body.
async fn unchanged(response: reqwest::Response, etag: &str) -> Value {
    assert_eq!(header(&response, "etag"), etag);
    expect_json(response, StatusCode::OK).await
}

#[tokio::test]
async fn a_no_op_profile_edit_with_a_confirmation_address_records_and_sends_nothing() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    let read = app.get_user(app.admin_token(), &uid).await;
    let etag = header(&read, "etag");
    let info = expect_json(read, StatusCode::OK).await;
    let (events, emails) = (audit_count(&app).await, app.outbox().await.len());

    for body in [
        json!({"confirmation_email": VICTIM}),
        json!({"first_name": "Pat", "last_name": "Lee", "job_title": null,
               "email": "pat@acme.test", "requester_name": "Mallory",
               "confirmation_email": VICTIM}),
    ] {
        let response = app.update_user(app.admin_token(), &uid, &body).await;
        assert_eq!(unchanged(response, &etag).await, info, "{body}");
    }
    assert_eq!(audit_count(&app).await, events);
    assert_eq!(app.outbox().await.len(), emails);
    assert_eq!(app.outbox_rows_to(VICTIM).await, 0);

    // A real edit still records and confirms.
    let body = json!({"job_title": "Controller", "confirmation_email": VICTIM});
    let response = app.update_user(app.admin_token(), &uid, &body).await;
    assert_ne!(header(&response, "etag"), etag);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(audit_count(&app).await, events + 1);
    assert_eq!(app.count_emails("action_confirmation", VICTIM).await, 1);
}

#[tokio::test]
async fn a_no_op_membership_or_customer_edit_records_and_sends_nothing() {
    let app = spawn_app().await;
    let (cid, uid, _) = app.active_member("pat@acme.test").await;
    let customer = app.get_customer(app.admin_token(), &cid).await;
    let etag = header(&customer, "etag");
    let customer = expect_json(customer, StatusCode::OK).await;
    let settings = json!({"menu": "billing", "chat_tag": false});
    let body = json!({"role": "admin", "settings": settings});
    let set = app
        .update_customer_user(app.admin_token(), &cid, &uid, &body)
        .await;
    let membership = expect_json(set, StatusCode::OK).await;
    let (events, emails) = (audit_count(&app).await, app.outbox().await.len());

    // The same settings written in another order are the same settings.
    let body = json!({"role": "admin", "settings": {"chat_tag": false, "menu": "billing"},
                      "confirmation_email": VICTIM});
    let same = app
        .update_customer_user(app.admin_token(), &cid, &uid, &body)
        .await;
    assert_eq!(expect_json(same, StatusCode::OK).await, membership);
    let body = json!({"confirmation_email": VICTIM});
    let empty = app
        .update_customer_user(app.admin_token(), &cid, &uid, &body)
        .await;
    assert_eq!(expect_json(empty, StatusCode::OK).await, membership);

    for body in [
        json!({"name": "Acme", "licensed_seats": null, "confirmation_email": VICTIM}),
        json!({"confirmation_email": VICTIM}),
    ] {
        let response = app.update_customer(app.admin_token(), &cid, &body).await;
        assert_eq!(unchanged(response, &etag).await, customer, "{body}");
    }

    assert_eq!(audit_count(&app).await, events);
    assert_eq!(app.outbox().await.len(), emails);
    assert_eq!(app.outbox_rows_to(VICTIM).await, 0);
}

#[tokio::test]
async fn a_no_op_status_change_or_unlock_records_and_sends_nothing() {
    let app = spawn_app().await;
    let (_, uid, _) = app.active_member("pat@acme.test").await;
    let read = app.get_user(app.admin_token(), &uid).await;
    let etag = header(&read, "etag");
    let info = expect_json(read, StatusCode::OK).await;
    let (events, emails) = (audit_count(&app).await, app.outbox().await.len());

    let body = json!({"status": "active", "confirmation_email": VICTIM});
    let response = app.set_status(app.admin_token(), &uid, &body).await;
    assert_eq!(unchanged(response, &etag).await, info);
    let query = format!("confirmation_email={VICTIM}");
    let response = app.unlock(app.admin_token(), &uid, &query).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    assert_eq!(audit_count(&app).await, events);
    assert_eq!(app.outbox().await.len(), emails);
    assert_eq!(app.outbox_rows_to(VICTIM).await, 0);
}
