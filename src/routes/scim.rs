//! SCIM 2.0 at `/scim/v2` (RFC 7643, RFC 7644), for identity providers'
//! SCIM connectors, authenticated by a SCIM token. Answers are
//! `application/scim+json`; every error is a SCIM Error with `scimType`
//! where RFC 7644 §3.12 defines one.

use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse, ResponseError};
use serde_json::{json, Value};

use crate::domain::scim::filter::{self, member, Filter};
use crate::domain::scim::{self as scim, schema, ScimFault};
use crate::error::{ApiError, ErrorCode};
use crate::http::{JsonBody, RequestId};
use crate::service::audit::AuditContext;
use crate::service::scim::{self as service, ScimError, Token};
use crate::service::scim_tokens;
use crate::state::AppState;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A SCIM Error answer.
#[derive(Debug)]
pub struct ScimReply {
    fault: ScimFault,
    retry_after: Option<u64>,
    allow: Option<Vec<&'static str>>,
}

impl std::fmt::Display for ScimReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SCIM {}: {}", self.fault.status, self.fault.detail)
    }
}

impl From<ScimFault> for ScimReply {
    fn from(fault: ScimFault) -> Self {
        ScimReply {
            fault,
            retry_after: None,
            allow: None,
        }
    }
}

impl From<ScimError> for ScimReply {
    fn from(err: ScimError) -> Self {
        match err {
            ScimError::Fault(fault) => fault.into(),
            ScimError::Api(err) => err.into(),
        }
    }
}

/// roster's errors in SCIM's terms: duplicates are `uniqueness`, invalid
/// fields `invalidValue`; a full customer is 403 naming `seat_limit_reached`
/// (RFC 7644 has no status for it, and it is not a conflict the client can
/// resolve by reading the resource again).
impl From<ApiError> for ScimReply {
    fn from(err: ApiError) -> Self {
        let problem = err.problem();
        let detail = problem.detail.clone();
        let fault = match &err {
            ApiError::BadRequest(_) => ScimFault::invalid_syntax(detail),
            ApiError::Unauthorized(_) => ScimFault::new(401, None, detail),
            ApiError::Validation(_) | ApiError::Unprocessable { .. } => {
                ScimFault::invalid_value(detail)
            }
            ApiError::Conflict { code, .. } => match code {
                ErrorCode::AlreadyMember
                | ErrorCode::EmailTaken
                | ErrorCode::ExternalIdTaken
                | ErrorCode::GroupNameTaken => ScimFault::uniqueness(detail),
                ErrorCode::SeatLimitReached => {
                    ScimFault::new(403, None, format!("seat_limit_reached: {detail}"))
                }
                ErrorCode::UserRetired | ErrorCode::UserNotActivated => {
                    ScimFault::invalid_value(format!("{code}: {detail}"))
                }
                code => ScimFault::new(409, None, format!("{code}: {detail}")),
            },
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "SCIM request failed");
                ScimFault::new(500, None, detail)
            }
            _ => ScimFault::new(problem.status, None, detail),
        };
        let retry_after = match &err {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Limited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        };
        ScimReply {
            fault,
            retry_after,
            allow: None,
        }
    }
}

impl ResponseError for ScimReply {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({
            "schemas": [scim::ERROR],
            "status": self.fault.status.to_string(),
            "detail": self.fault.detail,
        });
        if let Some(scim_type) = self.fault.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        if self.fault.status == 401 {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"roster SCIM\""));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, allow.join(", ")));
        }
        response.body(body.to_string())
    }
}

type Answer = Result<HttpResponse, ScimReply>;

fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE))
        .body(body.to_string())
}

/// A single resource: with its `ETag` (and `Location` when created).
fn resource_answer(status: StatusCode, resource: &Value) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
    if let Some(version) = resource["meta"]["version"].as_str() {
        response.insert_header((header::ETAG, version.to_string()));
    }
    if status == StatusCode::CREATED {
        if let Some(location) = resource["meta"]["location"].as_str() {
            response.insert_header((header::LOCATION, location.to_string()));
        }
    }
    response.body(resource.to_string())
}

