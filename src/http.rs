//! HTTP plumbing shared by every route: the JSON body extractor, request ids,
//! the root log span, the 404/405 fallback, ETags and query helpers.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

use crate::client_ip::ClientIp;
use crate::error::{ApiError, FieldError};

/// Largest request body accepted anywhere.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body: 415 unless `application/json`, 413 over 64 KiB,
/// 400 when it is not JSON, 422 naming the field when it does not fit `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json_content_type(req);
        let declared_length = content_length(req);
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_length.is_some_and(|n| n > MAX_BODY_BYTES) {
                return Err(ApiError::PayloadTooLarge);
            }
            let body = read_limited(&mut payload).await?;
            reject_nul(&body)?;
            parse_json(&body).map(JsonBody)
        })
    }
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    let content_type = req.content_type().to_ascii_lowercase();
    content_type == "application/json" || content_type.ends_with("+json")
}

fn content_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_limited(payload: &mut Payload) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("Could not read the body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// NUL characters are never data here (and PostgreSQL refuses them in text).
fn reject_nul(body: &[u8]) -> Result<(), ApiError> {
    let escaped = body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
    if escaped {
        return Err(ApiError::invalid(
            "body",
            "must not contain NUL characters (\\u0000)",
        ));
    }
    Ok(())
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = data_error_message(&inner);
                ApiError::Validation(vec![FieldError::new(field_of(&path, &message), message)])
            }
            _ => ApiError::BadRequest(format!("The body is not valid JSON: {inner}")),
        }
    })
}

/// The field a data error is about: its path, or for a missing field the
/// name serde puts in the message ("missing field `name`").
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name);
    match (path, missing) {
        (".", Some(name)) => name.to_string(),
        (_, Some(name)) => format!("{path}.{name}"),
        (".", None) => "body".to_string(),
        (_, None) => path.to_string(),
    }
}

/// serde's message without its " at line 1 column 9" suffix.
fn data_error_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// Deserializes `Option<Option<T>>` so that an absent field is `None` and an
/// explicit `null` is `Some(None)` (for PATCH bodies). Use with `#[serde(default)]`.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// Deserializes an optional `i32` from any JSON number with an integral value
/// (`3`, `3.0`, `3e0`: JSON Schema's `integer`), refusing fractions and
/// values out of range. Use with `#[serde(default)]`.
pub fn whole_number<'de, D>(deserializer: D) -> Result<Option<i32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    let Some(number) =
        <Option<serde_json::Number> as serde::Deserialize>::deserialize(deserializer)?
    else {
        return Ok(None);
    };
    let whole = match number.as_i64() {
        Some(n) => i32::try_from(n).ok(),
        None => number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= f64::from(i32::MIN) && *f <= f64::from(i32::MAX))
            .map(|f| f as i32),
    };
    whole.map(Some).ok_or_else(|| {
        D::Error::custom(format!(
            "{number} is not a whole number from {} to {}",
            i32::MIN,
            i32::MAX
        ))
    })
}

/// [`whole_number`] for PATCH bodies: absent is `None`, null `Some(None)`.
pub fn double_option_whole_number<'de, D>(deserializer: D) -> Result<Option<Option<i32>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    whole_number(deserializer).map(Some)
}

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
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
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

/// Route templates and their methods, read from the generated OpenAPI
/// document, so an unknown path is 404 and a known one with the wrong method 405.
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(method, _)| method.to_string())
                .collect();
                (split_path(path), methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// Methods allowed on `path`, or `None` when no route has that shape.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let segments = split_path(path);
        self.routes
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.starts_with('{') || t == s)
            })
            .map(|(_, methods)| methods.clone())
    }
}

fn split_path(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The default service: 405 with `Allow` for a known path, 404 otherwise.
pub async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match routes.allowed(req.path()) {
        Some(methods) if !methods.is_empty() => ApiError::MethodNotAllowed(methods),
        _ => ApiError::NotFound("resource"),
    })
}

/// An object id from a path: anything that is not a UUID names no object.
pub fn path_id(raw: &str, what: &'static str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::NotFound(what))
}

/// An id given in a body or query: a 422 on `field` unless it is a UUID.
pub fn field_id(raw: &str, field: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|id| id.to_string())
        .map_err(|_| ApiError::invalid(field, "is not an id (a UUID)"))
}

