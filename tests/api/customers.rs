//! Customers: platform admins create and edit them; members read their own.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    error_fields, expect_json, expect_problem, header, id_of, is_timestamp, item_strings,
    new_person, spawn_app,
};

#[tokio::test]
async fn creating_a_customer_returns_201_with_its_location_etag_and_counts() {
    let app = spawn_app().await;
    let response = app
        .create_customer(
            app.admin_token(),
            &json!({"name": "UBM Demo", "licensed_seats": 10}),
        )
        .await;
    let location = header(&response, "location");
    let etag = header(&response, "etag");
    let body = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(location, format!("/v1/customers/{}", id_of(&body)));
    assert!(!etag.is_empty(), "no ETag on the 201");
    assert_eq!(body["name"], "UBM Demo");
    assert_eq!(body["licensed_seats"], 10);
    assert_eq!(body["named_users"], 0);
    assert!(is_timestamp(&body["created_at"]), "{body}");
    assert!(is_timestamp(&body["updated_at"]), "{body}");

    let read = app.get(&location, Some(app.admin_token())).await;
    assert_eq!(header(&read, "etag"), etag);
    assert_eq!(expect_json(read, StatusCode::OK).await, body);
}

#[tokio::test]
async fn a_customer_created_without_seats_has_unlimited_seats() {
    let app = spawn_app().await;
    let response = app
        .create_customer(app.admin_token(), &json!({"name": "Open Ltd"}))
        .await;
    let body = expect_json(response, StatusCode::CREATED).await;
    assert!(body["licensed_seats"].is_null(), "{body}");
}

#[tokio::test]
async fn a_blank_customer_name_is_422_naming_name() {
    let app = spawn_app().await;
    for body in [json!({"name": ""}), json!({"name": "   "})] {
        let response = app.create_customer(app.admin_token(), &body).await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["name"], "{body}");
    }
    let list = app.admin_get("/v1/customers").await;
    assert!(item_strings(&list, "id").is_empty(), "nothing was created");
}

#[tokio::test]
async fn a_missing_customer_name_is_422_naming_name() {
    let app = spawn_app().await;
    let response = app
        .create_customer(app.admin_token(), &json!({"licensed_seats": 5}))
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name"], "{problem}");
}

#[tokio::test]
async fn negative_licensed_seats_are_422_naming_licensed_seats() {
    let app = spawn_app().await;
    let response = app
        .create_customer(
            app.admin_token(),
            &json!({"name": "Neg", "licensed_seats": -1}),
        )
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["licensed_seats"]);
}

#[tokio::test]
async fn platform_admins_list_every_customer_newest_first() {
    let app = spawn_app().await;
    for name in ["Alpha", "Bravo", "Charlie"] {
        app.customer(name, None).await;
    }
    let page = app.admin_get("/v1/customers").await;
    assert_eq!(item_strings(&page, "name"), ["Charlie", "Bravo", "Alpha"]);
    assert!(page["next_cursor"].is_null(), "{page}");
    let first = &page["items"][0];
    for field in [
        "id",
        "name",
        "licensed_seats",
        "named_users",
        "created_at",
        "updated_at",
    ] {
        assert!(first.get(field).is_some(), "{field} missing from {first}");
    }
}

#[tokio::test]
async fn members_list_only_the_customers_they_belong_to() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", None).await;
    app.customer("Bravo", None).await;
    let c = app.customer("Charlie", None).await;
    let (_, token) = app
        .invite_and_activate(&a, "pat@acme.test", "full_access")
        .await;
    app.add_existing_user(&c, "pat@acme.test").await;

    let page = expect_json(app.list_customers(&token, "").await, StatusCode::OK).await;
    assert_eq!(item_strings(&page, "name"), ["Charlie", "Alpha"]);
}

#[tokio::test]
async fn customer_lists_page_with_a_cursor_without_repeats() {
    let app = spawn_app().await;
    for n in 1..=5 {
        app.customer(&format!("Customer {n}"), None).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/customers?limit=2".to_string();
    loop {
        let page = app.admin_get(&path).await;
        let names = item_strings(&page, "name");
        assert!(names.len() <= 2, "{page}");
        seen.extend(names);
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/customers?limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(seen.len() <= 5, "the cursor never ends: {seen:?}");
    }
    assert_eq!(
        seen,
        [
            "Customer 5",
            "Customer 4",
            "Customer 3",
            "Customer 2",
            "Customer 1"
        ]
    );
}

#[tokio::test]
async fn customer_lists_filter_by_name_prefix() {
    let app = spawn_app().await;
    for name in ["Acme North", "Acme South", "Beta Acme"] {
        app.customer(name, None).await;
    }
    let acme = app.admin_get("/v1/customers?q=acme").await;
    assert_eq!(item_strings(&acme, "name"), ["Acme South", "Acme North"]);
    let north = app.admin_get("/v1/customers?q=North").await;
    assert!(item_strings(&north, "name").is_empty(), "{north}");
}

#[tokio::test]
async fn a_limit_outside_1_to_200_is_422_naming_limit() {
    let app = spawn_app().await;
    for bad in ["0", "201", "-1", "abc"] {
        let response = app
            .list_customers(app.admin_token(), &format!("limit={bad}"))
            .await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), ["limit"], "limit={bad}");
    }
    for good in ["1", "200"] {
        app.admin_get(&format!("/v1/customers?limit={good}")).await;
    }
}

