//! Customers and their licensed seats.

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::profile::{parse_label, search_key};
use crate::error::{ApiError, Problem};
use crate::http::{
    double_option_whole_number, etag, if_match_version, parse_query, path_id, whole_number,
    JsonBody, RequestId,
};
use crate::openapi::responses::{
    Forbidden, NotFound, PreconditionFailed, Unauthorized, Unprocessable,
};
use crate::openapi::schemas;
use crate::routes::common::{created, once, Checks, PageQuery, RequestMeta};
use crate::routes::extract::Authenticated;
use crate::routes::views::{CustomerView, Page};
use crate::service::customers::{self, CustomerEdit, CustomerInput};
use crate::service::idempotency::Created;
use crate::state::AppState;

const MAX_NAME: usize = 200;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// Not blank; at most 200 characters.
    #[schema(example = "UBM Demo", schema_with = schemas::label)]
    pub name: String,
    /// Seats licensed; omit or null for unlimited.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 0)]
    pub licensed_seats: Option<i32>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

fn check_seats(seats: Option<i32>) -> Result<Option<i32>, &'static str> {
    match seats {
        Some(n) if n < 0 => Err("must be 0 or more (null means unlimited)"),
        other => Ok(other),
    }
}

/// Create a customer.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    request_body = CreateCustomer,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe creation: the same key and body within 24 h replays the first answer; the same key with another body is 422 `idempotency_key_reused`", pattern = r"^[\x21-\x7E]{1,255}$", max_length = 255)),
    responses(
        (status = 201, body = CustomerView, headers(("Location" = String, description = "`/v1/customers/{customer_id}`"), ("ETag" = String)),
            links(
                ("GetCustomer" = (operation_id = "get_customer", parameters(("customer_id" = "$response.body#/id")))),
                ("UpdateCustomer" = (operation_id = "update_customer", parameters(("customer_id" = "$response.body#/id")))),
                ("ListCustomerUsers" = (operation_id = "list_customer_users", parameters(("customer_id" = "$response.body#/id")))),
                ("AddCustomerUser" = (operation_id = "add_customer_user", parameters(("customer_id" = "$response.body#/id")))),
            ),
        ),
        Unauthorized,
        (status = 403, description = "Platform admins only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same Idempotency-Key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`, or `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/v1/customers")]
pub async fn create_customer(
    req: HttpRequest,
    actor: Authenticated,
    body: JsonBody<CreateCustomer>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut checks = Checks::default();
    let name = checks.check("name", parse_label(&body.name, MAX_NAME));
    let seats = checks.check("licensed_seats", check_seats(body.licensed_seats));
    checks.finish()?;
    let meta = RequestMeta {
        requester_name: body.requester_name.clone(),
        confirmation_email: body.confirmation_email.clone(),
    };
    let context = meta.context(&actor.0, &request_id)?;
    let once = once(&req, &body)?;
    let input = CustomerInput {
        name: name.unwrap_or_default(),
        licensed_seats: seats.flatten(),
    };
    let answer = customers::create(&state, &actor.0, context, input, once, |row| {
        Ok(Created {
            body: serde_json::to_value(CustomerView::new(row, 0)).map_err(ApiError::internal)?,
            location: format!("/v1/customers/{}", row.id),
            etag: Some(etag(row.version)),
        })
    })
    .await?;
    Ok(created(answer))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Case-insensitive prefix of the name.
    #[param(schema_with = schemas::search_text)]
    pub q: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

/// List customers: all for platform admins, your own for everyone else.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(CustomerListQuery, PageQuery),
    responses(
        (status = 200, body = Page<CustomerView>),
        Unauthorized,
        Unprocessable,
    )
)]
#[get("/v1/customers")]
pub async fn list_customers(
    req: HttpRequest,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query: CustomerListQuery = parse_query(&req)?;
    let page = query.page.parse()?;
    let prefix = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(search_key);
    let rows = customers::list(&state, &actor.0, prefix, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, |(row, named)| {
        CustomerView::new(&row, named)
    })))
}

/// A customer, with its seat counts.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, body = CustomerView, headers(("ETag" = String))),
        Unauthorized,
        NotFound,
    )
)]
#[get("/v1/customers/{customer_id}")]
pub async fn get_customer(
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "customer")?;
    let (row, named) = customers::get(&state, &actor.0, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(row.version)))
        .json(CustomerView::new(&row, named)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    /// Not blank; at most 200 characters.
    #[schema(schema_with = schemas::optional_label)]
    pub name: Option<String>,
    /// null makes seats unlimited; lowering below `named_users` only blocks additions.
    #[serde(default, deserialize_with = "double_option_whole_number")]
    #[schema(value_type = Option<i32>, minimum = 0)]
    pub licensed_seats: Option<Option<i32>>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

/// Edit a customer (platform admins). Honours `If-Match`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = [])),
    request_body = UpdateCustomer,
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("If-Match" = Option<String>, Header, description = "The ETag you read (`\"7\"`) or `*`; 412 if the customer changed since (or a weak or foreign tag: they never match); 422 if it is not an entity tag", pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*")$"#),
    ),
    responses(
        (status = 200, body = CustomerView, headers(("ETag" = String))),
        Unauthorized,
        Forbidden,
        NotFound,
        PreconditionFailed,
        Unprocessable,
    )
)]
#[patch("/v1/customers/{customer_id}")]
pub async fn update_customer(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    body: JsonBody<UpdateCustomer>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut checks = Checks::default();
    let name = body
        .name
        .as_deref()
        .and_then(|n| checks.check("name", parse_label(n, MAX_NAME)));
    if let Some(seats) = body.licensed_seats {
        checks.check("licensed_seats", check_seats(seats));
    }
    checks.finish()?;
    let context = RequestMeta {
        requester_name: body.requester_name,
        confirmation_email: body.confirmation_email,
    }
    .context(&actor.0, &request_id)?;
    // No such customer is a 404 whatever If-Match says (the service checks
    // the version only once it has found the customer).
    let id = path_id(&path, "customer")?;
    let expected = if_match_version(&req)?;
    let edit = CustomerEdit {
        name,
        licensed_seats: body.licensed_seats,
    };
    let (row, named) = customers::update(&state, &actor.0, context, id, expected, edit).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(row.version)))
        .json(CustomerView::new(&row, named)))
}
