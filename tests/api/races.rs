//! Races: one link redeemed many times at once, one email added many times
//! at once (to one customer and to two), two people added for the last
//! seat, a user inactivated while being deleted, a refresh token revoked
//! while it is being rotated, one status change or password change sent
//! many times at once, patches racing on one ETag, two retired users
//! reinstated for one seat, members added, removed, retired and deleted at
//! once (the seat counters). Each fires its requests together and checks
//! both the answers and what was stored, so a lost update or a doubled side
//! effect fails it. (Two creations racing on one `Idempotency-Key` are in
//! `idempotency.rs`.)

use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    expect_json, header, id_of, items, new_person, spawn_app, TestApp, Tokens, GOOD_PASSWORD,
};

/// How many requests race in each test.
const RACERS: usize = 12;

/// The statuses, sorted, and the bodies of a batch of answers.
async fn settle(responses: Vec<Response>) -> (Vec<u16>, Vec<Value>) {
    let mut statuses = Vec::new();
    let mut bodies = Vec::new();
    for response in responses {
        statuses.push(response.status().as_u16());
        let text = response.text().await.unwrap();
        bodies.push(serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    (statuses, bodies)
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// The audit events with `action` about `user_id`.
async fn events(app: &TestApp, action: &str, user_id: &str) -> usize {
    app.audit_events(&format!("action={action}&user_id={user_id}&limit=200"))
        .await
        .len()
}

#[tokio::test]
async fn one_activation_link_redeemed_at_once_activates_exactly_once() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "pat@acme.test").await;
    let passwords: Vec<String> = (0..RACERS)
        .map(|n| format!("{GOOD_PASSWORD} {n}"))
        .collect();
    let requests: Vec<Value> = passwords
        .iter()
        .map(|password| json!({"token": token, "password": password}))
        .collect();
    let attempts = requests
        .iter()
        .map(|body| app.post_json("/v1/auth/activate", None, body));
    let (statuses, bodies) = settle(join_all(attempts).await).await;
    assert_eq!(count(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 410), RACERS - 1, "{statuses:?}");
    assert_eq!(events(&app, "user.activated", &uid).await, 1);
    // The winner's password is the one stored; its session works.
    let winner = statuses.iter().position(|s| *s == 200).unwrap();
    let session = Tokens(bodies[winner].clone()).access_token();
    assert_eq!(app.me(&session).await.status(), StatusCode::OK);
    app.sign_in("pat@acme.test", &passwords[winner]).await;
    let loser = (winner + 1) % RACERS;
    assert_eq!(
        app.password_grant("pat@acme.test", &passwords[loser])
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn one_reset_link_redeemed_at_once_changes_the_password_exactly_once() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    app.activate("pat@acme.test").await;
    let sent = app.send_password_reset_email(app.admin_token(), &uid).await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let token = app
        .token_from_email("password_reset", "pat@acme.test")
        .await;
    let passwords: Vec<String> = (0..RACERS).map(|n| format!("marble kettle {n}")).collect();
    let requests: Vec<Value> = passwords
        .iter()
        .map(|password| json!({"token": token, "password": password}))
        .collect();
    let attempts = requests
        .iter()
        .map(|body| app.post_json("/v1/auth/reset-password", None, body));
    let (statuses, _) = settle(join_all(attempts).await).await;
    assert_eq!(count(&statuses, 204), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 410), RACERS - 1, "{statuses:?}");
    assert_eq!(events(&app, "user.password_reset", &uid).await, 1);
    assert_eq!(
        app.count_emails("password_changed", "pat@acme.test").await,
        1
    );
    let winner = statuses.iter().position(|s| *s == 204).unwrap();
    app.sign_in("pat@acme.test", &passwords[winner]).await;
}

#[tokio::test]
async fn one_new_email_added_to_one_customer_at_once_makes_one_user() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let body = json!({"email": "pat@acme.test", "first_name": "Pat", "last_name": "Lee"});
    let attempts = (0..RACERS).map(|_| app.add_customer_user(app.admin_token(), &cid, &body));
    let (statuses, bodies) = settle(join_all(attempts).await).await;
    assert_eq!(count(&statuses, 201), 1, "{statuses:?} {bodies:?}");
    assert_eq!(count(&statuses, 409), RACERS - 1, "{statuses:?}");
    let winner = statuses.iter().position(|s| *s == 201).unwrap();
    let uid = id_of(&bodies[winner]);
    for (status, body) in statuses.iter().zip(&bodies) {
        if *status == 409 {
            assert_eq!(body["code"], "already_member", "{body}");
            assert_eq!(body["user_id"], uid.as_str(), "{body}");
        }
    }
    let users = app.admin_get("/v1/users?q=pat").await;
    assert_eq!(items(&users).len(), 1, "{users}");
    assert_eq!(app.named_users(&cid).await, 1);
    assert_eq!(app.count_emails("activation", "pat@acme.test").await, 1);
    assert_eq!(events(&app, "user.invited", &uid).await, 1);
    assert_eq!(events(&app, "membership.added", &uid).await, 1);
}

