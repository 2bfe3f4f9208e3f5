//! Bulk import and export (docs/api.md, "Bulk import and export"): files
//! refused as a whole, row errors, seats, dry runs, re-imports, tenancy and
//! the export round trip. The jobs run through the app's delivery worker
//! (`resolve_requests`), as they do in the background.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    error_fields, expect_json, expect_problem, header, id_of, items, spawn_app, spawn_app_with,
    TestApp,
};

const HEADER: &str = "email,first_name,last_name,job_title,role,external_id,groups";

impl TestApp {
    async fn upload(
        &self,
        token: &str,
        cid: &str,
        query: &str,
        kind: &str,
        body: &str,
    ) -> Response {
        self.request(
            Method::POST,
            &format!("/v1/customers/{cid}/user-imports{query}"),
            Some(token),
        )
        .header("content-type", kind)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
    }

    /// Uploads a CSV file as the platform admin and runs the job to its end;
    /// the finished job.
    async fn import_csv(&self, cid: &str, query: &str, csv: &str) -> Value {
        let response = self
            .upload(self.admin_token(), cid, query, "text/csv", csv)
            .await;
        let job = expect_json(response, StatusCode::ACCEPTED).await;
        self.finish(&id_of(&job)).await
    }

    async fn finish(&self, id: &str) -> Value {
        self.resolve_requests().await;
        let job = self.admin_get(&format!("/v1/user-imports/{id}")).await;
        assert_eq!(job["status"], "completed", "{job}");
        job
    }

    async fn import_errors(&self, id: &str) -> Vec<Value> {
        let page = self
            .admin_get(&format!("/v1/user-imports/{id}/errors?limit=200"))
            .await;
        items(&page).clone()
    }

    async fn members(&self, cid: &str) -> Vec<Value> {
        let page = self
            .admin_get(&format!("/v1/customers/{cid}/users?limit=200"))
            .await;
        items(&page).clone()
    }

    /// A new group of the customer (the groups tests have their own helper).
    async fn import_group(&self, cid: &str, name: &str) {
        let response = self
            .post_json(
                &format!("/v1/customers/{cid}/groups"),
                Some(self.admin_token()),
                &json!({"name": name}),
            )
            .await;
        expect_json(response, StatusCode::CREATED).await;
    }

    async fn export(&self, cid: &str, accept: &str) -> Response {
        self.request(
            Method::GET,
            &format!("/v1/customers/{cid}/users/export"),
            Some(self.admin_token()),
        )
        .header("accept", accept)
        .send()
        .await
        .unwrap()
    }
}

fn counts(job: &Value) -> [i64; 5] {
    [
        "processed_rows",
        "created",
        "updated",
        "unchanged",
        "failed",
    ]
    .map(|key| {
        job[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{key} in {job}"))
    })
}

fn codes(errors: &[Value]) -> Vec<(i64, String, String)> {
    errors
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_csv_import_invites_new_people_and_answers_with_the_job() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let csv = format!(
        "{HEADER}\nada@acme.test,Ada,Lovelace,Engineer,admin,,\nbob@acme.test,Bob,Stone,,standard_user,,\n"
    );
    let response = app
        .upload(app.admin_token(), &cid, "", "text/csv", &csv)
        .await;
    let location = header(&response, "location");
    let job = expect_json(response, StatusCode::ACCEPTED).await;
    let id = id_of(&job);
    assert_eq!(location, format!("/v1/user-imports/{id}"));
    assert_eq!(
        (
            &job["status"],
            &job["total_rows"],
            &job["dry_run"],
            &job["send_invites"]
        ),
        (&json!("queued"), &json!(2), &json!(false), &json!(true))
    );
    assert_eq!(job["customer_id"], cid);

    let job = app.finish(&id).await;
    assert_eq!(counts(&job), [2, 2, 0, 0, 0]);
    assert!(job["started_at"].is_string() && job["finished_at"].is_string());
    let members = app.members(&cid).await;
    let ada = members
        .iter()
        .find(|m| m["email"] == "ada@acme.test")
        .unwrap();
    assert_eq!(
        (&ada["role"], &ada["job_title"], &ada["status"]),
        (&json!("admin"), &json!("Engineer"), &json!("invited"))
    );
    assert_eq!(app.count_emails("activation", "bob@acme.test").await, 1);
    let invited = app.audit_events("action=user.invited").await;
    assert_eq!(invited.len(), 2);
    assert!(invited
        .iter()
        .all(|e| e["request_id"].is_string() && e["actor_user_id"].is_string()));
}

#[tokio::test]
async fn an_ndjson_import_reads_one_object_a_line_and_can_leave_invites_out() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let body = "{\"email\":\"ada@acme.test\",\"first_name\":\"Ada\",\"last_name\":\"L\",\"role\":\"standard_user\"}\n\
                {\"email\":\"bob@acme.test\",\"first_name\":\"Bob\",\"last_name\":\"S\",\"job_title\":null}\n";
    let response = app
        .upload(
            app.admin_token(),
            &cid,
            "?send_invites=false",
            "application/x-ndjson",
            body,
        )
        .await;
    let job = expect_json(response, StatusCode::ACCEPTED).await;
    let job = app.finish(&id_of(&job)).await;
    assert_eq!(counts(&job), [2, 2, 0, 0, 0]);
    assert_eq!(app.count_emails("activation", "ada@acme.test").await, 0);
    assert_eq!(app.members(&cid).await.len(), 2);
}

