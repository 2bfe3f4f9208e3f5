//! The real `roster` binary as a child process, its database read directly,
//! and a fake Postmark.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;
use roster::db::outbox::OutboxRow;
use roster::db::schema::{customers, email_outbox, memberships, users};
use roster::db::{DbConnection, Pool, PoolOptions};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, APP_URL};

/// Every test here runs a busy process on a small machine: one at a time, so
/// latencies and timings measure the service rather than the other tests.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A running `roster serve`; killed when dropped.
pub struct Roster {
    child: Child,
    pub pid: u32,
    pub address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Roster {
    /// Starts `roster serve` on `database_url` with test defaults (the
    /// default log level, `info`) and `env` (which wins), on a port of its own
    /// choosing read from its log, and waits until `/healthz` answers.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Roster {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command.arg("serve");
        for (key, _) in std::env::vars() {
            if key.starts_with("ROSTER_") {
                command.env_remove(key);
            }
        }
        let defaults = [
            ("ROSTER_DATABASE_URL", database_url),
            ("ROSTER_BIND", "127.0.0.1:0"),
            ("ROSTER_APP_URL", APP_URL),
            ("ROSTER_WORKERS", "2"),
            ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL),
            ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("ROSTER_AUTH_RATE_LIMIT", "0"),
            ("ROSTER_LOG_FORMAT", "json"),
        ];
        command
            .envs(defaults)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the roster binary starts");
        let pid = child.id();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel::<u16>();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        collect_lines(stdout, log.clone(), Some(port_tx));
        collect_lines(stderr, log.clone(), None);

        let mut roster = Roster {
            child,
            pid,
            address: String::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        // A port given in ROSTER_BIND is known; port 0 is read from the log.
        let given_port = env
            .iter()
            .find(|(key, _)| *key == "ROSTER_BIND")
            .and_then(|(_, bind)| bind.rsplit(':').next()?.parse::<u16>().ok())
            .filter(|port| *port != 0);
        let port = loop {
            if let Some(port) = given_port {
                break port;
            }
            if let Ok(port) = port_rx.try_recv() {
                break port;
            }
            if let Ok(Some(status)) = roster.child.try_wait() {
                panic!(
                    "roster exited at start ({status}):\n{}",
                    roster.log_tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "roster did not log its port within 60 s:\n{}",
                roster.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        roster.address = format!("http://127.0.0.1:{port}");
        let probe = client();
        loop {
            if let Ok(response) = probe.get(roster.url("/healthz")).send().await {
                if response.status() == StatusCode::OK {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "/healthz never answered 200:\n{}",
                roster.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        roster
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL is delivered");
        let status = self.child.wait().expect("the killed process is reaped");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "roster was not killed by SIGKILL: {status}"
        );
    }

    /// SIGTERM, as an orchestrator stops a container.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -TERM {} failed", self.pid);
    }

    /// Waits up to `timeout` for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status(self.pid, "VmHWM:")
    }

    /// The last `n` lines the process wrote (stdout and stderr).
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log.lock().unwrap();
        let from = log.len().saturating_sub(n);
        log[from..].join("\n")
    }

    /// How many lines the process has written so far.
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The lines written after the first `from`.
    pub fn log_since(&self, from: usize) -> Vec<String> {
        self.log.lock().unwrap()[from..].to_vec()
    }

    /// Log lines (JSON) whose `message` is `message`.
    pub fn log_messages(&self, message: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["message"] == json!(message))
            .collect()
    }

    /// Log lines at level ERROR or with a panic.
    pub fn log_errors(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains("\"level\":\"ERROR\"") || line.contains("panicked"))
            .cloned()
            .collect()
    }
}

impl Drop for Roster {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect_lines(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
    port: Option<std::sync::mpsc::Sender<u16>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = &port {
                if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                    if entry["message"] == json!("roster is listening") {
                        if let Some(number) = entry["port"].as_u64() {
                            let _ = port.send(number as u16);
                        }
                    }
                }
            }
            log.lock().unwrap().push(line);
        }
    });
}

/// A loopback port free right now, for a `ROSTER_BIND` that must be known
/// without reading the log (a log level above `info` does not tell it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A number from `/proc/<pid>/status` (`VmHWM:` in KiB, `Threads:`…).
pub fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// One request for [`curl`].
#[derive(Clone, Debug)]
pub struct Shot {
    pub method: String,
    pub url: String,
    pub bearer: Option<String>,
    /// One more header line, `Name: value`.
    pub header: Option<String>,
}

impl Shot {
    pub fn get(url: &str) -> Shot {
        Shot {
            method: "GET".into(),
            url: url.into(),
            bearer: None,
            header: None,
        }
    }
}

/// Sends `shots` with curl(1), split over `processes` curl processes that
/// each keep one connection alive (far cheaper per request than a client in
/// a debug build); returns how many got each status (0: no answer).
pub async fn curl(shots: Vec<Shot>, processes: usize) -> BTreeMap<u16, usize> {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut children = Vec::new();
        for part in 0..processes {
            let path = dir.path().join(format!("curl-{part}.conf"));
            let mut config = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            let mut first = true;
            for shot in shots.iter().skip(part).step_by(processes) {
                if !first {
                    writeln!(config, "next").unwrap();
                }
                first = false;
                writeln!(config, "request = \"{}\"", shot.method).unwrap();
                writeln!(config, "url = \"{}\"", shot.url).unwrap();
                if let Some(token) = &shot.bearer {
                    writeln!(config, "header = \"Authorization: Bearer {token}\"").unwrap();
                }
                if let Some(header) = &shot.header {
                    writeln!(config, "header = \"{header}\"").unwrap();
                }
                writeln!(config, "output = \"/dev/null\"").unwrap();
                writeln!(config, "write-out = \"%{{http_code}}\\n\"").unwrap();
            }
            config.flush().unwrap();
            drop(config);
            let child = Command::new("curl")
                .args(["--silent", "--max-time", "60", "--config"])
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("curl runs");
            children.push(child);
        }
        let mut statuses = BTreeMap::new();
        for child in children {
            let output = child.wait_with_output().expect("curl finishes");
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                let status = line.trim().parse().unwrap_or(0);
                *statuses.entry(status).or_insert(0) += 1;
            }
        }
        statuses
    })
    .await
    .unwrap()
}

