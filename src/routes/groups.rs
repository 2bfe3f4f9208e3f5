//! A customer's groups of users ("user group tags") and their members.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::clock::from_db;
use crate::db::groups::GroupFilter;
use crate::domain::profile::parse_external_id;
use crate::error::ApiError;
use crate::http::{
    double_option, etag, if_match_version, parse_query, path_id, JsonBody, RequestId,
};
use crate::openapi::responses::{
    Conflict, Forbidden, NotFound, PreconditionFailed, Unauthorized, Unprocessable,
};
use crate::openapi::schemas;
use crate::routes::common::{Checks, PageQuery, RequestMeta};
use crate::routes::extract::Authenticated;
use crate::routes::views::Page;
use crate::service::groups::{self, Group, GroupEdit, NewGroup, MAX_DESCRIPTION};
use crate::state::AppState;

/// A group of a customer's users.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    /// The group's id (`group_id` in paths).
    #[schema(format = Uuid)]
    pub id: String,
    /// The customer the group belongs to.
    #[schema(format = Uuid)]
    pub customer_id: String,
    /// Unique in the customer, compared case-insensitively.
    #[schema(example = "Accounts payable")]
    pub name: String,
    /// What the group is for.
    pub description: Option<String>,
    /// The identity provider's id for the group, unique in the customer.
    pub external_id: Option<String>,
    /// How many users are in the group.
    pub member_count: i64,
    /// When the group was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the group (or who is in it) last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Group> for GroupView {
    fn from(group: &Group) -> Self {
        let row = &group.row;
        GroupView {
            id: row.id.clone(),
            customer_id: row.customer_id.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            external_id: row.external_id.clone(),
            member_count: group.member_count,
            created_at: from_db(row.created_at),
            updated_at: from_db(row.updated_at),
        }
    }
}

/// A group with the ids of its users.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDetail {
    #[serde(flatten)]
    pub group: GroupView,
    /// The users in the group, in the order they joined it.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub member_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Not blank, at most 100 characters, no `;`; unique in the customer.
    #[schema(schema_with = schemas::group_name, example = "Accounts payable")]
    pub name: String,
    /// Blank or null for none; at most 1000 characters.
    #[schema(schema_with = schemas::group_description)]
    pub description: Option<String>,
    /// The identity provider's id for the group; blank or null for none.
    #[schema(schema_with = schemas::external_id)]
    pub external_id: Option<String>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// Not blank, at most 100 characters, no `;`; unique in the customer.
    #[schema(schema_with = schemas::group_name)]
    pub name: Option<String>,
    /// null or blank clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schemas::group_description)]
    pub description: Option<Option<String>>,
    /// null or blank clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schemas::external_id)]
    pub external_id: Option<Option<String>>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

/// A description: blank means none.
fn parse_description(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    if raw.is_some_and(|text| text.chars().count() > MAX_DESCRIPTION) {
        return Err("is longer than 1000 characters");
    }
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().any(char::is_control) => {
            Err("must not contain control characters or line breaks")
        }
        Some(text) => Ok(Some(text.to_string())),
    }
}

fn name_check(checks: &mut Checks, name: &str) -> Option<String> {
    checks.check("name", groups::valid_name(name))
}

/// Create a group in a customer.
#[utoipa::path(
    tag = "groups",
    security(("bearer" = [])),
    request_body = CreateGroup,
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id")),
    responses(
        (status = 201, body = GroupView, headers(("Location" = String, description = "`/v1/customers/{customer_id}/groups/{group_id}`"), ("ETag" = String))),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Unprocessable,
    )
)]
#[post("/v1/customers/{customer_id}/groups")]
pub async fn create_group(
    path: web::Path<String>,
    actor: Authenticated,
    body: JsonBody<CreateGroup>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut checks = Checks::default();
    let name = name_check(&mut checks, &body.name);
    let description = checks
        .check(
            "description",
            parse_description(body.description.as_deref()),
        )
        .flatten();
    let external_id = checks
        .check(
            "external_id",
            parse_external_id(body.external_id.as_deref()),
        )
        .flatten();
    checks.finish()?;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    let customer_id = path_id(&path, "customer")?;
    let new = NewGroup {
        name: name.unwrap_or_default(),
        description,
        external_id,
    };
    let group = groups::create(&state, &actor.0, context, customer_id, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!(
                "/v1/customers/{}/groups/{}",
                group.row.customer_id, group.row.id
            ),
        ))
        .insert_header((header::ETAG, etag(group.row.version)))
        .json(GroupView::from(&group)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupListQuery {
    /// Only the group with this name (case-insensitive); leave it out for any.
    #[param(schema_with = schemas::search_text)]
    pub name: Option<String>,
    /// Only the group with this external id; leave it out for any.
    #[param(schema_with = schemas::external_id_or_empty)]
    pub external_id: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// List a customer's groups, newest first.
#[utoipa::path(
    tag = "groups",
    security(("bearer" = [])),
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id"), GroupListQuery, PageQuery),
    responses(
        (status = 200, body = Page<GroupView>),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[get("/v1/customers/{customer_id}/groups")]
pub async fn list_groups(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: GroupListQuery = parse_query(&req)?;
    let page = query.page.parse()?;
    let mut checks = Checks::default();
    let external_id = checks
        .check(
            "external_id",
            parse_external_id(query.external_id.as_deref()),
        )
        .flatten();
    checks.finish()?;
    let filter = GroupFilter {
        name: query
            .name
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty()),
        external_id,
    };
    let customer_id = path_id(&path, "customer")?;
    let found = groups::list(&state, &actor.0, customer_id, filter, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(found, |group| GroupView::from(&group))))
}

/// A group, with the ids of its users.
#[utoipa::path(
    tag = "groups",
    security(("bearer" = [])),
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("group_id" = uuid::Uuid, Path, description = "Group id"),
    ),
    responses(
        (status = 200, body = GroupDetail, headers(("ETag" = String))),
        Unauthorized,
        Forbidden,
        NotFound,
    )
)]
#[get("/v1/customers/{customer_id}/groups/{group_id}")]
pub async fn get_group(
    path: web::Path<(String, String)>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (customer_id, group_id) = (path_id(&path.0, "customer")?, path_id(&path.1, "group")?);
    let (group, member_ids) = groups::get(&state, &actor.0, customer_id, group_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(group.row.version)))
        .json(GroupDetail {
            group: GroupView::from(&group),
            member_ids,
        }))
}