fn base_url(state: &AppState) -> String {
    format!(
        "{}/scim/v2",
        state.settings.public_url.trim_end_matches('/')
    )
}

/// The SCIM token's caller; 401 with `WWW-Authenticate: Bearer` otherwise.
async fn caller(req: &HttpRequest, state: &AppState) -> Result<Token, ScimReply> {
    let refused = |why: &str| ScimReply::from(ScimFault::new(401, None, why));
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .map(|(_, token)| token.trim().to_string())
        .ok_or_else(|| refused("Send `Authorization: Bearer <SCIM token>`."))?;
    let (actor, customer_id) = scim_tokens::authenticate(state, presented)
        .await?
        .ok_or_else(|| refused("The SCIM token is not valid (unknown, revoked, or its creator lost the right to make it)."))?;
    crate::service::callers::note(&actor);
    Ok(Token { actor, customer_id })
}

fn context(token: &Token, request_id: &RequestId) -> AuditContext {
    AuditContext::for_actor(&token.actor, &request_id.0).with_client_ip(request_id.1)
}

fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn body(parsed: Result<JsonBody<Value>, ApiError>) -> Result<Value, ScimReply> {
    match parsed {
        Ok(JsonBody(value)) if value.is_object() => Ok(value),
        Ok(_) => Err(ScimFault::invalid_syntax("The body must be a JSON object.").into()),
        Err(ApiError::UnsupportedMediaType) => Err(ScimFault::new(
            415,
            None,
            "Send the body as application/scim+json (or application/json).",
        )
        .into()),
        Err(err) => Err(err.into()),
    }
}

/// What a list asks for: a filter, a window, and which attributes to show.
struct ListQuery {
    filter: Option<Filter>,
    start: usize,
    count: usize,
    projection: Projection,
}

#[derive(Default)]
struct Projection {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

fn names(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn number(value: &str, field: &str) -> Result<i64, ScimFault> {
    value
        .trim()
        .parse()
        .map_err(|_| ScimFault::invalid_value(format!("`{field}` must be an integer")))
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn projection_of(pairs: &[(String, String)]) -> Projection {
    let mut projection = Projection::default();
    for (key, value) in pairs {
        if key.eq_ignore_ascii_case("attributes") {
            projection.attributes = names(value);
        } else if key.eq_ignore_ascii_case("excludedAttributes") {
            projection.excluded = names(value);
        }
    }
    projection
}

fn list_query(pairs: &[(String, String)]) -> Result<ListQuery, ScimFault> {
    let (mut filter, mut start, mut count) = (None, None, None);
    for (key, value) in pairs {
        match key.to_ascii_lowercase().as_str() {
            "filter" => filter = Some(filter::parse(value)?),
            "startindex" => start = Some(number(value, "startIndex")?),
            "count" => count = Some(number(value, "count")?),
            "sortby" | "sortorder" => {
                return Err(ScimFault::new(
                    400,
                    None,
                    "Sorting is not supported (see ServiceProviderConfig).",
                ))
            }
            _ => {}
        }
    }
    let (start, count) = scim::window(start, count);
    Ok(ListQuery {
        filter,
        start,
        count,
        projection: projection_of(pairs),
    })
}

/// A SearchRequest body (`POST …/.search`).
fn search_query(body: &Value) -> Result<ListQuery, ScimFault> {
    let text = |name: &str| member(body, name).and_then(Value::as_str);
    let int = |name: &str| -> Result<Option<i64>, ScimFault> {
        match member(body, name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimFault::invalid_value(format!("`{name}` must be an integer"))),
        }
    };
    let list = |name: &str| -> Vec<String> {
        match member(body, name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(s)) => names(s),
            _ => Vec::new(),
        }
    };
    let filter = text("filter").map(filter::parse).transpose()?;
    let (start, count) = scim::window(int("startIndex")?, int("count")?);
    Ok(ListQuery {
        filter,
        start,
        count,
        projection: Projection {
            attributes: list("attributes"),
            excluded: list("excludedAttributes"),
        },
    })
}

/// Applies `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5); `id`,
/// `schemas` and `meta` are always returned.
fn project(resource: Value, projection: &Projection) -> Value {
    let Value::Object(mut object) = resource else {
        return resource;
    };
    let always = |key: &str| {
        ["id", "schemas", "meta"]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(key))
    };
    let strip = |name: &str| -> String {
        let lower = name.to_ascii_lowercase();
        [scim::USER_SCHEMA, scim::GROUP_SCHEMA]
            .iter()
            .find_map(|uri| {
                let prefix = format!("{}:", uri.to_ascii_lowercase());
                lower.strip_prefix(&prefix).map(str::to_string)
            })
            .unwrap_or(lower)
    };
    if !projection.attributes.is_empty() {
        let wanted: Vec<String> = projection.attributes.iter().map(|a| strip(a)).collect();
        object.retain(|key, value| {
            let key_lower = key.to_ascii_lowercase();
            if always(key) || wanted.contains(&key_lower) {
                return true;
            }
            let subs: Vec<&str> = wanted
                .iter()
                .filter_map(|w| w.strip_prefix(&format!("{key_lower}.")))
                .collect();
            if subs.is_empty() {
                return false;
            }
            if let Value::Object(inner) = value {
                inner.retain(|k, _| subs.contains(&k.to_ascii_lowercase().as_str()));
            }
            true
        });
    }
    for excluded in projection.excluded.iter().map(|e| strip(e)) {
        match excluded.split_once('.') {
            Some((top, sub)) => {
                if let Some(Value::Object(inner)) = object
                    .iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case(top))
                    .map(|(_, v)| v)
                {
                    inner.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                }
            }
            None => object.retain(|k, _| always(k) || !k.eq_ignore_ascii_case(&excluded)),
        }
    }
    Value::Object(object)
}