#[tokio::test]
async fn a_file_that_cannot_be_read_as_a_whole_is_refused_naming_the_problem() {
    let app = spawn_app_with(&[("ROSTER_IMPORT_MAX_BYTES", "1024")]).await;
    let cid = app.customer("Acme", None).await;
    let token = app.admin_token().to_string();
    let unknown = app
        .upload(
            &token,
            &cid,
            "",
            "text/csv",
            "email,shoe_size\na@x.test,9\n",
        )
        .await;
    let problem = expect_problem(
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["columns"]);
    assert!(
        problem["detail"].as_str().unwrap().contains("shoe_size"),
        "{problem}"
    );
    let no_email = app
        .upload(&token, &cid, "", "text/csv", "first_name\nAda\n")
        .await;
    let problem = expect_problem(
        no_email,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("email"),
        "{problem}"
    );
    for empty in ["", "email\n"] {
        let response = app.upload(&token, &cid, "", "text/csv", empty).await;
        expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let json = app.upload(&token, &cid, "", "application/json", "{}").await;
    expect_problem(
        json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let big = format!("{HEADER}\n{}", "a@x.test,A,B,,,,\n".repeat(100));
    let response = app.upload(&token, &cid, "", "text/csv", &big).await;
    expect_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let bad_flag = app
        .upload(
            &token,
            &cid,
            "?dry_run=maybe",
            "text/csv",
            "email\na@x.test\n",
        )
        .await;
    expect_problem(
        bad_flag,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn every_kind_of_bad_row_fails_alone_with_its_row_number_field_and_code() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", Some(4)).await;
    let elsewhere = app.customer("Elsewhere", None).await;
    // A member of two customers: an admin of one alone may not rename them.
    let (shared, _) = app
        .invite_and_activate(&cid, "shared@acme.test", "full_access")
        .await;
    app.add_existing_user(&elsewhere, "shared@acme.test").await;
    let (_, admin_token) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let retired = app
        .add_new_user(&elsewhere, "gone@acme.test", "full_access")
        .await;
    app.admin_set_status(&retired, "retired").await;
    let csv = format!(
        "{HEADER}\n\
         not-an-email,A,B,,,,\n\
         bad@acme.test,A,B,,boss,,\n\
         new1@acme.test,A,B,,,,\n\
         New1@acme.test,A,B,,,,\n\
         nameless@acme.test,,,,,,\n\
         gone@acme.test,,,,,,\n\
         shared@acme.test,Renamed,Person,,,,\n\
         new2@acme.test,A,B,,,,\n\
         new3@acme.test,A,B,,,,\n"
    );
    let response = app
        .upload(&admin_token, &cid, "?send_invites=false", "text/csv", &csv)
        .await;
    let id = id_of(&expect_json(response, StatusCode::ACCEPTED).await);
    let job = app.finish(&id).await;
    assert_eq!(counts(&job), [9, 2, 0, 0, 7], "{job}");
    let errors = app.import_errors(&id).await;
    assert_eq!(
        codes(&errors),
        [
            (2, "email".into(), "validation_failed".into()),
            (3, "role".into(), "validation_failed".into()),
            (5, "email".into(), "duplicate_row".into()),
            (6, "first_name".into(), "validation_failed".into()),
            (7, "email".into(), "user_retired".into()),
            (8, "row".into(), "forbidden".into()),
            (10, "email".into(), "seat_limit_reached".into()),
        ]
    );
    assert_eq!(errors[0]["email"], "not-an-email");
    assert!(errors
        .iter()
        .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    assert_eq!(app.user_info(&shared).await["first_name"], "Pat");

    let first = app
        .admin_get(&format!("/v1/user-imports/{id}/errors?limit=4"))
        .await;
    assert_eq!(items(&first).len(), 4);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .admin_get(&format!(
            "/v1/user-imports/{id}/errors?limit=4&cursor={cursor}"
        ))
        .await;
    assert_eq!(codes(items(&rest)), codes(&errors[4..]));
    assert!(rest["next_cursor"].is_null());
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_reports_what_would_happen_seats_included() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", Some(3)).await;
    app.add_new_user(&cid, "old@acme.test", "full_access").await;
    let csv = format!(
        "{HEADER}\nold@acme.test,,,Boss,admin,,\na@acme.test,A,B,,,,\nb@acme.test,A,B,,,,\nc@acme.test,A,B,,,,\n"
    );
    let audit_before = app.audit_events("limit=200").await.len();
    let job = app.import_csv(&cid, "?dry_run=true", &csv).await;
    assert_eq!(job["dry_run"], true);
    assert_eq!(counts(&job), [4, 2, 1, 0, 1]);
    let errors = app.import_errors(&id_of(&job)).await;
    assert_eq!(
        codes(&errors),
        [(5, "email".into(), "seat_limit_reached".into())]
    );
    assert_eq!(app.members(&cid).await.len(), 1);
    assert_eq!(app.audit_events("limit=200").await.len(), audit_before);
    assert_eq!(app.count_emails("activation", "a@acme.test").await, 0);
    let customer = app.admin_get(&format!("/v1/customers/{cid}")).await;
    assert_eq!(customer["named_users"], 1, "{customer}");

    let real = app.import_csv(&cid, "", &csv).await;
    assert_eq!(counts(&real), counts(&job), "the dry run told the truth");
}

#[tokio::test]
async fn an_existing_member_is_updated_only_where_the_row_differs() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let uid = app.add_new_user(&cid, "pat@acme.test", "full_access").await;
    let csv = format!("{HEADER}\nPAT@acme.test,Pat,Lee,Buyer,standard_user,,\n");
    let job = app.import_csv(&cid, "", &csv).await;
    assert_eq!(counts(&job), [1, 0, 1, 0, 0]);
    let info = app.user_info(&uid).await;
    assert_eq!(
        (&info["job_title"], &info["first_name"]),
        (&json!("Buyer"), &json!("Pat"))
    );
    let member = &app.members(&cid).await[0];
    assert_eq!(member["role"], "standard_user");
    let updated = app.audit_events("action=user.updated").await;
    assert_eq!(updated.len(), 1);
    assert!(
        updated[0]["changes"].get("first_name").is_none(),
        "{}",
        updated[0]
    );
    assert_eq!(app.audit_events("action=membership.updated").await.len(), 1);
}

#[tokio::test]
async fn re_importing_the_same_file_reports_every_row_unchanged_and_records_nothing() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let csv = format!("{HEADER}\na@acme.test,Ann,Bell,Clerk,admin,,\nb@acme.test,Bo,Chu,,,,\n");
    let first = app.import_csv(&cid, "", &csv).await;
    assert_eq!(counts(&first), [2, 2, 0, 0, 0]);
    let audit_before = app.audit_events("limit=200").await.len();
    let again = app.import_csv(&cid, "", &csv).await;
    assert_eq!(counts(&again), [2, 0, 0, 2, 0]);
    assert_eq!(app.audit_events("limit=200").await.len(), audit_before);
}

#[tokio::test]
async fn someone_with_an_account_elsewhere_gets_a_membership_as_the_rest_add_gives() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let other = app.customer("Other", None).await;
    let uid = app.add_new_user(&other, "pat@acme.test", "admin").await;
    let csv = format!("{HEADER}\npat@acme.test,Ignored,Names,,standard_user,,\n");
    let job = app.import_csv(&cid, "", &csv).await;
    assert_eq!(counts(&job), [1, 1, 0, 0, 0]);
    let mut customers = app.customer_ids_of(&uid).await;
    customers.sort();
    let mut expected = vec![cid.clone(), other.clone()];
    expected.sort();
    assert_eq!(customers, expected);
    assert_eq!(
        app.count_emails("membership_added", "pat@acme.test").await,
        1
    );
    assert_eq!(
        app.members(&other).await[0]["role"],
        "admin",
        "the other customer is untouched"
    );
}

#[tokio::test]
async fn another_customers_admin_can_neither_start_nor_see_an_import() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let other = app.customer("Other", None).await;
    let (_, outsider) = app
        .invite_and_activate(&other, "boss@other.test", "admin")
        .await;
    let (_, member) = app
        .invite_and_activate(&cid, "plain@acme.test", "standard_user")
        .await;
    let csv = format!("{HEADER}\nx@acme.test,X,Y,,,,\n");
    let refused = app.upload(&outsider, &cid, "", "text/csv", &csv).await;
    expect_problem(refused, StatusCode::NOT_FOUND, "not_found").await;
    let refused = app.upload(&member, &cid, "", "text/csv", &csv).await;
    expect_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;

    let job = app.import_csv(&cid, "", &csv).await;
    let id = id_of(&job);
    for path in [
        format!("/v1/user-imports/{id}"),
        format!("/v1/user-imports/{id}/errors"),
    ] {
        expect_problem(
            app.get(&path, Some(&outsider)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.get(&path, Some(&member)).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert!(app
        .members(&other)
        .await
        .iter()
        .all(|m| m["email"] != "x@acme.test"));
    let export = app
        .request(
            Method::GET,
            &format!("/v1/customers/{cid}/users/export"),
            Some(&outsider),
        )
        .send()
        .await
        .unwrap();
    expect_problem(export, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_customer_admin_imports_into_their_own_customer() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let (admin_id, admin) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let csv = format!("{HEADER}\nnew@acme.test,N,E,,,,\n");
    let response = app.upload(&admin, &cid, "", "text/csv", &csv).await;
    let id = id_of(&expect_json(response, StatusCode::ACCEPTED).await);
    app.finish(&id).await;
    let job = expect_json(
        app.get(&format!("/v1/user-imports/{id}"), Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(counts(&job), [1, 1, 0, 0, 0]);
    let added = app.audit_events("action=membership.added").await;
    assert!(
        added.iter().any(|e| e["actor_user_id"] == json!(admin_id)),
        "{added:?}"
    );
}

#[tokio::test]
async fn an_import_acts_with_the_rights_its_uploader_still_has_when_it_runs() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let (admin_id, admin) = app
        .invite_and_activate(&cid, "boss@acme.test", "admin")
        .await;
    let csv = format!("{HEADER}\nnew@acme.test,N,E,,,,\nother@acme.test,O,T,,,,\n");
    let response = app.upload(&admin, &cid, "", "text/csv", &csv).await;
    let id = id_of(&expect_json(response, StatusCode::ACCEPTED).await);
    // Demoted before the job runs: the upload's rights are gone with the role.
    let demoted = app
        .update_customer_user(
            app.admin_token(),
            &cid,
            &admin_id,
            &json!({"role": "full_access"}),
        )
        .await;
    assert_eq!(demoted.status(), StatusCode::OK);
    let job = app.finish(&id).await;
    assert_eq!(counts(&job), [2, 0, 0, 0, 2], "{job}");
    let errors = app.import_errors(&id).await;
    assert!(
        errors.iter().all(|e| e["code"] == "forbidden"),
        "{errors:?}"
    );
    assert_eq!(app.named_users(&cid).await, 1, "nobody was added");
}

#[tokio::test]
async fn an_export_lists_every_member_as_csv_or_ndjson_and_refuses_other_types() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    let csv =
        format!("{HEADER}\na@acme.test,Ann,\"Bell, Jr\",Clerk,admin,,\nb@acme.test,Bo,Chu,,,,\n");
    app.import_csv(&cid, "", &csv).await;

    let response = app.export(&cid, "text/csv").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "content-type").starts_with("text/csv"));
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("{HEADER},id,status,added_at")
    );
    assert_eq!(lines.count(), 2);
    assert!(text.contains("\"Bell, Jr\""), "{text}");

    let response = app.export(&cid, "application/x-ndjson").await;
    assert_eq!(header(&response, "content-type"), "application/x-ndjson");
    let text = response.text().await.unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    let ann = rows.iter().find(|r| r["email"] == "a@acme.test").unwrap();
    assert_eq!(
        (&ann["role"], &ann["status"]),
        (&json!("admin"), &json!("invited"))
    );

    let response = app.export(&cid, "application/json").await;
    expect_problem(response, StatusCode::NOT_ACCEPTABLE, "not_acceptable").await;
}

#[tokio::test]
async fn importing_an_export_reports_every_row_unchanged() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.import_group(&cid, "Finance").await;
    app.import_group(&cid, "Sites").await;
    let rows: String = (0..1203)
        .map(|i| {
            let groups = ["", "Finance", "Finance;Sites"][i % 3];
            let external_id = if i % 2 == 0 { format!("HR-{i}") } else { String::new() };
            format!("user{i}@acme.test,First{i},Last{i},Title {i},standard_user,{external_id},{groups}\n")
        })
        .collect();
    let job = app
        .import_csv(&cid, "?send_invites=false", &format!("{HEADER}\n{rows}"))
        .await;
    assert_eq!(counts(&job)[1], 1203);
    for accept in ["text/csv", "application/x-ndjson"] {
        let exported = app.export(&cid, accept).await.text().await.unwrap();
        let response = app
            .upload(app.admin_token(), &cid, "", accept, &exported)
            .await;
        let job = expect_json(response, StatusCode::ACCEPTED).await;
        let job = app.finish(&id_of(&job)).await;
        assert_eq!(counts(&job), [1203, 0, 0, 1203, 0], "{accept}");
    }
}