/// Rename a group or change its description or external id. Honours `If-Match`.
#[utoipa::path(
    tag = "groups",
    security(("bearer" = [])),
    request_body = UpdateGroup,
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("group_id" = uuid::Uuid, Path, description = "Group id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read (`\"3\"`) or `*`; 412 if the group changed since (members joining or leaving change it too)", pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*")$"#),
    ),
    responses(
        (status = 200, body = GroupView, headers(("ETag" = String))),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PreconditionFailed,
        Unprocessable,
    )
)]
#[patch("/v1/customers/{customer_id}/groups/{group_id}")]
pub async fn update_group(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    actor: Authenticated,
    body: JsonBody<UpdateGroup>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut checks = Checks::default();
    let name = body
        .name
        .as_deref()
        .and_then(|name| name_check(&mut checks, name));
    let description = body
        .description
        .as_ref()
        .and_then(|d| checks.check("description", parse_description(d.as_deref())));
    let external_id = body
        .external_id
        .as_ref()
        .and_then(|id| checks.check("external_id", parse_external_id(id.as_deref())));
    checks.finish()?;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    let ids = (path_id(&path.0, "customer")?, path_id(&path.1, "group")?);
    let expected = if_match_version(&req)?;
    let edit = GroupEdit {
        name,
        description,
        external_id,
    };
    let group = groups::update(&state, &actor.0, context, ids, edit, expected).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(group.row.version)))
        .json(GroupView::from(&group)))
}

/// Delete a group. Its users stay in the customer.
#[utoipa::path(
    tag = "groups",
    security(("bearer" = [])),
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("group_id" = uuid::Uuid, Path, description = "Group id"),
        RequestMeta,
    ),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[delete("/v1/customers/{customer_id}/groups/{group_id}")]
pub async fn delete_group(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let (customer_id, group_id) = (path_id(&path.0, "customer")?, path_id(&path.1, "group")?);
    groups::delete(&state, &actor.0, context, customer_id, group_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Put a user of the customer in a group. Idempotent.
#[utoipa::path(
    tag = "groups",
    security(("bearer" = [])),
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("group_id" = uuid::Uuid, Path, description = "Group id"),
        ("user_id" = uuid::Uuid, Path, description = "User id (a user of this customer)"),
        RequestMeta,
    ),
    responses(
        (status = 204, description = "The user is in the group (now, or already was)"),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[put("/v1/customers/{customer_id}/groups/{group_id}/members/{user_id}")]
pub async fn add_group_member(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let ids = (
        path_id(&path.0, "customer")?,
        path_id(&path.1, "group")?,
        path_id(&path.2, "membership")?,
    );
    groups::add_member(&state, &actor.0, context, ids).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Take a user out of a group (they stay in the customer).
#[utoipa::path(
    tag = "groups",
    security(("bearer" = [])),
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("group_id" = uuid::Uuid, Path, description = "Group id"),
        ("user_id" = uuid::Uuid, Path, description = "User id"),
        RequestMeta,
    ),
    responses(
        (status = 204, description = "Removed from the group"),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[delete("/v1/customers/{customer_id}/groups/{group_id}/members/{user_id}")]
pub async fn remove_group_member(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let ids = (
        path_id(&path.0, "customer")?,
        path_id(&path.1, "group")?,
        path_id(&path.2, "group member")?,
    );
    groups::remove_member(&state, &actor.0, context, ids).await?;
    Ok(HttpResponse::NoContent().finish())
}
