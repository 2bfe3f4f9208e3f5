//! `roster check`: every customer's stored seats in use against a fresh
//! count; quiet success when they agree, each difference and a non-zero exit
//! when one does not.

use crate::helpers::{TestDatabase, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::support::{
    add_person, client, create_customer, run_command, sign_in, Inspector, Roster, SERIAL,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_check_passes_right_counters_and_names_a_customer_whose_counter_is_wrong() {
    let _serial = SERIAL.lock().await;
    let db = TestDatabase::create();
    let roster = Roster::start(&db.url, &[]).await;
    let http = client();
    let token = sign_in(&http, &roster, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let acme = create_customer(&http, &roster, &token, "Acme").await;
    let bravo = create_customer(&http, &roster, &token, "Bravo").await;
    for email in ["a@acme.test", "b@acme.test"] {
        add_person(&http, &roster, &token, &acme, email).await;
    }
    drop(roster);

    let (ok, stdout, stderr) = run_command(&db.url, &["check"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("every customer's seat count is right"),
        "{stdout}"
    );

    Inspector::open(&db.url).set_named_users(&acme, 7);
    let (ok, stdout, stderr) = run_command(&db.url, &["check"]);
    assert!(!ok, "a wrong counter fails the check: {stdout}");
    assert!(
        stdout.contains(&format!(
            "customer {acme} (Acme): 7 seats in use stored, 2 counted"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains(&bravo), "{stdout}");
    assert!(
        stderr.contains("1 customers' seat counts differ"),
        "{stderr}"
    );
}