fn listed(listed: service::Listed, projection: &Projection) -> HttpResponse {
    let resources: Vec<Value> = listed
        .resources
        .into_iter()
        .map(|r| project(r, projection))
        .collect();
    let page = service::Listed {
        resources,
        ..listed
    };
    scim_json(StatusCode::OK, &service::list_response(page))
}

/// `ServiceProviderConfig`: what roster supports.
#[utoipa::path(
    operation_id = "scim_get_service_provider_config",
    tag = "SCIM",
    security(("scim_token" = [])),
    responses((status = 200, description = "The ServiceProviderConfig (RFC 7643 §5)", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/ServiceProviderConfig")]
pub async fn scim_service_provider_config(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    caller(&req, &state).await?;
    let base = base_url(&state);
    // The API reference this instance serves (its SCIM tag).
    let documentation = format!("{}/docs", state.settings.public_url.trim_end_matches('/'));
    Ok(scim_json(
        StatusCode::OK,
        &schema::service_provider_config(&base, &documentation),
    ))
}

fn all_resource_types(base: &str) -> Vec<Value> {
    vec![
        schema::resource_type(base, &schema::USER),
        schema::resource_type(base, &schema::GROUP),
    ]
}

fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [scim::LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `ResourceTypes`: User and Group.
#[utoipa::path(
    operation_id = "scim_list_resource_types",
    tag = "SCIM",
    security(("scim_token" = [])),
    responses((status = 200, description = "A ListResponse of ResourceTypes", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/ResourceTypes")]
pub async fn scim_list_resource_types(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    caller(&req, &state).await?;
    Ok(scim_json(
        StatusCode::OK,
        &list_of(all_resource_types(&base_url(&state))),
    ))
}

/// One `ResourceType` by name.
#[utoipa::path(
    operation_id = "scim_get_resource_type",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("name" = String, Path, description = "`User` or `Group`")),
    responses((status = 200, description = "The ResourceType", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/ResourceTypes/{name}")]
pub async fn scim_get_resource_type(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Answer {
    caller(&req, &state).await?;
    all_resource_types(&base_url(&state))
        .into_iter()
        .find(|r| r["id"] == json!(path.as_str()))
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| ScimFault::new(404, None, "No such resource type.").into())
}

fn all_schemas(base: &str) -> Vec<Value> {
    vec![schema::USER.to_json(base), schema::GROUP.to_json(base)]
}

/// `Schemas`: the core User and Group, with the attributes roster serves.
#[utoipa::path(
    operation_id = "scim_list_schemas",
    tag = "SCIM",
    security(("scim_token" = [])),
    responses((status = 200, description = "A ListResponse of Schemas", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/Schemas")]
pub async fn scim_list_schemas(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    caller(&req, &state).await?;
    Ok(scim_json(
        StatusCode::OK,
        &list_of(all_schemas(&base_url(&state))),
    ))
}

/// One schema by URI.
#[utoipa::path(
    operation_id = "scim_get_schema",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("uri" = String, Path, description = "The schema URI")),
    responses((status = 200, description = "The Schema", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/Schemas/{uri}")]
pub async fn scim_get_schema(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Answer {
    caller(&req, &state).await?;
    all_schemas(&base_url(&state))
        .into_iter()
        .find(|s| s["id"] == json!(path.as_str()))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimFault::new(404, None, "No such schema.").into())
}

/// The customer's members, filtered and paged.
#[utoipa::path(
    operation_id = "scim_list_users",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(
        ("filter" = Option<String>, Query, description = "A SCIM filter on userName, externalId, emails.value, active, meta.lastModified, name.givenName, …"),
        ("startIndex" = Option<i64>, Query, description = "1-based index of the first result"),
        ("count" = Option<i64>, Query, description = "At most this many results (at most 200)"),
        ("attributes" = Option<String>, Query, description = "Comma-separated attributes to return"),
        ("excludedAttributes" = Option<String>, Query, description = "Comma-separated attributes to leave out"),
    ),
    responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/Users")]
pub async fn scim_list_users(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let token = caller(&req, &state).await?;
    let query = list_query(&query_pairs(&req))?;
    let found = service::list_users(
        &state,
        &token,
        base_url(&state),
        query.filter,
        (query.start, query.count),
    )
    .await?;
    Ok(listed(found, &query.projection))
}

/// Search the customer's members with a SearchRequest body.
#[utoipa::path(
    operation_id = "scim_search_users",
    tag = "SCIM",
    security(("scim_token" = [])),
    request_body(content = Object, content_type = "application/scim+json", description = "A SearchRequest"),
    responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = Object))
)]
#[post("/scim/v2/Users/.search")]
pub async fn scim_search_users(
    req: HttpRequest,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
) -> Answer {
    let token = caller(&req, &state).await?;
    let query = search_query(&body(parsed)?)?;
    let found = service::list_users(
        &state,
        &token,
        base_url(&state),
        query.filter,
        (query.start, query.count),
    )
    .await?;
    Ok(listed(found, &query.projection))
}

/// Search every resource type at once (`POST /scim/v2/.search`).
#[utoipa::path(
    operation_id = "scim_search",
    tag = "SCIM",
    security(("scim_token" = [])),
    request_body(content = Object, content_type = "application/scim+json", description = "A SearchRequest"),
    responses((status = 200, description = "A ListResponse of Users and Groups", content_type = "application/scim+json", body = Object))
)]
#[post("/scim/v2/.search")]
pub async fn scim_search(
    req: HttpRequest,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
) -> Answer {
    let token = caller(&req, &state).await?;
    let query = search_query(&body(parsed)?)?;
    let base = base_url(&state);
    let everything = (1, usize::MAX);
    let users = service::list_users(
        &state,
        &token,
        base.clone(),
        query.filter.clone(),
        everything,
    )
    .await?;
    let mut resources = users.resources;
    resources.extend(more_resources(&state, &token, base, query.filter, everything).await?);
    let total = resources.len();
    let page = service::Listed {
        total,
        start: query.start,
        resources: resources
            .into_iter()
            .skip(query.start - 1)
            .take(query.count)
            .collect(),
    };
    Ok(listed(page, &query.projection))
}

/// The resources of the other types for a root search.
async fn more_resources(
    state: &AppState,
    token: &Token,
    base: String,
    filter: Option<Filter>,
    window: (usize, usize),
) -> Result<Vec<Value>, ScimError> {
    Ok(
        service::list_groups(state, token, base, filter, window, true)
            .await?
            .resources,
    )
}

/// Add a person to the customer (a new email is invited).
#[utoipa::path(
    operation_id = "scim_create_user",
    tag = "SCIM",
    security(("scim_token" = [])),
    request_body(content = Object, content_type = "application/scim+json", description = "A User"),
    responses((status = 201, description = "The member", content_type = "application/scim+json", body = Object))
)]
#[post("/scim/v2/Users")]
pub async fn scim_create_user(
    req: HttpRequest,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let body = body(parsed)?;
    let created = service::create_user(
        &state,
        &token,
        context(&token, &request_id),
        base_url(&state),
        body,
    )
    .await?;
    Ok(resource_answer(StatusCode::CREATED, &created))
}

fn user_id(raw: &str) -> Result<String, ScimReply> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ScimFault::new(404, None, "No User with that id.").into())
}