#[tokio::test]
async fn one_new_email_added_to_two_customers_with_one_seat_each_joins_both_once() {
    let app = spawn_app().await;
    let a = app.customer("A", Some(1)).await;
    let b = app.customer("B", Some(1)).await;
    let body = json!({"email": "pat@acme.test", "first_name": "Pat", "last_name": "Lee"});
    let targets: Vec<&str> = (0..RACERS)
        .map(|n| if n % 2 == 0 { a.as_str() } else { b.as_str() })
        .collect();
    let attempts = targets
        .iter()
        .map(|cid| app.add_customer_user(app.admin_token(), cid, &body));
    let (statuses, bodies) = settle(join_all(attempts).await).await;
    for cid in [&a, &b] {
        let answers: Vec<(u16, &Value)> = targets
            .iter()
            .zip(statuses.iter().zip(&bodies))
            .filter(|(target, _)| **target == cid.as_str())
            .map(|(_, (status, body))| (*status, body))
            .collect();
        let created = answers.iter().filter(|(s, _)| *s == 201).count();
        assert_eq!(created, 1, "one 201 per customer: {answers:?}");
        for (status, body) in &answers {
            assert!(
                *status == 201 || (*status == 409 && body["code"] == "already_member"),
                "{status} {body}"
            );
        }
        assert_eq!(app.named_users(cid).await, 1);
    }
    let users = app.admin_get("/v1/users?q=pat").await;
    assert_eq!(items(&users).len(), 1, "one user: {users}");
    let uid = id_of(&items(&users)[0]);
    let info = app.user_info(&uid).await;
    assert_eq!(info["memberships"].as_array().unwrap().len(), 2, "{info}");
    assert_eq!(app.count_emails("activation", "pat@acme.test").await, 1);
    assert_eq!(
        app.count_emails("membership_added", "pat@acme.test").await,
        1
    );
}

#[tokio::test]
async fn two_requests_for_the_last_seat_let_exactly_one_in() {
    let app = spawn_app().await;
    let cid = app.customer("Tight", Some(1)).await;
    let (pat, sam) = (new_person("a@acme.test"), new_person("b@acme.test"));
    let (a, b) = tokio::join!(
        app.add_customer_user(app.admin_token(), &cid, &pat),
        app.add_customer_user(app.admin_token(), &cid, &sam)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    assert_eq!(app.named_users(&cid).await, 1);
}

#[tokio::test]
async fn inactivating_a_user_while_deleting_them_leaves_nothing_behind() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let mut uids = Vec::new();
    for n in 0..RACERS / 2 {
        let email = format!("pat{n}@acme.test");
        let uid = app.add_new_user(&cid, &email, "full_access").await;
        app.activate(&email).await;
        uids.push(uid);
    }
    let inactive = json!({"status": "inactive"});
    let paths: Vec<String> = uids.iter().map(|uid| format!("/v1/users/{uid}")).collect();
    let inactivations = uids
        .iter()
        .map(|uid| app.set_status(app.admin_token(), uid, &inactive));
    let deletions = paths
        .iter()
        .map(|path| app.delete(path, Some(app.admin_token())));
    let (inactivated, deleted) = tokio::join!(join_all(inactivations), join_all(deletions));
    let (inactivated, _) = settle(inactivated).await;
    let (deleted, _) = settle(deleted).await;
    assert!(deleted.iter().all(|s| *s == 204), "deletions: {deleted:?}");
    assert!(
        inactivated.iter().all(|s| *s == 200 || *s == 404),
        "inactivations: {inactivated:?}"
    );
    for (n, uid) in uids.iter().enumerate() {
        assert_eq!(
            app.get_user(app.admin_token(), uid).await.status(),
            StatusCode::NOT_FOUND
        );
        let email = format!("pat{n}@acme.test");
        let left: Vec<String> = app
            .outbox()
            .await
            .into_iter()
            .filter(|row| row.recipient == email || row.user_id.as_deref() == Some(uid))
            .map(|row| row.kind)
            .collect();
        assert!(
            left.is_empty(),
            "emails to the deleted {email} remain: {left:?}"
        );
    }
    assert_eq!(app.named_users(&cid).await, 0);
}

