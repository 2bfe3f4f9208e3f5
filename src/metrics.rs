//! Prometheus metrics at `GET /metrics`: requests by route template and
//! status, latency histograms, pool state, sign-ins by outcome, lockouts,
//! emails by outcome and outbox age, webhook attempts by outcome, their
//! latency, disabled endpoints by reason and the webhook lag (the last ones
//! from the delivery worker).
//!
//! Memory stays bounded whether or not anything scrapes: a thread drains
//! the histogram samples into their buckets every [`UPKEEP_INTERVAL`]
//! (the recorder keeps every sample until then), and every label comes from
//! a closed set (an invented method counts as `other`, an unknown path as
//! `unmatched`), so no request can add a series.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{get, web, HttpMessage, HttpResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::rate_limit::AuthRateLimit;
use crate::state::AppState;

const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

const WEBHOOK_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often recorded histogram samples are folded into their buckets.
/// Until then each sample holds 8 bytes: at 16,000 requests/s, 640 KB.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The `method` label of the requests metrics: the methods of RFC 9110, or
/// `other` for any method a client makes up.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The matched route template of a request (or `unmatched`), found once by
/// [`note_route`]: finding it walks every route, as routing itself does.
#[derive(Clone)]
struct RouteLabel(String);

/// Finds the request's route template once, for its log span, its metrics
/// and the client-error window ([`route_label`]).
pub fn note_route(req: &ServiceRequest) {
    static TEMPLATES: OnceLock<quick_cache::sync::Cache<String, String>> = OnceLock::new();
    let templates = TEMPLATES.get_or_init(|| quick_cache::sync::Cache::new(ROUTE_SHAPES));
    let shape = path_shape(req.path());
    let route = match templates.get(&shape) {
        Some(route) => route,
        None => {
            let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
            templates.insert(shape, route.clone());
            route
        }
    };
    req.extensions_mut().insert(RouteLabel(route));
}

/// Path shapes whose route template is remembered (a few per route).
const ROUTE_SHAPES: usize = 1_024;

/// The path with its ids and other long segments blanked: every path of a
/// shape has the same route template (no route has such a segment as a
/// literal), and the shape holds no id or token.
fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.len() > 24 || uuid::Uuid::try_parse(segment).is_ok() {
                "*"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `route` label: the matched route template, or `unmatched`.
pub fn route_label(req: &actix_web::HttpRequest) -> String {
    match req.extensions().get::<RouteLabel>() {
        Some(RouteLabel(route)) => route.clone(),
        None => req.match_pattern().unwrap_or_else(|| "unmatched".into()),
    }
}

/// The process-wide recorder (installed once, shared by every app instance),
/// with its upkeep thread.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("roster_http_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("static buckets are valid")
            .set_buckets_for_metric(
                Matcher::Full("roster_webhook_attempt_seconds".into()),
                &WEBHOOK_BUCKETS,
            )
            .expect("static buckets are valid")
            .install_recorder()
            .expect("the metrics recorder is installed once");
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            })
            .expect("the metrics upkeep thread starts");
        handle
    })
}

/// Counts and times every request by method, route template and status.
pub async fn record_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = route_label(req.request());
    let response = next.call(req).await?;
    let status = response.status().as_u16().to_string();
    metrics::counter!("roster_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("roster_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// A sign-in attempt: `grant` is the grant type, `outcome` e.g. `success`,
/// `invalid_grant`, `account_inactive`.
pub fn sign_in(grant: &str, outcome: &str) {
    metrics::counter!("roster_sign_ins_total", "grant" => grant.to_string(), "outcome" => outcome.to_string())
        .increment(1);
}

pub fn lockout() {
    metrics::counter!("roster_lockouts_total").increment(1);
}

/// Prometheus text exposition.
#[utoipa::path(
    operation_id = "get_metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn metrics_endpoint(
    state: web::Data<AppState>,
    throttle: web::Data<AuthRateLimit>,
) -> HttpResponse {
    let pool = state.db.pool().state();
    metrics::gauge!("roster_db_pool_connections").set(f64::from(pool.connections));
    metrics::gauge!("roster_db_pool_idle_connections").set(f64::from(pool.idle_connections));
    metrics::gauge!("roster_password_hash_slots_free").set(state.hasher.available_permits() as f64);
    metrics::gauge!("roster_auth_throttle_clients").set(throttle.tracked_clients() as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle().render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_shape_blanks_ids_and_long_segments_and_keeps_the_rest() {
        assert_eq!(
            path_shape("/v1/customers/0193a5c2-7f61-7c7e-a4a1-7f1b2f5e3c11/users/me"),
            "/v1/customers/*/users/me"
        );
        assert_eq!(
            path_shape("/scim/v2/ServiceProviderConfig"),
            "/scim/v2/ServiceProviderConfig"
        );
        assert_eq!(
            path_shape("/activate/abcdefghijklmnopqrstuvwxyz0123"),
            "/activate/*"
        );
        assert_eq!(path_shape("/v1/users/not-an-id"), "/v1/users/not-an-id");
    }

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["FOO", "get", "PROPFIND", &"X".repeat(200)] {
            let method = Method::from_bytes(made_up.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{made_up}");
        }
    }
}
