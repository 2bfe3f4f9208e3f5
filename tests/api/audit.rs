//! The audit log (docs/api.md, "Endpoints"): every admin action, who did
//! it, on whose request, with what changes; platform admins see all,
//! customer admins their customers' events.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    expect_json, expect_problem, header, id_of, items, new_person, spawn_app, TestApp,
};

/// The newest event with `action` about user `uid`.
async fn event_for(app: &TestApp, uid: &str, action: &str) -> Value {
    app.audit_events(&format!("user_id={uid}&action={action}"))
        .await
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no {action} event for {uid}"))
}

fn actions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn creating_and_updating_a_customer_is_audited_with_before_and_after() {
    let app = spawn_app().await;
    let admin_id = app.my_id(app.admin_token()).await;
    let cid = app.customer("Old Name", Some(3)).await;
    let updated = app
        .update_customer(
            app.admin_token(),
            &cid,
            &json!({"name": "New Name", "licensed_seats": 5}),
        )
        .await;
    expect_json(updated, StatusCode::OK).await;
    let events = app.audit_events(&format!("customer_id={cid}")).await;
    assert_eq!(actions(&events), ["customer.updated", "customer.created"]);
    for event in &events {
        assert_eq!(event["customer_id"], cid.as_str());
        assert_eq!(event["actor_user_id"], admin_id.as_str());
        assert!(event["actor_client_id"].is_null());
    }
    assert_eq!(
        events[0]["changes"]["name"],
        json!({"before": "Old Name", "after": "New Name"})
    );
    assert_eq!(
        events[0]["changes"]["licensed_seats"],
        json!({"before": 3, "after": 5})
    );
}

#[tokio::test]
async fn adding_a_new_user_records_user_invited_and_membership_added() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let uid = app.add_new_user(&a, "pat@acme.test", "standard_user").await;
    let invited = event_for(&app, &uid, "user.invited").await;
    assert_eq!(invited["target_user_id"], uid.as_str());
    assert_eq!(invited["customer_id"], a.as_str());
    let added = event_for(&app, &uid, "membership.added").await;
    assert_eq!(added["customer_id"], a.as_str());
    assert_eq!(added["changes"]["role"]["after"], "standard_user");

    let existing = app
        .add_customer_user(app.admin_token(), &b, &json!({"email": "pat@acme.test"}))
        .await;
    expect_json(existing, StatusCode::CREATED).await;
    let events = app.audit_events(&format!("user_id={uid}")).await;
    assert_eq!(events[0]["action"], "membership.added");
    assert_eq!(events[0]["customer_id"], b.as_str());
    let mut all = actions(&events);
    all.sort();
    assert_eq!(
        all,
        ["membership.added", "membership.added", "user.invited"]
    );
}

#[tokio::test]
async fn an_audit_event_carries_the_request_id_of_the_request_that_caused_it() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let response = app
        .update_user(app.admin_token(), &uid, &json!({"job_title": "CFO"}))
        .await;
    let request_id = header(&response, "x-request-id");
    assert!(!request_id.is_empty(), "no X-Request-Id");
    expect_json(response, StatusCode::OK).await;
    let event = event_for(&app, &uid, "user.updated").await;
    assert_eq!(event["request_id"], request_id.as_str());

    let response = app
        .request(
            Method::POST,
            &format!("/v1/users/{uid}/activation-email"),
            Some(app.admin_token()),
        )
        .header("X-Request-Id", "ticket-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "x-request-id"), "ticket-4711");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let event = event_for(&app, &uid, "user.activation_email_sent").await;
    assert_eq!(event["request_id"], "ticket-4711");
}

#[tokio::test]
async fn requester_name_and_confirmation_email_are_recorded_with_a_status_change() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let body = json!({"status": "inactive", "requester_name": "Rita Requester", "confirmation_email": "rita@acme.test"});
    expect_json(
        app.set_status(app.admin_token(), &uid, &body).await,
        StatusCode::OK,
    )
    .await;
    let event = event_for(&app, &uid, "user.status_changed").await;
    assert_eq!(event["requester_name"], "Rita Requester");
    assert_eq!(event["confirmation_email"], "rita@acme.test");
    assert_eq!(event["target_user_id"], uid.as_str());
    assert_eq!(
        event["changes"]["status"],
        json!({"before": "active", "after": "inactive"})
    );
    app.last_email("action_confirmation", "rita@acme.test")
        .await;
}

