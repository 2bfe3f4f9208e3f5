//! A stand-in for Postmark's `POST /email` on loopback, for the outbox
//! benchmark: it answers every send with a fresh `MessageID` after
//! `--latency-ms` (a real provider is a network hop away), counts what it
//! received, and serves the count at `GET /count`.
//!
//!     cargo run --release --example fake_provider -- --port 18778 --latency-ms 20

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};

struct Options {
    port: u16,
    latency: Duration,
}

fn options() -> Options {
    let mut options = Options {
        port: 18778,
        latency: Duration::from_millis(20),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value: Option<u64> = args.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--port", Some(v)) => options.port = u16::try_from(v).expect("a port"),
            ("--latency-ms", Some(v)) => options.latency = Duration::from_millis(v),
            _ => {
                eprintln!("usage: fake_provider [--port N] [--latency-ms MS]");
                std::process::exit(2);
            }
        }
    }
    options
}

async fn send(received: web::Data<Arc<AtomicU64>>, latency: web::Data<Duration>) -> HttpResponse {
    tokio::time::sleep(**latency).await;
    let n = received.fetch_add(1, Ordering::Relaxed) + 1;
    HttpResponse::Ok().json(serde_json::json!({
        "MessageID": format!("fake-{n}"),
        "ErrorCode": 0,
        "Message": "OK",
    }))
}

async fn count(received: web::Data<Arc<AtomicU64>>) -> String {
    received.load(Ordering::Relaxed).to_string()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let Options { port, latency } = options();
    let received = Arc::new(AtomicU64::new(0));
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(received.clone()))
            .app_data(web::Data::new(latency))
            .route("/email", web::post().to(send))
            .route("/count", web::get().to(count))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
