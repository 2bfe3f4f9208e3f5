//! A customer's users ("Customer Info → Users").

use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::users::UserFilter;
use crate::domain::email::EmailAddress;
use crate::domain::lifecycle::UserStatus;
use crate::domain::pagination::PageRequest;
use crate::domain::profile::{parse_external_id, parse_job_title, parse_name, search_key};
use crate::domain::roles::{check_settings, MembershipRole};
use crate::error::{ApiError, Problem};
use crate::http::{
    double_option, field_id, if_match_stamp, parse_query, path_id, stamp_etag, JsonBody, RequestId,
};
use crate::openapi::responses::{
    Forbidden, NotFound, PreconditionFailed, Unauthorized, Unprocessable,
};
use crate::openapi::schemas;
use crate::routes::common::{created, once, Checks, PageQuery, RequestMeta};
use crate::routes::extract::{Authenticated, VerifiedToken};
use crate::routes::views::{CustomerUserView, Page};
use crate::service::idempotency::Created;
use crate::service::members::{self, AddUser, CustomerUserList, MembershipEdit};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Only users in this status; leave it out for any.
    #[param(schema_with = schemas::user_status_or_empty)]
    pub status: Option<String>,
    /// Only members with this role; leave it out for any.
    #[param(schema_with = schemas::membership_role_or_empty)]
    pub role: Option<String>,
    /// Case-insensitive prefix of email, first or last name.
    #[param(schema_with = schemas::search_text)]
    pub q: Option<String>,
    /// Only the member with this external id (exact match); leave it out for any.
    #[param(schema_with = schemas::external_id_or_empty)]
    pub external_id: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// Validated list filters.
pub struct ListFilters {
    pub filter: UserFilter,
    pub role: Option<MembershipRole>,
    pub external_id: Option<String>,
    pub page: PageRequest,
}

impl UserListQuery {
    pub fn validate(self) -> Result<ListFilters, ApiError> {
        let mut checks = Checks::default();
        let status = self
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| {
                checks.check(
                    "status",
                    UserStatus::parse(s)
                        .ok_or("must be one of invited, active, inactive, expired, retired"),
                )
            });
        let role = self
            .role
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|r| {
                checks.check(
                    "role",
                    MembershipRole::parse(r)
                        .ok_or("must be one of standard_user, full_access, admin"),
                )
            });
        let external_id = checks
            .check(
                "external_id",
                parse_external_id(self.external_id.as_deref()),
            )
            .flatten();
        checks.finish()?;
        let page = self.page.parse()?;
        let prefix = self
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(search_key);
        Ok(ListFilters {
            filter: UserFilter { status, prefix },
            role,
            external_id,
            page,
        })
    }
}

/// One page of a customer's users, with its seat counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerUserPage {
    /// Seats licensed; null means unlimited.
    pub licensed_seats: Option<i32>,
    /// Memberships whose user is not retired.
    pub named_users: i64,
    pub items: Vec<CustomerUserView>,
    pub next_cursor: Option<String>,
}

