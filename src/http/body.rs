//! JSON request bodies: the extractor (415, 413, 400 and a 422 naming the
//! field) and the serde helpers PATCH bodies need.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

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
}