/// One member.
#[utoipa::path(
    operation_id = "scim_get_user",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "The member", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/Users/{id}")]
pub async fn scim_get_user(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = user_id(&path)?;
    let found = service::get_user(&state, &token, base_url(&state), id).await?;
    let projection = projection_of(&query_pairs(&req));
    Ok(resource_answer(
        StatusCode::OK,
        &project(found, &projection),
    ))
}

/// Replace a member's attributes.
#[utoipa::path(
    operation_id = "scim_replace_user",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = Object, content_type = "application/scim+json", description = "A User"),
    responses((status = 200, description = "The member", content_type = "application/scim+json", body = Object))
)]
#[put("/scim/v2/Users/{id}")]
pub async fn scim_replace_user(
    req: HttpRequest,
    path: web::Path<String>,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = user_id(&path)?;
    let body = body(parsed)?;
    let changed = service::replace_user(
        &state,
        &token,
        context(&token, &request_id),
        base_url(&state),
        id,
        if_match(&req),
        body,
    )
    .await?;
    Ok(resource_answer(StatusCode::OK, &changed))
}

/// Change a member with PatchOp operations.
#[utoipa::path(
    operation_id = "scim_patch_user",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("id" = String, Path, description = "The user's id")),
    request_body(content = Object, content_type = "application/scim+json", description = "A PatchOp"),
    responses((status = 200, description = "The member", content_type = "application/scim+json", body = Object))
)]
#[patch("/scim/v2/Users/{id}")]
pub async fn scim_patch_user(
    req: HttpRequest,
    path: web::Path<String>,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = user_id(&path)?;
    let body = body(parsed)?;
    let changed = service::patch_user(
        &state,
        &token,
        context(&token, &request_id),
        base_url(&state),
        id,
        if_match(&req),
        body,
    )
    .await?;
    Ok(resource_answer(StatusCode::OK, &changed))
}

