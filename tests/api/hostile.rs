//! Bad input and forged tokens: always a clear 4xx, never a 500, nothing stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_problem, items, spawn_app};

#[tokio::test]
async fn hostile_user_fields_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let long = "a".repeat(10_000);
    let cases = [
        json!({"email": "x@acme.test", "first_name": "Eve\u{0}", "last_name": "N"}),
        json!({"email": "x@acme.test", "first_name": long, "last_name": "N"}),
        json!({"email": "x@acme.test", "first_name": "Eve\r\nBcc: all@acme.test", "last_name": "N"}),
        json!({"email": "x@acme.test\r\nBcc: all@acme.test", "first_name": "Eve", "last_name": "N"}),
        json!({"email": 42, "first_name": "Eve", "last_name": "N"}),
        json!({"email": "x@acme.test", "first_name": ["Eve"], "last_name": "N"}),
        json!({"email": "x@acme.test", "first_name": "Eve", "last_name": "N", "settings": "not an object"}),
        json!({"email": "x@acme.test", "first_name": "Eve", "last_name": "N", "role": "owner"}),
        json!({"email": "x@acme.test", "first_name": "Eve", "last_name": "N", "send_invite": "yes"}),
        json!({"email": "x@acme.test", "first_name": "Eve", "last_name": "N", "job_title": "x".repeat(201)}),
        json!({"email": "x@acme.test", "first_name": "Eve", "last_name": "N", "requester_name": "Sam\nAdmin"}),
    ];
    for body in cases {
        let response = app.add_customer_user(app.admin_token(), &cid, &body).await;
        let status = response.status();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let list = app.admin_get(&format!("/v1/customers/{cid}/users")).await;
    assert!(items(&list).is_empty(), "{list}");
    assert!(app
        .outbox()
        .await
        .iter()
        .all(|e| !e.recipient.contains("x@acme.test")));
}

#[tokio::test]
async fn hostile_query_parameters_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    for query in [
        "limit=-1",
        "limit=1000000",
        "limit=abc",
        "limit=1.5",
        "cursor=%00",
        "status=%0Aactive",
    ] {
        let response = app.list_users(app.admin_token(), query).await;
        let problem = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let field = problem["errors"][0]["field"].as_str().unwrap().to_string();
        assert!(query.starts_with(&field), "{query}: {problem}");
    }
}

#[tokio::test]
async fn a_nul_byte_in_a_path_or_a_search_is_harmless() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let response = app
        .get("/v1/users/abc%00def", Some(app.admin_token()))
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let search = app
        .list_customer_users(app.admin_token(), &cid, "q=a%00b")
        .await;
    assert!(
        search.status().is_success() || search.status().is_client_error(),
        "{}",
        search.status()
    );
}

#[tokio::test]
async fn a_body_sent_in_pieces_over_64_kib_is_413() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 4096])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = app
        .request(Method::POST, "/v1/customers", Some(app.admin_token()))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

fn forge(header: Value, claims: Value, signature: &str) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.{}", part(&header), part(&claims), signature)
}

#[tokio::test]
async fn forged_expired_and_misused_tokens_are_all_401() {
    let app = spawn_app().await;
    let (_, uid, tokens) = app.active_member("pat@acme.test").await;
    let state = app.state.clone();
    let kid = state.keys.kid().to_string();
    let good = tokens.access_token();
    let mut parts = good.split('.');
    let (_, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let session_version = claims["sv"].as_i64().unwrap() as i32;
    let now = state.clock.now().unix_timestamp();
    let signed = |edit: &dyn Fn(&mut roster::auth::jwt::Claims)| {
        let mut c = roster::service::sessions::access_claims(&state, &uid, session_version, false);
        edit(&mut c);
        state.keys.sign(&c)
    };
    let ours = json!({"alg": "EdDSA", "kid": kid, "typ": "at+jwt"});
    let mut edited = claims.clone();
    edited["sub"] = json!("someone-else");
    let mut exp_as_string = claims.clone();
    exp_as_string["exp"] = json!((now + 600).to_string());
    // The classic confusion attack: the public key used as an HMAC secret.
    let mut hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs256.kid = Some(kid.clone());
    let public_key = state.keys.jwks(now).keys[0].x.clone();
    let confused = jsonwebtoken::encode(
        &hs256,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public_key.as_bytes()),
    )
    .unwrap();
    let other_key = roster::auth::jwt::JwtKeys::from_pem(
        &roster::auth::jwt::generate_pem(),
        state.keys.issuer(),
    )
    .unwrap();
    let foreign = other_key.sign(&roster::service::sessions::access_claims(
        &state,
        &uid,
        session_version,
        false,
    ));
    let cases = [
        (
            "alg none",
            forge(json!({"alg": "none", "kid": kid}), claims.clone(), ""),
        ),
        ("HS256 signed with the public key", confused),
        ("edited payload", forge(ours.clone(), edited, signature)),
        (
            "exp as a string",
            forge(ours.clone(), exp_as_string, signature),
        ),
        ("another key and kid", foreign),
        (
            "expired by 1 s beyond the leeway",
            signed(&|c| c.exp = now - 6),
        ),
        ("expired by 90 s", signed(&|c| c.exp = now - 90)),
        ("nbf in the future", signed(&|c| c.nbf = now + 90)),
        ("wrong audience", signed(&|c| c.aud = "someone-else".into())),
        (
            "wrong issuer",
            signed(&|c| c.iss = "https://evil.test".into()),
        ),
        ("refresh token as bearer", tokens.refresh_token()),
        ("garbage", "not.a.token".to_string()),
    ];
    for (name, token) in cases {
        let status = app.me(&token).await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
    }
    assert_eq!(app.me(&good).await.status(), StatusCode::OK);
    // Signed just before use (the cases above may take a while under load),
    // expired 3 s ago: within the 5 s leeway with 2 s to spare.
    let now = state.clock.now().unix_timestamp();
    let within_leeway = signed(&|c| c.exp = now - 3);
    assert_eq!(
        app.me(&within_leeway).await.status(),
        StatusCode::OK,
        "leeway is 5 s"
    );
}