#[tokio::test]
async fn external_ids_and_groups_are_set_matched_on_and_changed_like_any_field() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.import_group(&cid, "Finance").await;
    app.import_group(&cid, "Sites").await;
    let csv = format!(
        "{HEADER}\nana@acme.test,Ana,Ruiz,,,HR-1,Finance; sites\nbo@acme.test,Bo,Chu,,,,Payroll\n"
    );
    let job = app.import_csv(&cid, "?send_invites=false", &csv).await;
    assert_eq!(counts(&job), [2, 1, 0, 0, 1]);
    assert_eq!(
        codes(&app.import_errors(&id_of(&job)).await),
        [(3, "groups".into(), "validation_failed".into())]
    );
    let page = app
        .admin_get(&format!("/v1/customers/{cid}/users?external_id=HR-1"))
        .await;
    let ana = &items(&page)[0];
    assert_eq!(ana["email"], "ana@acme.test");
    let names: Vec<&str> = ana["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Finance", "Sites"]);

    // Matched by external id: the address and the groups change.
    let moved = format!("{HEADER}\nana.ruiz@acme.test,Ana,Ruiz,,,HR-1,Sites\n");
    let job = app.import_csv(&cid, "", &moved).await;
    assert_eq!(counts(&job), [1, 0, 1, 0, 0], "{job}");
    let page = app
        .admin_get(&format!("/v1/customers/{cid}/users?external_id=HR-1"))
        .await;
    let ana = &items(&page)[0];
    assert_eq!(ana["email"], "ana.ruiz@acme.test");
    assert_eq!(ana["groups"].as_array().unwrap().len(), 1);
    let again = app.import_csv(&cid, "", &moved).await;
    assert_eq!(counts(&again), [1, 0, 0, 1, 0]);
}

