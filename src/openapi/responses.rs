//! The problem+json answers most operations share, declared once for
//! `responses(...)`. An answer with its own description (the codes it
//! carries) stays written out at its operation.

use utoipa::IntoResponses;

use crate::error::Problem;

// 400: the request is malformed.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "",
    content_type = "application/problem+json"
)]
pub struct BadRequest(#[allow(dead_code)] Problem);

// 401: no valid access token.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "",
    content_type = "application/problem+json"
)]
pub struct Unauthorized(#[allow(dead_code)] Problem);

// 403: the caller may see the resource but not do this.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "",
    content_type = "application/problem+json"
)]
pub struct Forbidden(#[allow(dead_code)] Problem);

// 404: nothing with that id is visible to the caller.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "",
    content_type = "application/problem+json"
)]
pub struct NotFound(#[allow(dead_code)] Problem);

// 409: the state of the resource forbids it.
#[derive(IntoResponses)]
#[response(
    status = 409,
    description = "",
    content_type = "application/problem+json"
)]
pub struct Conflict(#[allow(dead_code)] Problem);

// 410: the link expired or was used.
#[derive(IntoResponses)]
#[response(
    status = 410,
    description = "",
    content_type = "application/problem+json"
)]
pub struct Gone(#[allow(dead_code)] Problem);

// 412: `If-Match` does not match.
#[derive(IntoResponses)]
#[response(
    status = 412,
    description = "",
    content_type = "application/problem+json"
)]
pub struct PreconditionFailed(#[allow(dead_code)] Problem);

// 413: the body is over 64 KiB.
#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(#[allow(dead_code)] Problem);

// 415: the body is not JSON.
#[derive(IntoResponses)]
#[response(
    status = 415,
    description = "",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(#[allow(dead_code)] Problem);

// 422: a field or parameter is invalid; `errors[]` names each.
#[derive(IntoResponses)]
#[response(
    status = 422,
    description = "",
    content_type = "application/problem+json"
)]
pub struct Unprocessable(#[allow(dead_code)] Problem);

// 429: too many requests; `Retry-After` says when to come back.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "",
    content_type = "application/problem+json"
)]
pub struct TooManyRequests(#[allow(dead_code)] Problem);
