//! HTTP plumbing shared by every route, by concern: JSON bodies, request ids
//! and the log span, the 404/405 fallback, and path/query/ETag parameters.

mod body;
mod fallback;
mod params;
mod request_id;

pub use body::{
    double_option, double_option_whole_number, parse_json, read_limited, whole_number, JsonBody,
    MAX_BODY_BYTES,
};
pub use fallback::{fallback, RouteTable};
pub use params::{
    etag, field_id, if_match_stamp, if_match_version, parse_query, path_id, stamp_etag,
    NEVER_MATCHES,
};
pub use request_id::{request_id_middleware, RequestId, RosterRootSpan};