#[tokio::test]
async fn the_export_path_is_never_taken_for_a_user() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    for method in [Method::PATCH, Method::DELETE, Method::POST] {
        let response = app
            .request(
                method.clone(),
                &format!("/v1/customers/{cid}/users/export"),
                Some(app.admin_token()),
            )
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, "allow"), "GET, HEAD", "{method}");
        expect_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

/// What an audit event or a feed event says, without what differs from
/// one person to the next (ids, addresses, names, times).
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| (key.clone(), shape(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(_) => json!("…"),
        other => other.clone(),
    }
}

#[tokio::test]
async fn people_new_to_the_platform_are_recorded_and_told_as_the_rest_add_records_them() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", None).await;
    app.import_group(&cid, "Ops").await;
    let groups = app.admin_get(&format!("/v1/customers/{cid}/groups")).await;
    let ops = id_of(&items(&groups)[0]);
    let by_rest = json!({
        "email": "rest@acme.test", "first_name": "Re", "last_name": "St", "job_title": "Clerk",
        "role": "admin", "external_id": "E-1", "group_ids": [ops], "send_invite": false,
    });
    let rest = expect_json(
        app.add_customer_user(app.admin_token(), &cid, &by_rest)
            .await,
        StatusCode::CREATED,
    )
    .await;
    let csv = format!("{HEADER}\nfile@acme.test,Fi,Le,Clerk,admin,E-2,ops\n");
    let job = app.import_csv(&cid, "?send_invites=false", &csv).await;
    assert_eq!(counts(&job), [1, 1, 0, 0, 0]);
    let members = app.members(&cid).await;
    let imported = members
        .iter()
        .find(|m| m["email"] == "file@acme.test")
        .unwrap();
    assert_eq!(
        (&imported["external_id"], &imported["groups"][0]["name"]),
        (&json!("E-2"), &json!("Ops"))
    );

    for action in ["user.invited", "membership.added"] {
        let audit = app.audit_events(&format!("action={action}")).await;
        let [by_file, by_rest] = &audit[..] else {
            panic!("{audit:?}")
        };
        assert_eq!(by_rest["target_user_id"], rest["id"]);
        assert_eq!(shape(&by_file["changes"]), shape(&by_rest["changes"]));
    }
    let feed = app.admin_get("/v1/events?limit=100").await;
    let told: Vec<&Value> = items(&feed)
        .iter()
        .filter(|e| e["type"] == "user.invited" || e["type"] == "membership.added")
        .collect();
    let types: Vec<&str> = told.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "user.invited",
            "membership.added",
            "user.invited",
            "membership.added"
        ]
    );
    for (by_rest, by_file) in [(told[0], told[2]), (told[1], told[3])] {
        let (rest_data, file_data) = (&by_rest["data"], &by_file["data"]);
        assert_eq!(
            shape(rest_data),
            shape(file_data),
            "{rest_data} / {file_data}"
        );
        assert_eq!(file_data["user"]["email"], "file@acme.test");
    }
    assert_eq!(told[3]["data"]["membership"]["groups"][0]["id"], ops);
}