#[tokio::test]
async fn a_refresh_token_revoked_while_it_is_rotated_leaves_no_live_session() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    app.activate("pat@acme.test").await;
    // Every sign-in starts a family of its own.
    let sign_ins = (0..2 * RACERS).map(|_| app.sign_in("pat@acme.test", GOOD_PASSWORD));
    let refresh_tokens: Vec<String> = join_all(sign_ins)
        .await
        .iter()
        .map(Tokens::refresh_token)
        .collect();
    // Each pair is sent together, half of them revocation first.
    let app = &app;
    let pairs = refresh_tokens
        .iter()
        .enumerate()
        .map(|(n, token)| async move {
            let refresh = app.refresh(token);
            let revoke = app.revoke(token);
            if n % 2 == 0 {
                tokio::join!(refresh, revoke)
            } else {
                let (revoked, refreshed) = tokio::join!(revoke, refresh);
                (refreshed, revoked)
            }
        });
    let (refreshed, revoked): (Vec<Response>, Vec<Response>) =
        join_all(pairs).await.into_iter().unzip();
    for response in revoked {
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (statuses, bodies) = settle(refreshed).await;
    for (status, body) in statuses.iter().zip(&bodies) {
        assert!(*status == 200 || *status == 400, "{status} {body}");
        if *status == 200 {
            // The revocation came after this rotation, so it ended the
            // whole family, including the token this rotation issued.
            let next = Tokens(body.clone()).refresh_token();
            let again = app.refresh(&next).await;
            assert_eq!(
                again.status(),
                StatusCode::BAD_REQUEST,
                "a refresh token issued during a revocation outlived it"
            );
        }
    }
}

#[tokio::test]
async fn one_inactivation_sent_many_times_at_once_happens_once() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    app.activate("pat@acme.test").await;
    let inactive = json!({"status": "inactive"});
    let attempts = (0..RACERS).map(|_| app.set_status(app.admin_token(), &uid, &inactive));
    let (statuses, _) = settle(join_all(attempts).await).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(events(&app, "user.status_changed", &uid).await, 1);
    assert_eq!(
        app.count_emails("account_deactivated", "pat@acme.test")
            .await,
        1
    );
    assert_eq!(
        app.named_users(&cid).await,
        1,
        "an inactive user keeps a seat"
    );
}