/// Remove the member from the customer (their account stays).
#[utoipa::path(
    operation_id = "scim_delete_user",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 204, description = "Removed from the customer"))
)]
#[delete("/scim/v2/Users/{id}")]
pub async fn scim_delete_user(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = user_id(&path)?;
    service::delete_user(
        &state,
        &token,
        context(&token, &request_id),
        id,
        if_match(&req),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Whether a projection leaves `members` out (Entra reads groups so).
fn shows_members(projection: &Projection) -> bool {
    let named = |list: &[String]| {
        list.iter().any(|a| {
            a.eq_ignore_ascii_case("members") || a.to_ascii_lowercase().starts_with("members.")
        })
    };
    !named(&projection.excluded)
        && (projection.attributes.is_empty() || named(&projection.attributes))
}

/// The customer's groups, filtered and paged.
#[utoipa::path(
    operation_id = "scim_list_groups",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(
        ("filter" = Option<String>, Query, description = "A SCIM filter on displayName, externalId, members.value, meta.lastModified, …"),
        ("startIndex" = Option<i64>, Query, description = "1-based index of the first result"),
        ("count" = Option<i64>, Query, description = "At most this many results (at most 200)"),
        ("attributes" = Option<String>, Query, description = "Comma-separated attributes to return"),
        ("excludedAttributes" = Option<String>, Query, description = "Comma-separated attributes to leave out (`members` spares reading them)"),
    ),
    responses((status = 200, description = "A ListResponse of Groups", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/Groups")]
pub async fn scim_list_groups(req: HttpRequest, state: web::Data<AppState>) -> Answer {
    let token = caller(&req, &state).await?;
    let query = list_query(&query_pairs(&req))?;
    let with_members = shows_members(&query.projection);
    let found = service::list_groups(
        &state,
        &token,
        base_url(&state),
        query.filter,
        (query.start, query.count),
        with_members,
    )
    .await?;
    Ok(listed(found, &query.projection))
}

/// Search the customer's groups with a SearchRequest body.
#[utoipa::path(
    operation_id = "scim_search_groups",
    tag = "SCIM",
    security(("scim_token" = [])),
    request_body(content = Object, content_type = "application/scim+json", description = "A SearchRequest"),
    responses((status = 200, description = "A ListResponse of Groups", content_type = "application/scim+json", body = Object))
)]
#[post("/scim/v2/Groups/.search")]
pub async fn scim_search_groups(
    req: HttpRequest,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
) -> Answer {
    let token = caller(&req, &state).await?;
    let query = search_query(&body(parsed)?)?;
    let with_members = shows_members(&query.projection);
    let found = service::list_groups(
        &state,
        &token,
        base_url(&state),
        query.filter,
        (query.start, query.count),
        with_members,
    )
    .await?;
    Ok(listed(found, &query.projection))
}

/// Make a group in the customer.
#[utoipa::path(
    operation_id = "scim_create_group",
    tag = "SCIM",
    security(("scim_token" = [])),
    request_body(content = Object, content_type = "application/scim+json", description = "A Group"),
    responses((status = 201, description = "The group", content_type = "application/scim+json", body = Object))
)]
#[post("/scim/v2/Groups")]
pub async fn scim_create_group(
    req: HttpRequest,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let body = body(parsed)?;
    let created = service::create_group(
        &state,
        &token,
        context(&token, &request_id),
        base_url(&state),
        body,
    )
    .await?;
    Ok(resource_answer(StatusCode::CREATED, &created))
}