/// Signs in with the password grant; asserts 200 and returns the access token.
pub async fn sign_in(
    client: &reqwest::Client,
    roster: &Roster,
    email: &str,
    password: &str,
) -> String {
    let response = client
        .post(roster.url("/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "sign-in of {email}: {body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// `POST /v1/customers` (unlimited seats); returns the id.
pub async fn create_customer(
    client: &reqwest::Client,
    roster: &Roster,
    token: &str,
    name: &str,
) -> String {
    let response = client
        .post(roster.url("/v1/customers"))
        .bearer_auth(token)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Adds a new person to `customer`; asserts 201 and returns the user id.
pub async fn add_person(
    client: &reqwest::Client,
    roster: &Roster,
    token: &str,
    customer: &str,
    email: &str,
) -> String {
    let response = client
        .post(roster.url(&format!("/v1/customers/{customer}/users")))
        .bearer_auth(token)
        .json(&json!({"email": email, "first_name": "Pat", "last_name": "Lee"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// `POST /v1/auth/activate`; asserts 200.
pub async fn activate(client: &reqwest::Client, roster: &Roster, token: &str, password: &str) {
    let response = client
        .post(roster.url("/v1/auth/activate"))
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "activation: {body}");
}

/// The database of a (possibly dead) process, read directly.
pub struct Inspector {
    pool: Pool,
}

impl Inspector {
    pub fn open(url: &str) -> Self {
        let options = PoolOptions {
            size: 2,
            timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
        };
        Inspector {
            pool: roster::db::connect(url, &options, false).expect("the test reads the database"),
        }
    }

    fn with<T>(&self, work: impl FnOnce(&mut DbConnection) -> QueryResult<T>) -> T {
        let mut pooled = self.pool.get().expect("a connection");
        let conn: &mut DbConnection = &mut pooled;
        work(conn).expect("the query runs")
    }

    /// Every outbox row.
    pub fn outbox(&self) -> Vec<OutboxRow> {
        self.with(|conn| {
            email_outbox::table
                .select(OutboxRow::as_select())
                .load(conn)
        })
    }

    /// `(id, email, platform_role, status)` of every user.
    pub fn users(&self) -> Vec<(String, String, String, String)> {
        self.with(|conn| {
            users::table
                .select((users::id, users::email, users::platform_role, users::status))
                .load(conn)
        })
    }

    /// Overwrites a customer's stored seats in use (to make it wrong).
    pub fn set_named_users(&self, customer_id: &str, named_users: i64) {
        self.with(|conn| {
            diesel::update(customers::table.find(customer_id))
                .set(customers::named_users.eq(named_users))
                .execute(conn)
        });
    }

    /// How many audit events record `action`.
    pub fn count_audit(&self, action: &str) -> i64 {
        use roster::db::schema::audit_events;
        self.with(|conn| {
            audit_events::table
                .filter(audit_events::action.eq(action))
                .count()
                .get_result(conn)
        })
    }

    /// `(customer_id, user_id)` of every membership.
    pub fn memberships(&self) -> Vec<(String, String)> {
        self.with(|conn| {
            memberships::table
                .select((memberships::customer_id, memberships::user_id))
                .load(conn)
        })
    }
}

/// Runs `roster ARGS…` on the database to the end; (success, stdout, stderr).
pub fn run_command(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ROSTER_") {
            command.env_remove(key);
        }
    }
    let output = command
        .args(args)
        .env("ROSTER_DATABASE_URL", database_url)
        .env("ROSTER_APP_URL", APP_URL)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("roster runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A fake Postmark answering every send after `delay`.
pub async fn fake_postmark(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/email"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"MessageID": "pm-test", "ErrorCode": 0, "Message": "OK"}))
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

/// The environment that makes roster send through `server` as Postmark.
pub fn postmark_env(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("ROSTER_MAIL_PROVIDER", "postmark".to_string()),
        ("ROSTER_MAIL_API_URL", server.uri()),
        ("ROSTER_MAIL_API_KEY", "test-key".to_string()),
        ("ROSTER_MAIL_POLL_INTERVAL", "100ms".to_string()),
    ]
}

/// Borrows an owned environment list as `Roster::start` takes it.
pub fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// One email as the fake provider received it.
#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    pub to: String,
    pub tag: String,
    pub text: String,
}

pub async fn received_emails(server: &MockServer) -> Vec<ReceivedEmail> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|request| serde_json::from_slice::<Value>(&request.body).ok())
        .map(|body| ReceivedEmail {
            to: body["To"].as_str().unwrap_or_default().to_ascii_lowercase(),
            tag: body["Tag"].as_str().unwrap_or_default().to_string(),
            text: body["TextBody"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// How many of each `(kind, recipient)` there are.
pub fn tally<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for (kind, to) in pairs {
        *counts
            .entry((kind.to_string(), to.to_ascii_lowercase()))
            .or_insert(0) += 1;
    }
    counts
}