#[tokio::test]
async fn one_password_change_sent_many_times_at_once_succeeds_once() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let session = app.activate("pat@acme.test").await.access_token();
    let passwords: Vec<String> = (0..RACERS / 2)
        .map(|n| format!("quiet lantern mosaic {n}"))
        .collect();
    let requests: Vec<Value> = passwords
        .iter()
        .map(|password| json!({"current_password": GOOD_PASSWORD, "new_password": password}))
        .collect();
    let attempts = requests
        .iter()
        .map(|body| app.post_json("/v1/me/password", Some(&session), body));
    let (statuses, bodies) = settle(join_all(attempts).await).await;
    assert_eq!(count(&statuses, 200), 1, "{statuses:?} {bodies:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401 || *s == 422),
        "{statuses:?} {bodies:?}"
    );
    assert_eq!(
        app.count_emails("password_changed", "pat@acme.test").await,
        1
    );
    let winner = statuses.iter().position(|s| *s == 200).unwrap();
    app.sign_in("pat@acme.test", &passwords[winner]).await;
    let session = Tokens(bodies[winner].clone()).access_token();
    assert_eq!(app.me(&session).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn patches_of_one_user_with_one_etag_let_exactly_one_through() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let read = app.get_user(app.admin_token(), &uid).await;
    let etag = read.headers()["etag"].to_str().unwrap().to_string();
    let edits: Vec<Value> = (0..RACERS)
        .map(|n| json!({"job_title": format!("Title {n}")}))
        .collect();
    let attempts = edits
        .iter()
        .map(|edit| app.update_user_if_match(app.admin_token(), &uid, &etag, edit));
    let (statuses, bodies) = settle(join_all(attempts).await).await;
    assert_eq!(count(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 412), RACERS - 1, "{statuses:?}");
    let winner = statuses.iter().position(|s| *s == 200).unwrap();
    let stored = app.user_info(&uid).await;
    assert_eq!(stored["job_title"], bodies[winner]["job_title"]);
    assert_eq!(events(&app, "user.updated", &uid).await, 1);
}

