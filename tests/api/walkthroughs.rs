//! Whole admin tasks over HTTP, each step in the order an admin takes it,
//! so the steps are seen to work together and not only one by one
//! (docs/api.md, "Endpoints" and "Lifecycle").

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    expect_json, expect_problem, id_of, is_timestamp, item_strings, items, new_person, spawn_app,
    ADMIN_EMAIL, ADMIN_PASSWORD, GOOD_PASSWORD,
};

const NEW_PASSWORD: &str = "plum orbit cascade velvet";

/// One password user through every admin step, in order: added (Full
/// Access by default, with chat settings) and added to a second customer,
/// the activation email resent, a password reset sent and used, inactivated,
/// reactivated, removed from one customer with a notice, deleted.
#[tokio::test]
async fn one_user_goes_from_added_to_deleted_through_every_admin_step_in_order() {
    let app = spawn_app().await;
    let demo = app.customer("UBM Demo", None).await;
    let other = app.customer("UBM Other", None).await;
    app.add_new_user(&demo, "existing@email.com", "full_access")
        .await;

    // Add a new user: the form's fields, Full Access by default, chat options.
    let form = json!({"email": "user@email.com", "first_name": "Jane", "last_name": "Doe",
        "job_title": "Energy Manager", "settings": {"chat_tag": true, "user_group_tags": ["east"]}});
    let added = expect_json(
        app.add_customer_user(app.admin_token(), &demo, &form).await,
        StatusCode::CREATED,
    )
    .await;
    let uid = id_of(&added);
    assert_eq!(added["role"], "full_access");
    assert_eq!(added["status"], "invited");
    let users = app.admin_get(&format!("/v1/customers/{demo}/users")).await;
    assert_eq!(
        users["items"][0]["id"],
        uid.as_str(),
        "the new user is at the top"
    );
    let invitation = app.last_email("activation", "user@email.com").await;
    assert_eq!(
        invitation.subject,
        "Your Utility Bill Management account has been set up"
    );
    assert!(
        invitation.text_body.contains("Get Started"),
        "{}",
        invitation.text_body
    );
    app.add_existing_user(&other, "user@email.com").await;

    // Resend the activation email from User Info: the old link stops working.
    let first_link = app.token_from_email("activation", "user@email.com").await;
    let resent = app.send_activation_email(app.admin_token(), &uid).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let link = app.token_from_email("activation", "user@email.com").await;
    assert_ne!(link, first_link);
    let activated = app.activate_account(&link, GOOD_PASSWORD).await;
    expect_json(activated, StatusCode::OK).await;

    // The admin sends a reset password email; the user sets a new password.
    let sent = app.send_password_reset_email(app.admin_token(), &uid).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let reset = app
        .token_from_email("password_reset", "user@email.com")
        .await;
    let done = app.reset_password(&reset, NEW_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    let session = app
        .sign_in("user@email.com", NEW_PASSWORD)
        .await
        .access_token();

    // Inactivate: a deactivation notice, and no more signing in.
    let inactive = app.admin_set_status(&uid, "inactive").await;
    assert_eq!(inactive["status"], "inactive");
    let notice = app
        .last_email("account_deactivated", "user@email.com")
        .await;
    assert!(
        notice.text_body.contains("contact your administrator"),
        "{}",
        notice.text_body
    );
    expect_problem(
        app.me(&session).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.sign_in_outcome("user@email.com", NEW_PASSWORD).await,
        "account_inactive"
    );

    // Reactivate: active again, no email sent.
    let emails = app.outbox().await.len();
    let active = app.admin_set_status(&uid, "active").await;
    assert_eq!(active["status"], "active");
    assert_eq!(app.outbox().await.len(), emails);
    let session = app
        .sign_in("user@email.com", NEW_PASSWORD)
        .await
        .access_token();

    // Remove from UBM Demo only, notifying the user: UBM Other stays.
    let removed = app
        .remove_customer_user(app.admin_token(), &demo, &uid, "notify=true")
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    app.last_email("membership_removed", "user@email.com").await;
    let mine = expect_json(app.list_customers(&session, "").await, StatusCode::OK).await;
    assert_eq!(item_strings(&mine, "id"), [other.as_str()]);
    let demo_users = app.admin_get(&format!("/v1/customers/{demo}/users")).await;
    assert!(!item_strings(&demo_users, "id").contains(&uid));

    // Delete from the platform: gone from every customer, no access.
    let deleted = app.delete_user(app.admin_token(), &uid, "").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let other_users = app.admin_get(&format!("/v1/customers/{other}/users")).await;
    assert!(items(&other_users).is_empty(), "{other_users}");
    expect_problem(
        app.me(&session).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.sign_in_outcome("user@email.com", NEW_PASSWORD).await,
        "invalid_grant"
    );
}

/// The users of a customer with a licence, through every admin step in
/// order: the seat counts read, a user edited, sent a reset link, unlocked;
/// a user added by copying a model user up to the seat limit; the first
/// user dropped (retired), reactivated, then reactivated again after
/// expiring. Each change names a requester and asks for a confirmation.
#[tokio::test]
async fn a_licensed_customers_users_are_edited_reset_unlocked_copied_dropped_and_reactivated_in_order(
) {
    let app = spawn_app().await;
    let cid = app.customer("Momentus Demo", Some(3)).await;
    let model = json!({"email": "model@acme.test", "first_name": "Mo", "last_name": "Del",
        "role": "standard_user", "settings": {"organization": "HQ", "menu": "Events"}});
    let model = id_of(
        &expect_json(
            app.add_customer_user(app.admin_token(), &cid, &model).await,
            StatusCode::CREATED,
        )
        .await,
    );
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;

    // Your Users: licensed and named users, ID, name, status, Retired On.
    let users = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert_eq!(
        (
            users["licensed_seats"].as_i64(),
            users["named_users"].as_i64()
        ),
        (Some(3), Some(2))
    );
    for user in items(&users) {
        for field in ["id", "first_name", "last_name", "status", "retired_at"] {
            assert!(user.get(field).is_some(), "{field} missing from {user}");
        }
    }

    // Edit User, with a requester name and a confirmation email.
    let edit = json!({"first_name": "Patricia", "job_title": "Event Manager",
        "requester_name": "Rita Requester", "confirmation_email": "support@acme.test"});
    let edited = expect_json(
        app.update_user(app.admin_token(), &uid, &edit).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["first_name"], "Patricia");
    assert_eq!(edited["job_title"], "Event Manager");
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        1
    );
    let audited = app
        .audit_events(&format!("user_id={uid}&action=user.updated"))
        .await;
    assert_eq!(audited[0]["requester_name"], "Rita Requester");

    // Reset User Password: a link valid for 48 hours.
    let sent = app.send_password_reset_email(app.admin_token(), &uid).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let reset = app.last_email("password_reset", "pat@acme.test").await;
    assert!(
        reset.text_body.contains("/reset-password?token="),
        "{}",
        reset.text_body
    );
    assert!(reset.text_body.contains("48 hours"), "{}", reset.text_body);

    // Unlock a User Account, with a confirmation email.
    app.lock_out("pat@acme.test").await;
    assert_eq!(app.user_info(&uid).await["locked"], true);
    let unlocked = app
        .unlock(
            app.admin_token(),
            &uid,
            "confirmation_email=support@acme.test",
        )
        .await;
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        2
    );
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;

    // Add User by copying the model user's defaults.
    let mut copy = json!({"email": "new@acme.test", "first_name": "Nina", "last_name": "New",
        "requester_name": "Rita Requester", "confirmation_email": "support@acme.test"});
    copy["copy_from_user_id"] = json!(model);
    let added = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &copy).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["role"], "standard_user");
    assert_eq!(
        added["settings"],
        json!({"organization": "HQ", "menu": "Events"})
    );
    app.last_email("activation", "new@acme.test").await;
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        3
    );
    expect_problem(
        app.add_customer_user(app.admin_token(), &cid, &new_person("fourth@acme.test"))
            .await,
        StatusCode::CONFLICT,
        "seat_limit_reached",
    )
    .await;

    // Drop User: retired, record kept, Retired On shown, seat freed.
    let drop = json!({"status": "retired", "requester_name": "Rita Requester", "confirmation_email": "support@acme.test"});
    let dropped = expect_json(
        app.set_status(app.admin_token(), &uid, &drop).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(dropped["status"], "retired");
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        4
    );
    let users = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert_eq!(users["named_users"], 2);
    let row = items(&users)
        .iter()
        .find(|u| u["id"] == uid.as_str())
        .expect("the dropped user is still listed");
    assert_eq!(row["status"], "retired");
    assert!(is_timestamp(&row["retired_at"]), "Retired On: {row}");
    assert_eq!(row["retired_at"], dropped["retired_at"]);
    let audited = app
        .audit_events(&format!("user_id={uid}&action=user.status_changed"))
        .await;
    assert_eq!(audited[0]["requester_name"], "Rita Requester");
    assert_eq!(audited[0]["confirmation_email"], "support@acme.test");

    // Reactivate the dropped user (a database user).
    let reactivate = json!({"status": "active", "confirmation_email": "support@acme.test"});
    let back = expect_json(
        app.set_status(app.admin_token(), &uid, &reactivate).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["status"], "active");
    assert!(back["retired_at"].is_null());
    assert_eq!(
        app.count_emails("action_confirmation", "support@acme.test")
            .await,
        5
    );
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;

    // Reactivate a user whose logon expired after 90 days without signing in.
    app.clock.advance(Duration::from_secs(91 * 86_400));
    let admin = app
        .sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .access_token();
    roster::service::maintenance::run_once(&app.state)
        .await
        .unwrap();
    let expired = expect_json(app.get_user(&admin, &uid).await, StatusCode::OK).await;
    assert_eq!(expired["status"], "expired");
    let back = expect_json(
        app.set_status(&admin, &uid, &json!({"status": "active"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["status"], "active");
    app.sign_in("pat@acme.test", GOOD_PASSWORD).await;
}