fn group_id(raw: &str) -> Result<String, ScimReply> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ScimFault::new(404, None, "No Group with that id.").into())
}

/// One group.
#[utoipa::path(
    operation_id = "scim_get_group",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(
        ("id" = String, Path, description = "The group's id"),
        ("attributes" = Option<String>, Query, description = "Comma-separated attributes to return"),
        ("excludedAttributes" = Option<String>, Query, description = "Comma-separated attributes to leave out"),
    ),
    responses((status = 200, description = "The group", content_type = "application/scim+json", body = Object))
)]
#[get("/scim/v2/Groups/{id}")]
pub async fn scim_get_group(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = group_id(&path)?;
    let projection = projection_of(&query_pairs(&req));
    let found = service::get_group(
        &state,
        &token,
        base_url(&state),
        id,
        shows_members(&projection),
    )
    .await?;
    Ok(resource_answer(
        StatusCode::OK,
        &project(found, &projection),
    ))
}

/// Replace a group's name, external id and members.
#[utoipa::path(
    operation_id = "scim_replace_group",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("id" = String, Path, description = "The group's id")),
    request_body(content = Object, content_type = "application/scim+json", description = "A Group"),
    responses((status = 200, description = "The group", content_type = "application/scim+json", body = Object))
)]
#[put("/scim/v2/Groups/{id}")]
pub async fn scim_replace_group(
    req: HttpRequest,
    path: web::Path<String>,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = group_id(&path)?;
    let body = body(parsed)?;
    let changed = service::replace_group(
        &state,
        &token,
        context(&token, &request_id),
        base_url(&state),
        id,
        if_match(&req),
        body,
    )
    .await?;
    Ok(resource_answer(StatusCode::OK, &changed))
}

