//! Path ids, query strings, ETags and `If-Match`.

use actix_web::http::header;
use actix_web::HttpRequest;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

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

/// A strong ETag for a membership: its stamp.
pub fn stamp_etag(stamp: i64) -> String {
    format!("\"{stamp}\"")
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
    Ok(if_match_number(req)?.map(|n| i32::try_from(n).unwrap_or(NEVER_MATCHES)))
}

/// The stamp an `If-Match` header asks for, as [`if_match_version`] but for
/// tags that are a larger number (a membership's last change, see
/// [`crate::db::memberships::MembershipRow::stamp`]).
pub fn if_match_stamp(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    if_match_number(req)
}

fn if_match_number(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
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
        .parse::<i64>()
        .ok()
        .filter(|version| *version >= 0 && version.to_string() == opaque);
    match canonical {
        Some(version) if !weak => Ok(Some(version)),
        _ => Ok(Some(i64::from(NEVER_MATCHES))),
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
    fn stamps_round_trip_and_a_stamp_is_never_a_version() {
        let stamp = 1_764_511_512_123_456_i64;
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::IF_MATCH, stamp_etag(stamp)))
            .to_http_request();
        assert_eq!(if_match_stamp(&req).unwrap(), Some(stamp));
        assert_eq!(if_match_version(&req).unwrap(), Some(NEVER_MATCHES));
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