#[tokio::test]
async fn adding_a_user_records_the_request_id_requester_and_confirmation_address() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let mut body = new_person("pat@acme.test");
    body["requester_name"] = json!("Sam Admin");
    body["confirmation_email"] = json!("sam@ubm.example");
    let response = app
        .request(
            Method::POST,
            &format!("/v1/customers/{cid}/users"),
            Some(app.admin_token()),
        )
        .header("X-Request-Id", "req-audit-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let uid = id_of(&expect_json(response, StatusCode::CREATED).await);
    let event = event_for(&app, &uid, "membership.added").await;
    assert_eq!(event["request_id"], "req-audit-1");
    assert_eq!(event["requester_name"], "Sam Admin");
    assert_eq!(event["confirmation_email"], "sam@ubm.example");
    assert_eq!(event["customer_id"], cid.as_str());
    assert_eq!(event["changes"]["role"]["after"], "full_access");
}

#[tokio::test]
async fn membership_updates_and_removals_are_audited() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let updated = app
        .update_customer_user(app.admin_token(), &cid, &uid, &json!({"role": "admin"}))
        .await;
    expect_json(updated, StatusCode::OK).await;
    let event = event_for(&app, &uid, "membership.updated").await;
    assert_eq!(event["customer_id"], cid.as_str());
    assert_eq!(
        event["changes"]["role"],
        json!({"before": "full_access", "after": "admin"})
    );

    let removed = app
        .remove_customer_user(
            app.admin_token(),
            &cid,
            &uid,
            "requester_name=Rita%20Requester&confirmation_email=rita@acme.test",
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let event = event_for(&app, &uid, "membership.removed").await;
    assert_eq!(event["customer_id"], cid.as_str());
    assert_eq!(event["requester_name"], "Rita Requester");
    assert_eq!(event["confirmation_email"], "rita@acme.test");
}

#[tokio::test]
async fn user_level_admin_actions_are_audited_against_the_user() {
    let app = spawn_app().await;
    let admin_id = app.my_id(app.admin_token()).await;
    let cid = app.customer("Alpha", None).await;
    let invited = app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let (uid, _) = app
        .invite_and_activate(&cid, "pat@acme.test", "full_access")
        .await;
    let edit = app
        .update_user(app.admin_token(), &uid, &json!({"job_title": "CFO"}))
        .await;
    expect_json(edit, StatusCode::OK).await;
    app.lock_out("pat@acme.test").await;
    let unlocked = app.unlock(app.admin_token(), &uid, "").await;
    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    let reset = app.send_password_reset_email(app.admin_token(), &uid).await;
    assert_eq!(reset.status(), StatusCode::ACCEPTED);
    let resent = app.send_activation_email(app.admin_token(), &invited).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);

    let edited = event_for(&app, &uid, "user.updated").await;
    assert_eq!(
        edited["changes"]["job_title"],
        json!({"before": null, "after": "CFO"})
    );
    for (target, action) in [
        (&uid, "user.updated"),
        (&uid, "user.unlocked"),
        (&uid, "user.password_reset_email_sent"),
        (&invited, "user.activation_email_sent"),
    ] {
        let event = event_for(&app, target, action).await;
        assert_eq!(event["target_user_id"], target.as_str(), "{action}");
        assert_eq!(event["actor_user_id"], admin_id.as_str(), "{action}");
        assert!(event["id"].is_string() && event["occurred_at"].is_string());
    }
}

#[tokio::test]
async fn a_deleted_users_events_still_name_them_by_id() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let deleted = app
        .delete_user(app.admin_token(), &uid, "requester_name=Rita")
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let events = app.audit_events(&format!("user_id={uid}")).await;
    assert_eq!(events[0]["action"], "user.deleted");
    let mut earlier = actions(&events[1..]);
    earlier.sort();
    assert_eq!(earlier, ["membership.added", "user.invited"]);
    assert!(events.iter().all(|e| e["target_user_id"] == uid.as_str()));
    assert_eq!(events[0]["requester_name"], "Rita");
}