/// List a customer's users, newest first.
#[utoipa::path(
    tag = "memberships",
    security(("bearer" = [])),
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id"), UserListQuery, PageQuery),
    responses(
        (status = 200, body = CustomerUserPage),
        Unauthorized,
        (status = 403, description = "Not an admin of this customer", body = Problem, content_type = "application/problem+json"),
        NotFound,
        Unprocessable,
    )
)]
#[get("/v1/customers/{customer_id}/users")]
pub async fn list_customer_users(
    req: HttpRequest,
    path: web::Path<String>,
    token: VerifiedToken,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let parsed = parse_query::<UserListQuery>(&req)
        .and_then(|query| query.validate())
        .and_then(|filters| Ok((filters, path_id(&path, "customer")?)));
    let (filters, customer_id) = token.then(parsed).await?;
    let query = CustomerUserList {
        filter: filters.filter,
        role: filters.role,
        external_id: filters.external_id,
        page: filters.page,
    };
    let found = members::list(&state, token.claims, customer_id, query).await?;
    let page = Page::of(found.rows, |member| {
        CustomerUserView::new(&member.membership, &member.user, &member.groups)
    });
    Ok(HttpResponse::Ok().json(CustomerUserPage {
        licensed_seats: found.customer.licensed_seats,
        named_users: found.named_users,
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCustomerUser {
    #[schema(example = "user@email.com", format = Email, max_length = 254)]
    pub email: String,
    /// Required for a new user; ignored for an existing one. 1–100 characters.
    #[schema(schema_with = schemas::person_name)]
    pub first_name: Option<String>,
    /// Required for a new user; ignored for an existing one. 1–100 characters.
    #[schema(schema_with = schemas::person_name)]
    pub last_name: Option<String>,
    /// Blank or null for none.
    #[schema(schema_with = schemas::job_title)]
    pub job_title: Option<String>,
    /// Defaults to `full_access`, or the copied user's role.
    pub role: Option<MembershipRole>,
    /// Product defaults (menu, chat tags, user-group tags); a JSON object ≤ 16 KiB.
    #[schema(schema_with = schemas::settings)]
    pub settings: Option<serde_json::Value>,
    /// Copy role, settings and groups from this user's membership in the same customer.
    #[schema(format = Uuid)]
    pub copy_from_user_id: Option<String>,
    /// The customer's own id for the user (HR system, identity provider): unique in the customer; blank or null for none.
    #[schema(schema_with = schemas::external_id)]
    pub external_id: Option<String>,
    /// Groups of this customer to put the user in (ids); defaults to the copied user's groups, or none.
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 100)]
    pub group_ids: Option<Vec<String>>,
    /// Send the activation email to a new user (default true).
    pub send_invite: Option<bool>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

impl AddCustomerUser {
    fn validate(&self) -> Result<AddUser, ApiError> {
        let mut checks = Checks::default();
        let email = checks.check("email", EmailAddress::parse(&self.email));
        let first_name = self
            .first_name
            .as_deref()
            .and_then(|n| checks.check("first_name", parse_name(n)));
        let last_name = self
            .last_name
            .as_deref()
            .and_then(|n| checks.check("last_name", parse_name(n)));
        let job_title = checks
            .check("job_title", parse_job_title(self.job_title.as_deref()))
            .flatten();
        let settings = self
            .settings
            .as_ref()
            .and_then(|s| checks.check("settings", check_settings(s)));
        let external_id = checks
            .check(
                "external_id",
                parse_external_id(self.external_id.as_deref()),
            )
            .flatten();
        checks.finish()?;
        let group_ids = self
            .group_ids
            .as_deref()
            .map(|ids| group_ids(ids, "group_ids"))
            .transpose()?;
        let copy_from_user_id = self
            .copy_from_user_id
            .as_deref()
            .map(|id| field_id(id, "copy_from_user_id"))
            .transpose()?;
        Ok(AddUser {
            email: email.expect("checked"),
            first_name,
            last_name,
            job_title,
            role: self.role,
            settings,
            copy_from_user_id,
            send_invite: self.send_invite.unwrap_or(true),
            external_id,
            group_ids,
        })
    }
}

/// Add a user to a customer. A new email creates an invited user and sends
/// the activation email (link valid 48 h); an existing user gets a membership.
#[utoipa::path(
    tag = "memberships",
    security(("bearer" = [])),
    request_body = AddCustomerUser,
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe creation: the same key and body within 24 h replays the first answer; the same key with another body is 422 `idempotency_key_reused`", pattern = r"^[\x21-\x7E]{1,255}$", max_length = 255),
    ),
    responses(
        (status = 201, body = CustomerUserView, headers(("Location" = String, description = "`/v1/users/{user_id}`"), ("ETag" = String, description = "The membership's ETag, for `If-Match` on `PATCH /v1/customers/{customer_id}/users/{user_id}`")),
            links(
                ("GetUser" = (operation_id = "get_user", parameters(("user_id" = "$response.body#/id")))),
                ("UpdateUser" = (operation_id = "update_user", parameters(("user_id" = "$response.body#/id")))),
                ("SetStatus" = (operation_id = "set_user_status", parameters(("user_id" = "$response.body#/id")))),
                ("UnlockUser" = (operation_id = "unlock_user", parameters(("user_id" = "$response.body#/id")))),
                ("SendActivationEmail" = (operation_id = "send_activation_email", parameters(("user_id" = "$response.body#/id")))),
                ("SendPasswordResetEmail" = (operation_id = "send_password_reset_email", parameters(("user_id" = "$response.body#/id")))),
                ("UpdateCustomerUser" = (operation_id = "update_customer_user", parameters(("customer_id" = "$request.path.customer_id"), ("user_id" = "$response.body#/id")))),
                ("RemoveCustomerUser" = (operation_id = "remove_customer_user", parameters(("customer_id" = "$request.path.customer_id"), ("user_id" = "$response.body#/id")))),
                ("DeleteUser" = (operation_id = "delete_user", parameters(("user_id" = "$response.body#/id")))),
            ),
        ),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "`already_member`, `seat_limit_reached`, or `user_retired` (with `user_id`)", body = Problem, content_type = "application/problem+json"),
        Unprocessable,
    )
)]
#[post("/v1/customers/{customer_id}/users")]
pub async fn add_customer_user(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    body: JsonBody<AddCustomerUser>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let input = body.validate()?;
    let context = RequestMeta {
        requester_name: body.requester_name.clone(),
        confirmation_email: body.confirmation_email.clone(),
    }
    .context(&actor.0, &request_id)?;
    let once = once(&req, &body)?;
    let customer_id = path_id(&path, "customer")?;
    let answer = members::add_user(
        &state,
        &actor.0,
        context,
        customer_id,
        input,
        once,
        |added| {
            Ok(Created {
                body: serde_json::to_value(CustomerUserView::new(
                    &added.membership,
                    &added.user,
                    &added.groups,
                ))
                .map_err(ApiError::internal)?,
                location: format!("/v1/users/{}", added.user.id),
                etag: Some(stamp_etag(added.membership.stamp())),
            })
        },
    )
    .await?;
    Ok(created(answer))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMembership {
    pub role: Option<MembershipRole>,
    #[schema(schema_with = schemas::settings)]
    pub settings: Option<serde_json::Value>,
    /// The customer's own id for the user, unique in the customer; null or blank clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schemas::external_id)]
    pub external_id: Option<Option<String>>,
    /// The user's groups in this customer (ids), replacing the ones they are in.
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 100)]
    pub group_ids: Option<Vec<String>>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

