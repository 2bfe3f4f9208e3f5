//! Request ids and the per-request log span.

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

use crate::client_ip::ClientIp;

/// The id of the request, taken from a sane `X-Request-Id` or generated,
/// and the client's address (see `client_ip`); the audit log keeps both.
#[derive(Debug, Clone)]
pub struct RequestId(pub String, pub Option<IpAddr>);

impl RequestId {
    /// Where the request came from, as the use cases record it.
    pub fn origin(&self) -> crate::service::audit::Origin {
        crate::service::audit::Origin {
            request_id: self.0.clone(),
            client_ip: self.1,
        }
    }
}

fn client_ip(extensions: &actix_web::dev::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientIp>().map(|client| client.0)
}

impl FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        let id = extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string(), client_ip(&extensions)));
        std::future::ready(Ok(id))
    }
}

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let sane = !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    sane.then(|| text.to_string())
}

/// Assigns the request id before anything logs, and echoes it as `X-Request-Id`.
pub async fn request_id_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let client = client_ip(&req.extensions());
    req.extensions_mut().insert(RequestId(id.clone(), client));
    crate::metrics::note_route(&req);
    let mut response = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}

/// The root span of each request: route template (never the raw path, which
/// may carry a token), method, request id, and the actor once known.
pub struct RosterRootSpan;

impl RootSpanBuilder for RosterRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let route = crate::metrics::route_label(request.request());
        let client_ip = client_ip(&request.extensions()).map(|ip| ip.to_string());
        tracing::info_span!(
            "request",
            request_id = %request_id,
            client_ip = client_ip.as_deref().unwrap_or_default(),
            method = crate::metrics::method_label(request.method()),
            route = %route,
            actor = tracing::field::Empty,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        crate::request_log::finished(&span, outcome);
    }
}
