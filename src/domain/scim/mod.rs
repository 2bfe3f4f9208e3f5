//! SCIM 2.0 (RFC 7643, RFC 7644) in roster's terms, free of HTTP and SQL:
//! filters, PATCH paths and operations, the schemas roster serves and the
//! mapping of a SCIM User to a roster member.

pub mod filter;
pub mod group;
pub mod patch;
pub mod schema;
pub mod user;

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The most resources one list answer holds (`filter.maxResults`).
pub const MAX_RESULTS: usize = 200;

/// A SCIM error (RFC 7644 §3.12): the status, the `scimType` where the RFC
/// defines one, and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimFault {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimFault {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimFault {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidFilter"), detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidPath"), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(400, Some("noTarget"), detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(400, Some("mutability"), detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }
}

/// The `[startIndex, count]` window of a list (RFC 7644 §3.4.2.4): 1-based,
/// anything below 1 is 1; a negative count is 0; at most [`MAX_RESULTS`].
pub fn window(start_index: Option<i64>, count: Option<i64>) -> (usize, usize) {
    let start = start_index.unwrap_or(1).max(1);
    let count = count
        .unwrap_or(MAX_RESULTS as i64)
        .clamp(0, MAX_RESULTS as i64);
    (usize::try_from(start).unwrap_or(usize::MAX), count as usize)
}

/// A weak ETag made of the stamps of what a resource is built from.
pub fn weak_etag(parts: &[i64]) -> String {
    let joined: Vec<String> = parts.iter().map(|p| format!("{p:x}")).collect();
    format!("W/\"{}\"", joined.join("-"))
}

/// Whether an `If-Match` header value admits `etag` (`*`, or one of a
/// comma-separated list, weak or strong).
pub fn if_match_admits(header: &str, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_one_based_and_capped() {
        assert_eq!(window(None, None), (1, 200));
        assert_eq!(window(Some(0), Some(-5)), (1, 0));
        assert_eq!(window(Some(3), Some(1000)), (3, 200));
    }

    #[test]
    fn if_match_compares_weak_and_strong_tags_and_accepts_a_star() {
        let etag = weak_etag(&[1, 255]);
        assert_eq!(etag, "W/\"1-ff\"");
        assert!(if_match_admits(&etag, &etag));
        assert!(if_match_admits("\"1-ff\"", &etag));
        assert!(if_match_admits("W/\"x\", W/\"1-ff\"", &etag));
        assert!(if_match_admits("*", &etag));
        assert!(!if_match_admits("W/\"1-fe\"", &etag));
    }
}
