//! SCIM tokens: what an identity provider's SCIM connector authenticates
//! to `/scim/v2` with.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::clock::from_db;
use crate::db::api_clients::ApiClientRow;
use crate::domain::profile::parse_label;
use crate::error::ApiError;
use crate::http::{parse_query, path_id, JsonBody, RequestId};
use crate::openapi::responses::{Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::openapi::schemas;
use crate::routes::common::{PageQuery, RequestMeta};
use crate::routes::extract::Authenticated;
use crate::routes::views::Page;
use crate::service::scim_tokens as service;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenView {
    /// The token's id (it is also the audit events' `actor_client_id`).
    #[schema(format = Uuid)]
    pub id: String,
    /// What it is for (e.g. `Okta production`); null when none was given.
    pub description: Option<String>,
    /// The customer whose members and groups the token sees and changes.
    #[schema(format = Uuid)]
    pub customer_id: String,
    /// The person who made it; null when an API client did.
    #[schema(format = Uuid)]
    pub created_by: Option<String>,
    /// The API client that made it; null when a person did.
    #[schema(format = Uuid)]
    pub created_by_client_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used, to the minute (it is not written on every request).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl ScimTokenView {
    fn new(row: &ApiClientRow) -> Self {
        ScimTokenView {
            id: row.id.clone(),
            description: Some(row.name.clone()).filter(|d| !d.is_empty()),
            customer_id: row.customer_id.clone().unwrap_or_default(),
            created_by: row.created_by.clone(),
            created_by_client_id: row.created_by_client.clone(),
            created_at: from_db(row.created_at),
            last_used_at: row.last_used_at.map(from_db),
        }
    }
}

/// A new SCIM token with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedScimToken {
    #[serde(flatten)]
    pub view: ScimTokenView,
    /// The bearer token for the identity provider's SCIM connector. Store it
    /// now: only its hash is kept.
    #[schema(example = "rst_0CVh9d2XbL5mQy8cJpW4rT1nKzA6sGfE3uHiOvYwBxM")]
    pub token: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for; at most 200 characters. Blank means none.
    #[schema(schema_with = schemas::optional_description)]
    pub description: Option<String>,
}

fn customer_path(raw: &str) -> Result<String, ApiError> {
    path_id(raw, "customer")
}

/// Make a SCIM token for the customer. The token is in this response only.
#[utoipa::path(
    tag = "scim-tokens",
    security(("bearer" = [])),
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id")),
    request_body = CreateScimToken,
    responses(
        (status = 201, body = CreatedScimToken, headers(("Location" = String, description = "`/v1/customers/{customer_id}/scim-tokens/{scim_token_id}`"))),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[post("/v1/customers/{customer_id}/scim-tokens")]
pub async fn create_scim_token(
    path: web::Path<String>,
    actor: Authenticated,
    body: JsonBody<CreateScimToken>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let customer_id = customer_path(&path)?;
    let description = match body.0.description.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            Some(parse_label(text, 200).map_err(|why| ApiError::invalid("description", why))?)
        }
    };
    let context = RequestMeta::default().context(&actor.0, &request_id)?;
    let (row, token) =
        service::create(&state, &actor.0, context, customer_id.clone(), description).await?;
    let created = CreatedScimToken {
        view: ScimTokenView::new(&row),
        token: token.expose().to_string(),
    };
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/v1/customers/{customer_id}/scim-tokens/{}", row.id),
        ))
        .json(created))
}

/// The customer's SCIM tokens, newest first (never the tokens themselves).
#[utoipa::path(
    tag = "scim-tokens",
    security(("bearer" = [])),
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id"), PageQuery),
    responses(
        (status = 200, body = Page<ScimTokenView>),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[get("/v1/customers/{customer_id}/scim-tokens")]
pub async fn list_scim_tokens(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let customer_id = customer_path(&path)?;
    let page = parse_query::<PageQuery>(&req)?.parse()?;
    let rows = service::list(&state, &actor.0, customer_id, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, |row| ScimTokenView::new(&row))))
}

/// Revoke a SCIM token: the next request with it is refused (401).
#[utoipa::path(
    tag = "scim-tokens",
    security(("bearer" = [])),
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ("scim_token_id" = uuid::Uuid, Path, description = "SCIM token id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        Unauthorized,
        Forbidden,
        NotFound,
    )
)]
#[delete("/v1/customers/{customer_id}/scim-tokens/{scim_token_id}")]
pub async fn revoke_scim_token(
    path: web::Path<(String, String)>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let (customer_id, token_id) = path.into_inner();
    let customer_id = customer_path(&customer_id)?;
    let token_id = path_id(&token_id, "SCIM token")?;
    let context = RequestMeta::default().context(&actor.0, &request_id)?;
    service::revoke(&state, &actor.0, context, customer_id, token_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
