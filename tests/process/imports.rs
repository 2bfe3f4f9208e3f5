//! A bulk import killed with SIGKILL mid-job resumes after a restart: each
//! batch commits its rows with the job's progress, so the restarted process
//! (once the dead one's lease on the job runs out) carries on after the last
//! committed batch, and no row is done twice.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestDatabase, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{client, create_customer, run_command, sign_in, Inspector, Roster, SERIAL};

/// Six batches: the kill lands after the first.
const ROWS: usize = 3_000;

async fn job(http: &reqwest::Client, roster: &Roster, token: &str, id: &str) -> Option<Value> {
    let response = http
        .get(roster.url(&format!("/v1/user-imports/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    (response.status() == StatusCode::OK).then_some(())?;
    response.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_mid_job_finishes_after_a_restart_with_every_row_done_once() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let env = [
        ("ROSTER_MAIL_TIMEOUT", "1s"),
        ("ROSTER_WEBHOOK_TIMEOUT", "1s"),
        ("ROSTER_MAIL_LEASE", "3s"),
    ];
    let mut roster = Roster::start(&db.url, &env).await;
    let http = client();
    let token = sign_in(&http, &roster, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let customer = create_customer(&http, &roster, &token, "Kill Nine Imports").await;
    let mut csv = String::from("email,first_name,last_name,job_title,role\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "person{i}@kill.test,First{i},Last{i},Clerk,standard_user\n"
        ));
    }
    let response = http
        .post(roster.url(&format!(
            "/v1/customers/{customer}/user-imports?send_invites=false"
        )))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Kill it once some batches, not all, are committed.
    let deadline = Instant::now() + Duration::from_secs(300);
    let killed_at = loop {
        let done = job(&http, &roster, &token, &id)
            .await
            .and_then(|job| job["processed_rows"].as_u64())
            .unwrap_or(0);
        if done > 0 {
            assert!(done < ROWS as u64, "the job ended before the kill");
            roster.sigkill();
            break done;
        }
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let restarted = Roster::start(&db.url, &env).await;
    let token = sign_in(&http, &restarted, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let finished = loop {
        let job = job(&http, &restarted, &token, &id).await.unwrap();
        if job["status"] == "completed" {
            break job;
        }
        assert_ne!(job["status"], "failed", "{job}");
        assert!(Instant::now() < deadline, "the job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (key, expected) in [
        ("total_rows", ROWS),
        ("processed_rows", ROWS),
        ("created", ROWS),
        ("failed", 0),
        ("unchanged", 0),
    ] {
        assert_eq!(
            finished[key], expected,
            "{key} in {finished} (killed after {killed_at} rows)"
        );
    }
    let inspector = Inspector::open(&db.url);
    let members = inspector
        .memberships()
        .into_iter()
        .filter(|(c, _)| *c == customer)
        .count();
    assert_eq!(members, ROWS);
    assert_eq!(
        inspector.count_audit("membership.added"),
        ROWS as i64,
        "each row once"
    );
    assert!(
        inspector
            .outbox()
            .iter()
            .all(|row| row.kind != "user_import"),
        "the finished job left the outbox"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_a_file_prints_its_failed_rows_and_exports_it_back() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let mut roster = Roster::start(&db.url, &[]).await;
    let http = client();
    let token = sign_in(&http, &roster, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let customer = create_customer(&http, &roster, &token, "Command Line Co").await;
    roster.sigterm();
    roster.wait_exit(Duration::from_secs(30)).await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    std::fs::write(
        &file,
        "email,first_name,last_name,role\nada@cli.test,Ada,Byron,admin\nnot-an-email,X,Y,\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let (ok, out, err) = run_command(
        &db.url,
        &[
            "users",
            "import",
            "--customer",
            &customer,
            file,
            "--no-invites",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("2 rows, 1 created, 0 updated, 0 unchanged, 1 failed"),
        "{out}"
    );
    assert!(out.contains("row 3: not-an-email email:"), "{out}");
    let inspector = Inspector::open(&db.url);
    assert!(
        inspector
            .outbox()
            .iter()
            .all(|row| row.kind != "user_import"),
        "the finished job left the outbox"
    );
    assert_eq!(inspector.count_audit("membership.added"), 1);

    let (ok, exported, err) = run_command(&db.url, &["users", "export", "--customer", &customer]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines.len(), 2, "{exported}");
    assert!(
        lines[1].starts_with("ada@cli.test,Ada,Byron,,admin,,,"),
        "{exported}"
    );
    let exported_file = dir.path().join("export.csv");
    std::fs::write(&exported_file, &exported).unwrap();
    let (ok, out, err) = run_command(
        &db.url,
        &[
            "users",
            "import",
            "--customer",
            &customer,
            exported_file.to_str().unwrap(),
            "--dry-run",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("(dry run): 1 rows, 0 created, 0 updated, 1 unchanged, 0 failed"),
        "{out}"
    );
}