#[tokio::test]
async fn new_people_beyond_the_seats_left_fail_alone_in_file_order() {
    let app = spawn_app().await;
    let cid = app.customer("Acme", Some(3)).await;
    app.add_new_user(&cid, "old@acme.test", "full_access").await;
    let csv = format!(
        "{HEADER}\na@acme.test,A,B,,,,\nnameless@acme.test,,,,,,\nb@acme.test,A,B,,,,nowhere\nc@acme.test,A,B,,,,\nd@acme.test,A,B,,,,\n"
    );
    let job = app.import_csv(&cid, "", &csv).await;
    assert_eq!(counts(&job), [5, 2, 0, 0, 3]);
    let errors = app.import_errors(&id_of(&job)).await;
    assert_eq!(
        codes(&errors),
        [
            (3, "first_name".into(), "validation_failed".into()),
            (4, "groups".into(), "validation_failed".into()),
            (6, "email".into(), "seat_limit_reached".into()),
        ]
    );
    let mut emails: Vec<String> = app
        .members(&cid)
        .await
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_string())
        .collect();
    emails.sort();
    assert_eq!(emails, ["a@acme.test", "c@acme.test", "old@acme.test"]);
    let customer = app.admin_get(&format!("/v1/customers/{cid}")).await;
    assert_eq!(customer["named_users"], 3, "{customer}");
    assert_eq!(app.audit_events("action=user.invited").await.len(), 3);
}