#[tokio::test]
async fn an_admin_of_a_never_sees_what_was_done_to_a_shared_user_on_bs_side() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let (_, admin_a) = app
        .invite_and_activate(&a, "boss@alpha.test", "admin")
        .await;
    let (_, admin_b) = app
        .invite_and_activate(&b, "boss@bravo.test", "admin")
        .await;
    // Pat belongs to B alone while B's admin and a platform admin act on them.
    let (pat, _) = app
        .invite_and_activate(&b, "pat@shared.test", "full_access")
        .await;
    let by_b = json!({"job_title": "Bravo Secret Project", "requester_name": "Bravo Requester", "confirmation_email": "audit@bravo.test"});
    expect_json(app.update_user(&admin_b, &pat, &by_b).await, StatusCode::OK).await;
    let inactivate = json!({"status": "inactive", "requester_name": "Bravo Requester"});
    expect_json(
        app.set_status(&admin_b, &pat, &inactivate).await,
        StatusCode::OK,
    )
    .await;
    let by_platform =
        json!({"job_title": "Bravo Only Title", "requester_name": "Platform For Bravo"});
    expect_json(
        app.update_user(app.admin_token(), &pat, &by_platform).await,
        StatusCode::OK,
    )
    .await;
    // Then Pat joins A as well; from now on a platform action belongs to both.
    app.add_existing_user(&a, "pat@shared.test").await;
    let in_b = json!({"role": "standard_user", "requester_name": "Bravo Requester", "confirmation_email": "audit@bravo.test"});
    expect_json(
        app.update_customer_user(&admin_b, &b, &pat, &in_b).await,
        StatusCode::OK,
    )
    .await;
    let shared = json!({"last_name": "Shared", "requester_name": "Platform For Both"});
    expect_json(
        app.update_user(app.admin_token(), &pat, &shared).await,
        StatusCode::OK,
    )
    .await;

    for query in [
        format!("user_id={pat}&limit=200"),
        "limit=200".to_string(),
        format!("customer_id={a}&limit=200"),
    ] {
        let page = expect_json(
            app.list_audit_events(&admin_a, &query).await,
            StatusCode::OK,
        )
        .await;
        let text = page.to_string();
        for secret in [
            "Bravo Requester",
            "audit@bravo.test",
            "Bravo Secret Project",
            "Bravo Only Title",
            "Platform For Bravo",
            "inactive",
        ] {
            assert!(
                !text.contains(secret),
                "{query}: A's admin sees {secret:?}: {page}"
            );
        }
        assert!(text.contains("Platform For Both"), "{query}: {page}");
    }
    // B's admin still sees B's whole story about Pat, and the shared edit.
    let page = expect_json(
        app.list_audit_events(&admin_b, &format!("user_id={pat}&limit=200"))
            .await,
        StatusCode::OK,
    )
    .await;
    let text = page.to_string();
    for seen in [
        "Bravo Secret Project",
        "Bravo Only Title",
        "inactive",
        "Platform For Both",
    ] {
        assert!(text.contains(seen), "B's admin misses {seen:?}: {page}");
    }
}

#[tokio::test]
async fn a_customers_events_about_a_user_stay_with_it_after_the_user_leaves() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let (_, admin_a) = app
        .invite_and_activate(&a, "boss@alpha.test", "admin")
        .await;
    let pat = app.add_new_user(&a, "pat@alpha.test", "full_access").await;
    let edit = json!({"job_title": "Controller", "requester_name": "Alpha Requester"});
    expect_json(app.update_user(&admin_a, &pat, &edit).await, StatusCode::OK).await;
    let removed = app.remove_customer_user(&admin_a, &a, &pat, "").await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    // Pat now belongs to nobody; what happened to them in A is still A's.
    let later = json!({"job_title": "Platform Only"});
    expect_json(
        app.update_user(app.admin_token(), &pat, &later).await,
        StatusCode::OK,
    )
    .await;
    let page = expect_json(
        app.list_audit_events(&admin_a, &format!("user_id={pat}&limit=200"))
            .await,
        StatusCode::OK,
    )
    .await;
    let text = page.to_string();
    assert!(text.contains("Alpha Requester"), "{page}");
    assert!(text.contains("membership.removed"), "{page}");
    assert!(!text.contains("Platform Only"), "{page}");
}

