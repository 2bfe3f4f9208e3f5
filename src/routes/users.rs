//! Users across the platform: User Info, edit, status, lock, emails, delete.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::db::action_tokens::Purpose;
use crate::domain::email::EmailAddress;
use crate::domain::lifecycle::StatusTarget;
use crate::domain::profile::{parse_job_title, parse_name};
use crate::error::{ApiError, Problem};
use crate::http::{
    double_option, etag, field_id, if_match_version, parse_query, path_id, JsonBody, RequestId,
};
use crate::openapi::responses::{
    Forbidden, NotFound, PreconditionFailed, Unauthorized, Unprocessable,
};
use crate::openapi::schemas;
use crate::routes::common::{Checks, PageQuery, RequestMeta};
use crate::routes::extract::{Authenticated, VerifiedToken};
use crate::routes::memberships::UserListQuery;
use crate::routes::views::{Page, UserFields, UserView};
use crate::service::users::{self as service, PlatformUserList, ProfileEdit, UserInfo};
use crate::state::AppState;

fn user_info_response(info: UserInfo) -> HttpResponse {
    let (user, memberships) = info;
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(user.version)))
        .json(UserView::new(&user, &memberships))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlatformUserQuery {
    /// Only members of this customer; leave it out for any.
    #[param(schema_with = schemas::uuid_or_blank)]
    pub customer_id: Option<String>,
}

/// All users of the platform, newest first (platform admins).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(UserListQuery, PageQuery, PlatformUserQuery),
    responses(
        (status = 200, body = Page<UserFields>),
        Unauthorized,
        Forbidden,
        Unprocessable,
    )
)]
#[get("/v1/users")]
pub async fn list_users(
    req: HttpRequest,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let filters = parse_query::<UserListQuery>(&req)?.validate()?;
    let customer_id = parse_query::<PlatformUserQuery>(&req)?
        .customer_id
        .filter(|c| !c.is_empty())
        .map(|c| field_id(&c, "customer_id"))
        .transpose()?;
    let query = PlatformUserList {
        filter: filters.filter,
        customer_id,
        role: filters.role,
        page: filters.page,
    };
    let page = service::list(&state, &actor.0, query).await?;
    Ok(HttpResponse::Ok().json(Page::of(page, |user| UserFields::from(&user))))
}

/// User Info: the user with every membership.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = UserView, headers(("ETag" = String))),
        Unauthorized,
        NotFound,
    )
)]
#[get("/v1/users/{user_id}")]
pub async fn get_user(
    path: web::Path<String>,
    token: VerifiedToken,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = token.then(path_id(&path, "user")).await?;
    let info = service::get(&state, token.claims, id).await?;
    Ok(user_info_response(info))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// 1–100 characters.
    #[schema(schema_with = schemas::person_name)]
    pub first_name: Option<String>,
    /// 1–100 characters.
    #[schema(schema_with = schemas::person_name)]
    pub last_name: Option<String>,
    /// null or blank clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schemas::job_title)]
    pub job_title: Option<Option<String>>,
    /// Stays unique, case-insensitively.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

impl UpdateUser {
    fn validate(&self) -> Result<ProfileEdit, ApiError> {
        let mut checks = Checks::default();
        let edit = ProfileEdit {
            first_name: self
                .first_name
                .as_deref()
                .and_then(|n| checks.check("first_name", parse_name(n))),
            last_name: self
                .last_name
                .as_deref()
                .and_then(|n| checks.check("last_name", parse_name(n))),
            job_title: self
                .job_title
                .as_ref()
                .and_then(|t| checks.check("job_title", parse_job_title(t.as_deref()))),
            email: self
                .email
                .as_deref()
                .and_then(|e| checks.check("email", EmailAddress::parse(e))),
        };
        checks.finish()?;
        Ok(edit)
    }
}

/// Edit a user's profile (user admins). Honours `If-Match`.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body = UpdateUser,
    params(
        ("user_id" = uuid::Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read (`\"7\"`) or `*`; 412 if the user changed since (or a weak or foreign tag: they never match); 422 if it is not an entity tag", pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*")$"#),
    ),
    responses(
        (status = 200, body = UserView, headers(("ETag" = String))),
        Unauthorized,
        (status = 403, description = "Not a user admin of every customer of this user", body = Problem, content_type = "application/problem+json"),
        NotFound,
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        PreconditionFailed,
        Unprocessable,
    )
)]
#[patch("/v1/users/{user_id}")]
pub async fn update_user(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    body: JsonBody<UpdateUser>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let edit = body.validate()?;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    // No such user is a 404 whatever If-Match says (the service checks the
    // version only once it has found the user).
    let id = path_id(&path, "user")?;
    let expected = if_match_version(&req)?;
    let info = service::update_profile(&state, &actor.0, context, id, expected, edit).await?;
    Ok(user_info_response(info))
}