#[tokio::test]
async fn an_action_token_is_not_a_bearer_token() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.add_new_user(&cid, "new@acme.test", "full_access").await;
    let token = app.token_from_email("activation", "new@acme.test").await;
    expect_problem(
        app.me(&token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn nul_characters_and_malformed_ids_never_reach_the_database() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let admin = Some(app.admin_token());
    let nul_body = app
        .post_json(
            &format!("/v1/customers/{cid}/users"),
            admin,
            &json!({"email": "x@acme.test", "first_name": "A\u{0}", "last_name": "B"}),
        )
        .await;
    expect_problem(
        nul_body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let copy = app
        .post_json(
            &format!("/v1/customers/{cid}/users"),
            admin,
            &json!({"email": "x@acme.test", "first_name": "A", "last_name": "B", "copy_from_user_id": "nope"}),
        )
        .await;
    let problem = expect_problem(copy, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "copy_from_user_id");
    for path in [
        "/v1/audit-events?user_id=nope".to_string(),
        "/v1/users?customer_id=x%00y".to_string(),
        format!("/v1/customers/{cid}/users?q=a%00b"),
    ] {
        expect_problem(
            app.get(&path, admin).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    for path in [
        "/v1/customers/not-a-uuid",
        "/v1/users/%00",
        "/v1/api-clients/zzz",
        "/v1/email-deliveries/1/retry",
    ] {
        let method = if path.ends_with("retry") {
            Method::POST
        } else if path.contains("api-clients") {
            Method::DELETE
        } else {
            Method::GET
        };
        let status = app
            .request(method, path, admin)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let grant = app
        .password_grant("a\u{0}@acme.test", "whatever pass")
        .await;
    assert_eq!(grant.status(), StatusCode::BAD_REQUEST);
    let client = app.client_credentials("x\u{0}", "s").await;
    assert_eq!(client.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_seat_count_written_as_a_whole_float_is_accepted_and_a_fraction_is_named() {
    let app = spawn_app().await;
    let created = app
        .create_customer(
            app.admin_token(),
            &json!({"name": "Acme", "licensed_seats": 3.0}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["licensed_seats"], 3);
    let cid = body["id"].as_str().unwrap().to_string();
    for bad in [json!(2.5), json!(1e12), json!("3")] {
        let problem = expect_problem(
            app.send_json(
                Method::PATCH,
                &format!("/v1/customers/{cid}"),
                Some(app.admin_token()),
                &json!({"licensed_seats": bad}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "licensed_seats", "{bad}");
    }
}

#[tokio::test]
async fn any_cursor_of_the_documented_shape_is_a_position_and_any_other_is_named() {
    let app = spawn_app().await;
    app.customer("Acme", None).await;
    app.customer("Beta", None).await;
    let first: Value = app
        .get("/v1/customers?limit=1", Some(app.admin_token()))
        .await
        .json()
        .await
        .unwrap();
    let issued = first["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(issued.len(), 32, "{issued}");
    // Oldest and newest possible positions, the nil id, and one we issued.
    for cursor in [
        "A".repeat(32),
        "_".repeat(32),
        format!("{}{}", "-".repeat(11), "A".repeat(21)),
        issued,
        String::new(),
    ] {
        let response = app
            .get(
                &format!("/v1/customers?cursor={cursor}"),
                Some(app.admin_token()),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{cursor}");
    }
    for cursor in [
        "abc",
        "%20AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &"A".repeat(33),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%2B",
    ] {
        let problem = expect_problem(
            app.get(
                &format!("/v1/users?cursor={cursor}"),
                Some(app.admin_token()),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "cursor", "{cursor}");
    }
}