#[tokio::test]
async fn customer_admins_see_only_their_customers_events_and_members_none() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let (_, admin_b) = app
        .invite_and_activate(&b, "boss@bravo.test", "admin")
        .await;
    let (_, member_b) = app
        .invite_and_activate(&b, "member@bravo.test", "full_access")
        .await;
    let only_a = app.add_new_user(&a, "pat@acme.test", "full_access").await;
    let edited = app
        .update_user(app.admin_token(), &only_a, &json!({"job_title": "CFO"}))
        .await;
    expect_json(edited, StatusCode::OK).await;
    let in_b = app.add_new_user(&b, "sam@bravo.test", "full_access").await;

    let page = expect_json(app.list_audit_events(&admin_b, "").await, StatusCode::OK).await;
    let seen = items(&page);
    assert!(
        seen.iter()
            .any(|e| e["action"] == "membership.added" && e["target_user_id"] == in_b.as_str()),
        "B's own events are visible: {page}"
    );
    for event in seen {
        assert_ne!(
            event["customer_id"],
            a.as_str(),
            "A's event leaked: {event}"
        );
        assert_ne!(
            event["target_user_id"],
            only_a.as_str(),
            "A's user leaked: {event}"
        );
    }
    expect_problem(
        app.list_audit_events(&member_b, "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_customer_admin_sees_status_changes_of_their_users_but_not_other_customers_events() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let (_, boss) = app.invite_and_activate(&a, "boss@a.test", "admin").await;
    let pat = app.add_new_user(&a, "pat@a.test", "full_access").await;
    let other = app.add_new_user(&b, "other@b.test", "full_access").await;
    for user in [&pat, &other] {
        app.admin_set_status(user, "retired").await;
    }
    let events = expect_json(
        app.list_audit_events(&boss, "limit=200").await,
        StatusCode::OK,
    )
    .await;
    let about = |id: &str| items(&events).iter().any(|e| e["target_user_id"] == id);
    assert!(about(&pat), "{events}");
    assert!(!about(&other), "{events}");
    assert!(items(&events).iter().all(|e| e["customer_id"] != json!(b)));
}

#[tokio::test]
async fn audit_events_are_newest_first_and_page_with_a_cursor() {
    let app = spawn_app().await;
    let cid = app.customer("Alpha", None).await;
    for n in 0..3 {
        app.add_new_user(&cid, &format!("u{n}@acme.test"), "full_access")
            .await;
    }
    let all = app.audit_events("limit=200").await;
    assert!(all.len() >= 7, "{all:?}");
    let mut paged = Vec::new();
    let mut path = "/v1/audit-events?limit=2".to_string();
    loop {
        let page = app.admin_get(&path).await;
        assert!(items(&page).len() <= 2);
        paged.extend(items(&page).iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/audit-events?limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(paged.len() <= all.len(), "the cursor never ends");
    }
    assert_eq!(paged, all);
    let times: Vec<time::OffsetDateTime> = all
        .iter()
        .map(|e| {
            let at = e["occurred_at"].as_str().unwrap();
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
}

#[tokio::test]
async fn audit_events_filter_by_user_customer_and_action() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    let b = app.customer("Bravo", None).await;
    let pat = app.add_new_user(&a, "pat@acme.test", "full_access").await;
    app.add_new_user(&b, "sam@bravo.test", "full_access").await;
    let by_user = app.audit_events(&format!("user_id={pat}")).await;
    assert!(!by_user.is_empty());
    assert!(by_user.iter().all(|e| e["target_user_id"] == pat.as_str()));
    let by_customer = app.audit_events(&format!("customer_id={b}")).await;
    assert!(!by_customer.is_empty());
    assert!(by_customer.iter().all(|e| e["customer_id"] == b.as_str()));
    let by_action = app.audit_events("action=membership.added").await;
    assert_eq!(by_action.len(), 2);
    assert!(by_action.iter().all(|e| e["action"] == "membership.added"));
}

#[tokio::test]
async fn an_api_client_is_recorded_as_the_actor_client() {
    let app = spawn_app().await;
    let (client_id, secret) = app.api_client("provisioning", None).await;
    let token = app.client_token(&client_id, &secret).await;
    let customer = app
        .create_customer(&token, &json!({"name": "By Script"}))
        .await;
    let cid = id_of(&expect_json(customer, StatusCode::CREATED).await);
    let events = app
        .audit_events(&format!("customer_id={cid}&action=customer.created"))
        .await;
    assert_eq!(events[0]["actor_client_id"], client_id.as_str());
    assert!(events[0]["actor_user_id"].is_null());
}