/// Change a user's role, settings, external id or groups in this customer.
#[utoipa::path(
    tag = "memberships",
    security(("bearer" = [])),
    request_body = UpdateMembership,
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("user_id" = uuid::Uuid, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "The membership's ETag from the answer that added or last edited it (`\"1764511512123456\"`) or `*`; 412 if the membership changed since (or a weak or foreign tag: they never match); 422 if it is not an entity tag", pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*")$"#),
    ),
    responses(
        (status = 200, body = CustomerUserView, headers(("ETag" = String, description = "The membership's new ETag"))),
        Unauthorized,
        Forbidden,
        NotFound,
        PreconditionFailed,
        Unprocessable,
    )
)]
#[patch(
    "/v1/customers/{customer_id}/users/{user_id}",
    guard = "not_the_export"
)]
pub async fn update_customer_user(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    actor: Authenticated,
    body: JsonBody<UpdateMembership>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut checks = Checks::default();
    let settings = body
        .settings
        .as_ref()
        .and_then(|s| checks.check("settings", check_settings(s)));
    let external_id = body
        .external_id
        .as_ref()
        .and_then(|id| checks.check("external_id", parse_external_id(id.as_deref())));
    checks.finish()?;
    let group_ids = body
        .group_ids
        .as_deref()
        .map(|ids| group_ids(ids, "group_ids"))
        .transpose()?;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    let (customer_id, user_id) = (
        path_id(&path.0, "customer")?,
        path_id(&path.1, "membership")?,
    );
    let edit = MembershipEdit {
        role: body.role,
        settings,
        external_id,
        group_ids,
    };
    let expected = if_match_stamp(&req)?;
    let member = members::update(
        &state,
        &actor.0,
        context,
        customer_id,
        user_id,
        edit,
        expected,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, stamp_etag(member.membership.stamp())))
        .json(CustomerUserView::new(
            &member.membership,
            &member.user,
            &member.groups,
        )))
}

/// Group ids from a body: at most 100, each an id, no repeats.
fn group_ids(ids: &[String], field: &str) -> Result<Vec<String>, ApiError> {
    if ids.len() > 100 {
        return Err(ApiError::invalid(field, "lists more than 100 groups"));
    }
    let mut checked: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = field_id(id, field)?;
        if !checked.contains(&id) {
            checked.push(id);
        }
    }
    Ok(checked)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveQuery {
    /// Email the user that they were removed.
    pub notify: Option<bool>,
    /// Name of the person who requested the change; blank means none.
    #[param(schema_with = schemas::requester_name_query)]
    pub requester_name: Option<String>,
    /// An action-confirmation email goes to this address; blank means none.
    #[param(schema_with = schemas::optional_email_query)]
    pub confirmation_email: Option<String>,
}

/// Remove a user from this customer only; other memberships stay.
#[utoipa::path(
    tag = "memberships",
    security(("bearer" = [])),
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id"), ("user_id" = uuid::Uuid, Path, description = "User id"), RemoveQuery),
    responses(
        (status = 204, description = "Removed"),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[delete(
    "/v1/customers/{customer_id}/users/{user_id}",
    guard = "not_the_export"
)]
pub async fn remove_customer_user(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let query: RemoveQuery = parse_query(&req)?;
    let context = RequestMeta {
        requester_name: query.requester_name,
        confirmation_email: query.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    let (customer_id, user_id) = (
        path_id(&path.0, "customer")?,
        path_id(&path.1, "membership")?,
    );
    let notify = query.notify.unwrap_or(false);
    members::remove(&state, &actor.0, context, customer_id, user_id, notify).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `…/users/export` is the export (GET only), never a user: other methods
/// on it fall through to the 405 the route table gives.
fn not_the_export(ctx: &actix_web::guard::GuardContext) -> bool {
    !ctx.head().uri.path().ends_with("/users/export")
}