/// Delete a user from the platform (platform admins): personal data,
/// memberships and tokens are removed; audit events keep the id.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id"), RequestMeta),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "You cannot delete yourself", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/v1/users/{user_id}")]
pub async fn delete_user(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let id = path_id(&path, "user")?;
    service::delete(&state, &actor.0, context, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    /// `active` (reactivate or reinstate), `inactive`, or `retired` ("drop").
    #[schema(example = "inactive", value_type = StatusTargetName)]
    pub status: String,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

/// The statuses an admin may set (`invited` and `expired` are not targets).
#[derive(ToSchema)]
#[schema(as = StatusTargetName)]
#[allow(dead_code)] // documents the accepted values; the handler parses the string
#[serde(rename_all = "snake_case")]
enum StatusTargetName {
    Active,
    Inactive,
    Retired,
}

/// Inactivate, reactivate, retire ("drop") or reinstate a user. Idempotent.
#[utoipa::path(
    operation_id = "set_user_status",
    tag = "users",
    security(("bearer" = [])),
    request_body = SetStatus,
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id."),
        ("If-Match" = Option<String>, Header, description = "The ETag you read (`\"7\"`) or `*`; 412 if the user changed since (or a weak or foreign tag: they never match); 422 if it is not an entity tag", pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*")$"#),
    ),
    responses(
        (status = 200, body = UserView, headers(("ETag" = String))),
        Unauthorized,
        Forbidden,
        NotFound,
        PreconditionFailed,
        (status = 409, description = "`seat_limit_reached`, `user_not_activated`, `user_retired` or `cannot_change_self`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invited` and `expired` cannot be set", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/v1/users/{user_id}/status")]
pub async fn set_status(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    body: JsonBody<SetStatus>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let target =
        StatusTarget::parse(&body.status).map_err(|why| ApiError::invalid("status", why))?;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    let id = path_id(&path, "user")?;
    let expected = if_match_version(&req)?;
    let info = service::set_status(&state, &actor.0, context, id, target, expected).await?;
    Ok(user_info_response(info))
}

/// Unlock an account locked by failed sign-ins. Idempotent.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id"), RequestMeta),
    responses(
        (status = 204, description = "Unlocked (or was not locked)"),
        Unauthorized,
        Forbidden,
        NotFound,
    )
)]
#[delete("/v1/users/{user_id}/lock")]
pub async fn unlock_user(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let id = path_id(&path, "user")?;
    service::unlock(&state, &actor.0, context, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn send_link(
    req: HttpRequest,
    id: String,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
    purpose: Purpose,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    service::send_link(&state, &actor.0, context, id, purpose).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Send a new activation email; the old link stops working. Invited users only.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id"), RequestMeta),
    responses(
        (status = 202, description = "Queued"),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "`not_invited`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/users/{user_id}/activation-email")]
pub async fn send_activation_email(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    send_link(
        req,
        path_id(&path, "user")?,
        actor,
        state,
        request_id,
        Purpose::Activation,
    )
    .await
}

/// Send a password-reset email (link valid 48 h). Active users only.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "User id"), RequestMeta),
    responses(
        (status = 202, description = "Queued"),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "`not_active`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/users/{user_id}/password-reset-email")]
pub async fn send_password_reset_email(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    send_link(
        req,
        path_id(&path, "user")?,
        actor,
        state,
        request_id,
        Purpose::PasswordReset,
    )
    .await
}