#[tokio::test]
async fn a_member_reads_their_customer_with_an_etag_and_a_non_member_gets_404() {
    let app = spawn_app().await;
    let a = app.customer("Alpha", Some(5)).await;
    let b = app.customer("Bravo", None).await;
    let (_, member) = app
        .invite_and_activate(&a, "pat@acme.test", "full_access")
        .await;
    let read = app.get_customer(&member, &a).await;
    assert!(!header(&read, "etag").is_empty(), "no ETag");
    let body = expect_json(read, StatusCode::OK).await;
    assert_eq!(body["name"], "Alpha");
    assert_eq!(body["named_users"], 1);
    assert_eq!(body["licensed_seats"], 5);
    expect_problem(
        app.get_customer(&member, &b).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_customer_is_404() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    expect_problem(
        app.get_customer(app.admin_token(), &unknown).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn patching_a_customer_changes_only_the_given_fields_and_the_etag() {
    let app = spawn_app().await;
    let created = expect_json(
        app.create_customer(
            app.admin_token(),
            &json!({"name": "UBM Demo", "licensed_seats": 3}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let cid = id_of(&created);
    let path = format!("/v1/customers/{cid}");
    let before = header(&app.get_customer(app.admin_token(), &cid).await, "etag");

    let renamed = app
        .update_customer(app.admin_token(), &cid, &json!({"name": "UBM Live"}))
        .await;
    let after = header(&renamed, "etag");
    let body = expect_json(renamed, StatusCode::OK).await;
    assert_eq!(body["name"], "UBM Live");
    assert_eq!(body["licensed_seats"], 3, "seats untouched");
    assert_eq!(body["created_at"], created["created_at"]);
    assert!(!after.is_empty() && after != before, "{before} → {after}");

    let seats = app
        .update_customer(app.admin_token(), &cid, &json!({"licensed_seats": 7}))
        .await;
    let body = expect_json(seats, StatusCode::OK).await;
    assert_eq!(
        (body["name"].as_str(), body["licensed_seats"].as_i64()),
        (Some("UBM Live"), Some(7))
    );
    assert_eq!(app.admin_get(&path).await, body);
}

#[tokio::test]
async fn null_licensed_seats_makes_a_customer_unlimited() {
    let app = spawn_app().await;
    let cid = app.customer("Small", Some(1)).await;
    let response = app
        .update_customer(app.admin_token(), &cid, &json!({"licensed_seats": null}))
        .await;
    assert!(expect_json(response, StatusCode::OK).await["licensed_seats"].is_null());
    for n in 0..3 {
        app.add_new_user(&cid, &format!("u{n}@acme.test"), "full_access")
            .await;
    }
    assert_eq!(app.named_users(&cid).await, 3);
}

#[tokio::test]
async fn a_stale_if_match_on_a_customer_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let cid = app.customer("UBM Demo", None).await;
    let path = format!("/v1/customers/{cid}");
    let etag = header(&app.get_customer(app.admin_token(), &cid).await, "etag");
    let fresh = app
        .update_customer_if_match(app.admin_token(), &cid, &etag, &json!({"name": "First"}))
        .await;
    assert_eq!(expect_json(fresh, StatusCode::OK).await["name"], "First");
    let stale = app
        .update_customer_if_match(app.admin_token(), &cid, &etag, &json!({"name": "Second"}))
        .await;
    expect_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    assert_eq!(app.admin_get(&path).await["name"], "First");
}

#[tokio::test]
async fn lowering_seats_below_named_users_is_allowed_and_blocks_further_additions() {
    let app = spawn_app().await;
    let cid = app.customer("UBM Demo", None).await;
    app.add_new_user(&cid, "a@acme.test", "full_access").await;
    app.add_new_user(&cid, "b@acme.test", "full_access").await;
    let lowered = app
        .update_customer(app.admin_token(), &cid, &json!({"licensed_seats": 1}))
        .await;
    let seats = |body: &serde_json::Value| {
        (
            body["licensed_seats"].as_i64(),
            body["named_users"].as_i64(),
        )
    };
    let body = expect_json(lowered, StatusCode::OK).await;
    assert_eq!(seats(&body), (Some(1), Some(2)));
    let users = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert_eq!(seats(&users), (Some(1), Some(2)), "the user list agrees");
    expect_problem(
        app.add_customer_user(app.admin_token(), &cid, &new_person("c@acme.test"))
            .await,
        StatusCode::CONFLICT,
        "seat_limit_reached",
    )
    .await;
}

#[tokio::test]
async fn a_blank_name_or_negative_seats_in_a_customer_patch_is_422() {
    let app = spawn_app().await;
    let cid = app.customer("UBM Demo", Some(2)).await;
    let path = format!("/v1/customers/{cid}");
    for (body, field) in [
        (json!({"name": " "}), "name"),
        (json!({"licensed_seats": -3}), "licensed_seats"),
    ] {
        let problem = expect_problem(
            app.update_customer(app.admin_token(), &cid, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&problem), [field]);
    }
    let unchanged = app.admin_get(&path).await;
    assert_eq!(
        (
            unchanged["name"].as_str(),
            unchanged["licensed_seats"].as_i64()
        ),
        (Some("UBM Demo"), Some(2))
    );
}