/// Change a group with PatchOp operations (add or remove members, rename).
#[utoipa::path(
    operation_id = "scim_patch_group",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("id" = String, Path, description = "The group's id")),
    request_body(content = Object, content_type = "application/scim+json", description = "A PatchOp"),
    responses((status = 200, description = "The group", content_type = "application/scim+json", body = Object))
)]
#[patch("/scim/v2/Groups/{id}")]
pub async fn scim_patch_group(
    req: HttpRequest,
    path: web::Path<String>,
    parsed: Result<JsonBody<Value>, ApiError>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = group_id(&path)?;
    let body = body(parsed)?;
    let changed = service::patch_group(
        &state,
        &token,
        context(&token, &request_id),
        base_url(&state),
        id,
        if_match(&req),
        body,
    )
    .await?;
    Ok(resource_answer(StatusCode::OK, &changed))
}

/// Delete a group (its members stay in the customer).
#[utoipa::path(
    operation_id = "scim_delete_group",
    tag = "SCIM",
    security(("scim_token" = [])),
    params(("id" = String, Path, description = "The group's id")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/scim/v2/Groups/{id}")]
pub async fn scim_delete_group(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Answer {
    let token = caller(&req, &state).await?;
    let id = group_id(&path)?;
    service::delete_group(
        &state,
        &token,
        context(&token, &request_id),
        id,
        if_match(&req),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The SCIM routes and their methods, for 404 and 405 answers in SCIM's shape.
const ROUTES: &[(&str, &[&str])] = &[
    (".search", &["POST"]),
    ("ServiceProviderConfig", &["GET"]),
    ("ResourceTypes", &["GET"]),
    ("ResourceTypes/*", &["GET"]),
    ("Schemas", &["GET"]),
    ("Schemas/*", &["GET"]),
    ("Users", &["GET", "POST"]),
    ("Users/.search", &["POST"]),
    ("Users/*", &["GET", "PUT", "PATCH", "DELETE"]),
    ("Groups", &["GET", "POST"]),
    ("Groups/.search", &["POST"]),
    ("Groups/*", &["GET", "PUT", "PATCH", "DELETE"]),
];

fn allowed_methods(rest: &str) -> Option<&'static [&'static str]> {
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    ROUTES
        .iter()
        .find(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| *t == "*" || t == s)
        })
        .map(|(_, methods)| *methods)
}

/// Everything under `/scim/v2` no handler took: 405 on a known path, else 404.
pub async fn scim_fallback(req: HttpRequest) -> Result<HttpResponse, ScimReply> {
    let rest = req.path().strip_prefix("/scim/v2").unwrap_or_default();
    Err(match allowed_methods(rest) {
        Some(methods) => ScimReply {
            fault: ScimFault::new(
                405,
                None,
                format!("This resource allows {}.", methods.join(", ")),
            ),
            retry_after: None,
            allow: Some(methods.to_vec()),
        },
        None => ScimFault::new(404, None, "No SCIM resource at this path.").into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_answer_405_and_others_404() {
        assert_eq!(allowed_methods("/Schemas"), Some(&["GET"][..]));
        assert_eq!(allowed_methods("/Users/abc").map(|m| m.len()), Some(4));
        assert_eq!(allowed_methods("/Nope"), None);
        assert_eq!(allowed_methods("/Users/a/b"), None);
    }

    #[test]
    fn projection_keeps_always_returned_attributes() {
        let resource = json!({"id": "1", "schemas": [], "meta": {}, "userName": "u", "title": "t", "name": {"givenName": "g", "familyName": "f"}});
        let only = project(
            resource.clone(),
            &Projection {
                attributes: vec!["userName".into(), "name.givenName".into()],
                excluded: vec![],
            },
        );
        assert_eq!(
            only,
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "u", "name": {"givenName": "g"}})
        );
        let without = project(
            resource,
            &Projection {
                attributes: vec![],
                excluded: vec!["title".into(), "id".into()],
            },
        );
        assert!(without.get("title").is_none());
        assert!(without.get("id").is_some());
    }
}