#[tokio::test]
async fn two_patches_of_one_customer_with_one_etag_let_exactly_one_through() {
    let app = spawn_app().await;
    let cid = app.customer("A", None).await;
    let read = app.get_customer(app.admin_token(), &cid).await;
    let etag = header(&read, "etag");
    let (one, two) = (json!({"name": "One"}), json!({"name": "Two"}));
    let (first, second) = tokio::join!(
        app.update_customer_if_match(app.admin_token(), &cid, &etag, &one),
        app.update_customer_if_match(app.admin_token(), &cid, &etag, &two)
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
}

#[tokio::test]
async fn reinstating_two_users_for_one_seat_at_once_lets_one_in() {
    let app = spawn_app().await;
    let a = app.customer("A", Some(2)).await;
    let b = app.customer("B", Some(2)).await;
    // Two active users in both customers, added in opposite orders; both
    // retired, then one other member takes a seat in each, leaving one
    // seat each: only one of the two can come back.
    let x = app.add_new_user(&a, "x@acme.test", "full_access").await;
    let y = app.add_new_user(&b, "y@acme.test", "full_access").await;
    for (cid, email) in [(&b, "x@acme.test"), (&a, "y@acme.test")] {
        expect_json(
            app.add_customer_user(app.admin_token(), cid, &json!({"email": email}))
                .await,
            StatusCode::CREATED,
        )
        .await;
        app.activate(email).await;
    }
    for uid in [&x, &y] {
        expect_json(
            app.set_status(app.admin_token(), uid, &json!({"status": "retired"}))
                .await,
            StatusCode::OK,
        )
        .await;
    }
    for (cid, email) in [(&a, "z@acme.test"), (&b, "z@bravo.test")] {
        expect_json(
            app.add_customer_user(
                app.admin_token(),
                cid,
                &json!({"email": email, "first_name": "Z", "last_name": "Z"}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    let active = json!({"status": "active"});
    let attempts = [&x, &y, &x, &y, &x, &y]
        .into_iter()
        .map(|uid| app.set_status(app.admin_token(), uid, &active));
    let (statuses, bodies) = settle(join_all(attempts).await).await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?} {bodies:?}"
    );
    for (status, body) in statuses.iter().zip(&bodies) {
        if *status == 409 {
            assert_eq!(body["code"], "seat_limit_reached", "{body}");
        }
    }
    for cid in [&a, &b] {
        assert_eq!(
            app.named_users(cid).await,
            2,
            "seats stay within the licence"
        );
    }
    let mut back = Vec::new();
    for uid in [&x, &y] {
        back.push(app.user_info(uid).await["status"] == "active");
    }
    assert_eq!(back.iter().filter(|b| **b).count(), 1, "{statuses:?}");
}

#[tokio::test]
async fn seat_counters_stay_right_while_members_are_added_removed_retired_and_deleted_at_once() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let mut uids = Vec::new();
    for n in 0..RACERS {
        let email = format!("pat{n}@acme.test");
        uids.push(app.add_new_user(&a, &email, "full_access").await);
        app.activate(&email).await;
    }
    // Each user meets two changes at once, each pair touching one seat twice:
    // retired while added to B, retired while removed from A, deleted while
    // added to B, removed from A while reinstated (after a retirement).
    let retired = json!({"status": "retired"});
    let active = json!({"status": "active"});
    for uid in uids.iter().skip(3).step_by(4) {
        let response = app.set_status(app.admin_token(), uid, &retired).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let app = &app;
    let (a, b, retired, active) = (&a, &b, &retired, &active);
    let pairs = uids.iter().enumerate().map(|(n, uid)| async move {
        let email = format!("pat{n}@acme.test");
        let add = json!({"email": email, "first_name": "Pat", "last_name": "Lee"});
        let (first, second) = match n % 4 {
            0 => tokio::join!(
                app.set_status(app.admin_token(), uid, retired),
                app.add_customer_user(app.admin_token(), b, &add)
            ),
            1 => tokio::join!(
                app.set_status(app.admin_token(), uid, retired),
                app.remove_customer_user(app.admin_token(), a, uid, "")
            ),
            2 => tokio::join!(
                app.delete_user(app.admin_token(), uid, ""),
                app.add_customer_user(app.admin_token(), b, &add)
            ),
            _ => tokio::join!(
                app.remove_customer_user(app.admin_token(), a, uid, ""),
                app.set_status(app.admin_token(), uid, active)
            ),
        };
        (first.status().as_u16(), second.status().as_u16())
    });
    for (first, second) in join_all(pairs).await {
        for status in [first, second] {
            assert!(
                [200, 201, 204, 404, 409].contains(&status),
                "{first} {second}"
            );
        }
    }
    // `named_users` also checks every stored counter against a fresh count.
    let in_a = app.named_users(a).await;
    let in_b = app.named_users(b).await;
    assert!(
        in_a < RACERS as i64 && in_b <= (RACERS / 2) as i64,
        "{in_a} {in_b}"
    );
}

#[tokio::test]
async fn an_import_racing_rest_adds_of_its_people_invites_each_person_once() {
    let app = spawn_app().await;
    let a = app.customer("A", None).await;
    let b = app.customer("B", None).await;
    let people = 300;
    let mut csv = String::from("email,first_name,last_name\n");
    for n in 0..people {
        csv.push_str(&format!("person{n}@acme.test,Pat,Lee\n"));
    }
    let upload = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/customers/{a}/user-imports"),
            Some(app.admin_token()),
        )
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let job = id_of(&expect_json(upload, StatusCode::ACCEPTED).await);
    // Every tenth person is also added to B by hand while the import runs:
    // either one may create the user, and the other then adds a membership.
    let (app, b) = (&app, &b);
    let by_hand = (0..people).step_by(10).map(|n| async move {
        let add = json!({"email": format!("person{n}@acme.test"), "first_name": "Pat", "last_name": "Lee"});
        app.add_customer_user(app.admin_token(), b, &add)
            .await
            .status()
    });
    let (statuses, ()) = tokio::join!(join_all(by_hand), app.resolve_requests());
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );

    let job = app.admin_get(&format!("/v1/user-imports/{job}")).await;
    assert_eq!(
        (&job["status"], &job["created"], &job["failed"]),
        (&json!("completed"), &json!(people), &json!(0)),
        "{job}"
    );
    assert_eq!(app.named_users(&a).await, people as i64);
    assert_eq!(app.named_users(b).await, (people / 10) as i64);
    assert_eq!(
        told(app, "user.invited").await,
        people,
        "each person is invited once"
    );
    assert_eq!(told(app, "membership.added").await, people + people / 10);
}

/// How many events of one type the feed holds, read page by page.
async fn told(app: &TestApp, event_type: &str) -> usize {
    let mut after = String::new();
    let mut total = 0;
    loop {
        let page = app
            .admin_get(&format!("/v1/events?types={event_type}&limit=200{after}"))
            .await;
        let read = items(&page).len();
        total += read;
        if read < 200 {
            return total;
        }
        after = format!("&after={}", page["next_after"].as_str().unwrap());
    }
}