/// A strong ETag for a row version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// The version [`if_match_version`] asks for when the tag is well-formed but
/// not one of ours: row versions are never negative, so it never matches and
/// the update answers 412 once the resource is found (404 comes first).
pub const NEVER_MATCHES: i32 = -1;

/// The version an `If-Match` header asks for: `Ok(None)` when absent or `*`.
///
/// The header must be `*` or one entity tag (RFC 9110 §8.8.3: `"…"` or
/// `W/"…"` of visible ASCII other than `"`), else it is a 422 naming it. A
/// well-formed tag that is not one of ours (a weak one — If-Match compares
/// strongly — or one we never issued) can never match: [`NEVER_MATCHES`].
pub fn if_match_version(req: &HttpRequest) -> Result<Option<i32>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let malformed = || ApiError::invalid("If-Match", "must be `*` or an entity tag such as \"7\"");
    let text = value.to_str().map_err(|_| malformed())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let (weak, tag) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let opaque = tag
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|inner| {
            inner
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x7E).contains(&b))
        })
        .ok_or_else(malformed)?;
    // Ours are the decimal row version with no sign or leading zero.
    let canonical = opaque
        .parse::<i32>()
        .ok()
        .filter(|version| *version >= 0 && version.to_string() == opaque);
    match canonical {
        Some(version) if !weak => Ok(Some(version)),
        _ => Ok(Some(NEVER_MATCHES)),
    }
}

/// Parses a query string into `T`, mapping problems to 422 on the named parameter.
pub fn parse_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    if let Some((name, _)) = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(_, value)| value.contains('\0'))
    {
        return Err(ApiError::invalid(
            name.into_owned(),
            "must not contain NUL characters",
        ));
    }
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let field = err.path().to_string();
        ApiError::Validation(vec![FieldError::new(
            if field == "." { "query".into() } else { field },
            err.into_inner().to_string(),
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        let err = parse_json::<Sample>(b"{\"name\": ").unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(_)));
    }

    #[test]
    fn wrong_types_and_unknown_fields_name_the_field() {
        let err = parse_json::<Sample>(br#"{"name": 5}"#).unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!()
        };
        assert_eq!(errors[0].field, "name");
        let err = parse_json::<Sample>(br#"{"name": "x", "status": "active"}"#).unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!()
        };
        assert!(errors[0].message.contains("status"), "{errors:?}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = parse_json::<Sample>(b"{}").unwrap_err();
        let ApiError::Validation(errors) = err else {
            panic!()
        };
        assert_eq!(errors[0].field, "name");
    }

    #[test]
    fn a_route_table_tells_unknown_paths_from_wrong_methods() {
        let table = RouteTable {
            routes: vec![(
                split_path("/v1/users/{uid}"),
                vec!["GET".into(), "PATCH".into()],
            )],
        };
        assert_eq!(
            table.allowed("/v1/users/123"),
            Some(vec!["GET".into(), "PATCH".into()])
        );
        assert_eq!(table.allowed("/v1/users/123/extra"), None);
        assert_eq!(table.allowed("/v1/nothing/here"), None);
    }

    #[test]
    fn etags_round_trip_through_if_match() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::IF_MATCH, etag(7)))
            .to_http_request();
        assert_eq!(if_match_version(&req).unwrap(), Some(7));
        let stale = actix_web::test::TestRequest::default()
            .insert_header((header::IF_MATCH, "\"garbage\""))
            .to_http_request();
        assert_eq!(if_match_version(&stale).unwrap(), Some(NEVER_MATCHES));
    }

    #[test]
    fn weak_or_foreign_tags_never_match_and_malformed_ones_are_named() {
        let with = |value: &str| {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::IF_MATCH, value))
                .to_http_request();
            if_match_version(&req)
        };
        assert_eq!(with("*").unwrap(), None);
        for never in ["W/\"7\"", "\"+7\"", "\"07\"", "\"-1\"", "\"\""] {
            assert_eq!(with(never).unwrap(), Some(NEVER_MATCHES), "{never}");
        }
        for malformed in ["7", "null", "\"7", "\"a b\"", "\"7\", \"8\""] {
            let Err(ApiError::Validation(errors)) = with(malformed) else {
                panic!("{malformed} should be a 422");
            };
            assert_eq!(errors[0].field, "If-Match");
        }
    }
}
