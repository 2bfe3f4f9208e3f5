//! API clients for provisioning scripts (`grant_type=client_credentials`).

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::clock::from_db;
use crate::db::api_clients::ApiClientRow;
use crate::domain::profile::parse_label;
use crate::error::ApiError;
use crate::http::{field_id, parse_query, path_id, JsonBody, RequestId};
use crate::openapi::responses::{Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::openapi::schemas;
use crate::routes::common::{created, once, PageQuery, RequestMeta};
use crate::routes::extract::Authenticated;
use crate::routes::views::Page;
use crate::service::api_clients as service;
use crate::service::idempotency::Created;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientView {
    /// The `client_id` of the client-credentials grant.
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// The one customer this client administers; null for platform scope.
    pub customer_id: Option<String>,
    /// The person who made it through the API. Null, like
    /// `created_by_client_id`, for a client made with the command line: the
    /// platform's own, which no person's standing affects.
    #[schema(format = Uuid)]
    pub created_by_user_id: Option<String>,
    /// The API client that made it through the API.
    #[schema(format = Uuid)]
    pub created_by_client_id: Option<String>,
    /// True while its creator could not make it now (a person removed from
    /// the customer, no longer its admin, not `active` or deleted; a client
    /// revoked or suspended itself): its grant answers `invalid_client` and
    /// its access tokens 401. It works again if the creator regains the
    /// right; revoke it to end it for good.
    pub suspended: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiClientView {
    fn new(row: &ApiClientRow, suspended: bool) -> Self {
        ApiClientView {
            id: row.id.clone(),
            name: row.name.clone(),
            customer_id: row.customer_id.clone(),
            created_by_user_id: row.created_by.clone(),
            created_by_client_id: row.created_by_client.clone(),
            suspended,
            created_at: from_db(row.created_at),
            last_used_at: row.last_used_at.map(from_db),
        }
    }
}

/// A new client with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiClient {
    #[serde(flatten)]
    pub client: ApiClientView,
    /// Store it now: only its hash is kept.
    pub client_secret: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiClient {
    /// Not blank; at most 200 characters.
    #[schema(example = "nightly provisioning", schema_with = schemas::label)]
    pub name: String,
    /// Scope the client to one customer; omit (or null, or blank) for
    /// platform scope (platform admins only).
    #[schema(schema_with = schemas::nullable_uuid_or_blank)]
    pub customer_id: Option<String>,
    #[schema(schema_with = schemas::requester_name)]
    pub requester_name: Option<String>,
    #[schema(schema_with = schemas::optional_email)]
    pub confirmation_email: Option<String>,
}

/// Create an API client. The secret is in this response only.
#[utoipa::path(
    tag = "api-clients",
    security(("bearer" = [])),
    request_body = CreateApiClient,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe creation: the same key and body within 24 h replays the first answer; the same key with another body is 422 `idempotency_key_reused`", pattern = r"^[\x21-\x7E]{1,255}$", max_length = 255)),
    responses(
        (status = 201, body = CreatedApiClient, headers(("Location" = String, description = "`/v1/api-clients/{api_client_id}`")),
            links(
                ("RevokeApiClient" = (operation_id = "revoke_api_client", parameters(("api_client_id" = "$response.body#/id")))),
            ),
        ),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[post("/v1/api-clients")]
pub async fn create_api_client(
    req: HttpRequest,
    actor: Authenticated,
    body: JsonBody<CreateApiClient>,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let name = parse_label(&body.name, 200).map_err(|why| ApiError::invalid("name", why))?;
    let context = RequestMeta {
        requester_name: body.requester_name.clone(),
        confirmation_email: body.confirmation_email.clone(),
    }
    .context(&actor.0, &request_id)?;
    let once = once(&req, &body)?;
    let customer_id = body
        .customer_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| field_id(c, "customer_id"))
        .transpose()?;
    let answer = service::create_once(
        &state,
        &actor.0,
        context,
        name,
        customer_id,
        once,
        |row, secret| {
            let view = CreatedApiClient {
                client: ApiClientView::new(row, false),
                client_secret: secret.expose().to_string(),
            };
            Ok(Created {
                body: serde_json::to_value(view).map_err(ApiError::internal)?,
                location: format!("/v1/api-clients/{}", row.id),
                etag: None,
            })
        },
    )
    .await?;
    Ok(created(answer))
}

/// API clients you may manage, newest first, each with its creator and
/// whether it is suspended.
#[utoipa::path(
    tag = "api-clients",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, body = Page<ApiClientView>),
        Unauthorized,
        Forbidden,
        Unprocessable,
    )
)]
#[get("/v1/api-clients")]
pub async fn list_api_clients(
    req: HttpRequest,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_query::<PageQuery>(&req)?.parse()?;
    let rows = service::list(&state, &actor.0, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(rows, |listed| {
        ApiClientView::new(&listed.row, listed.suspended)
    })))
}

/// Revoke an API client; its tokens stop working at once.
#[utoipa::path(
    tag = "api-clients",
    security(("bearer" = [])),
    params(("api_client_id" = uuid::Uuid, Path, description = "API client id"), RequestMeta),
    responses(
        (status = 204, description = "Revoked"),
        Unauthorized,
        Forbidden,
        NotFound,
    )
)]
#[delete("/v1/api-clients/{api_client_id}")]
pub async fn revoke_api_client(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let context = RequestMeta::from_query(&req)?.context(&actor.0, &request_id)?;
    let id = path_id(&path, "API client")?;
    service::revoke(&state, &actor.0, context, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
