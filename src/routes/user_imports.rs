//! Bulk import and export of a customer's users.

use actix_web::http::header;
use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::clock::from_db;
use crate::db::imports::ImportRow as JobRow;
use crate::domain::imports::Format;
use crate::domain::pagination::Cursor;
use crate::error::{ApiError, Problem};
use crate::http::{parse_query, path_id, RequestId};
use crate::openapi::responses::{
    Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable, UnsupportedMediaType,
};
use crate::routes::common::PageQuery;
use crate::routes::extract::Authenticated;
use crate::routes::views::Page;
use crate::service::audit::AuditContext;
use crate::service::user_imports::{self, export_header, render_export, RowFailure, Upload};
use crate::state::AppState;

/// Where an import job is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl ImportStatus {
    fn of(status: &str) -> Self {
        match status {
            "running" => ImportStatus::Running,
            "completed" => ImportStatus::Completed,
            "failed" => ImportStatus::Failed,
            _ => ImportStatus::Queued,
        }
    }
}

/// A bulk import job and its counts so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserImportView {
    /// The job's id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The customer the rows are imported into.
    #[schema(format = Uuid)]
    pub customer_id: String,
    /// `queued` until a worker takes it, `running`, then `completed` (even
    /// with failed rows) or `failed` (it could not go on; see the logs).
    pub status: ImportStatus,
    /// A dry run changes nothing and reports what would happen.
    pub dry_run: bool,
    /// Whether new users get the activation email.
    pub send_invites: bool,
    /// Rows in the file (the header not counted).
    pub total_rows: i32,
    /// Rows done so far.
    pub processed_rows: i32,
    /// Rows that added a member (a new user, or an existing user's membership).
    pub created: i32,
    /// Rows that changed an existing member.
    pub updated: i32,
    /// Rows identical to the member they matched.
    pub unchanged: i32,
    /// Rows that failed; `GET /v1/user-imports/{import_id}/errors` says why.
    pub failed: i32,
    /// When the file was uploaded.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the first batch ran.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When the job completed or failed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl From<&JobRow> for UserImportView {
    fn from(job: &JobRow) -> Self {
        UserImportView {
            id: job.id.clone(),
            customer_id: job.customer_id.clone(),
            status: ImportStatus::of(&job.status),
            dry_run: job.dry_run,
            send_invites: job.send_invites,
            total_rows: job.total_rows,
            processed_rows: job.processed_rows,
            created: job.created,
            updated: job.updated,
            unchanged: job.unchanged,
            failed: job.failed,
            created_at: from_db(job.created_at),
            started_at: job.started_at.map(from_db),
            finished_at: job.finished_at.map(from_db),
        }
    }
}

/// One row of the file that failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorView {
    /// The row's number in the file: a CSV file's header is row 1, an
    /// NDJSON file's first line is row 1.
    pub row: i32,
    /// The row's email as written, if it had one.
    pub email: Option<String>,
    /// The column at fault (`row` when it is the row as a whole).
    pub field: String,
    /// Why, as the REST API's error code (`validation_failed`,
    /// `seat_limit_reached`, `forbidden`, `user_retired`, `email_taken`, …),
    /// or `duplicate_row` for a row repeating an earlier row's email or
    /// external id.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl From<RowFailure> for ImportErrorView {
    fn from(failure: RowFailure) -> Self {
        ImportErrorView {
            row: failure.row,
            email: failure.email,
            field: failure.field,
            code: failure.code,
            message: failure.message,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Only report what would happen; change nothing (default false).
    pub dry_run: Option<bool>,
    /// Send the activation email to each new user (default true).
    pub send_invites: Option<bool>,
}

/// Import users into a customer from a CSV or NDJSON file.
#[utoipa::path(
    tag = "user-imports",
    security(("bearer" = [])),
    params(("customer_id" = uuid::Uuid, Path, description = "Customer id"), ImportQuery),
    request_body(
        description = "The users: CSV with a header row naming the columns, or one JSON object per line.",
        content(
            (String = "text/csv", example = json!("email,first_name,last_name,job_title,role,external_id,groups\nana.ruiz@ubm-demo.example,Ana,Ruiz,Energy Analyst,standard_user,HR-1042,Finance;Sites\n")),
            (String = "application/x-ndjson", example = json!("{\"email\":\"ana.ruiz@ubm-demo.example\",\"first_name\":\"Ana\",\"last_name\":\"Ruiz\",\"role\":\"standard_user\",\"external_id\":\"HR-1042\",\"groups\":[\"Finance\",\"Sites\"]}\n")),
        ),
    ),
    responses(
        (status = 202, body = UserImportView, headers(("Location" = String, description = "`/v1/user-imports/{import_id}`"))),
        Unauthorized,
        Forbidden,
        NotFound,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
    )
)]
#[post("/v1/customers/{customer_id}/user-imports")]
pub async fn create_user_import(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    payload: web::Payload,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let customer_id = path_id(&path, "customer")?;
    let format =
        Format::of_content_type(req.content_type()).ok_or(ApiError::UnsupportedMediaType)?;
    let query: ImportQuery = parse_query(&req)?;
    let body = read_file(&req, payload, state.settings.import_max_bytes).await?;
    let context = AuditContext::for_actor(&actor.0, &request_id.0).with_client_ip(request_id.1);
    let upload = Upload {
        customer_id,
        format,
        body,
        dry_run: query.dry_run.unwrap_or(false),
        send_invites: query.send_invites.unwrap_or(true),
    };
    let job = user_imports::start(&state, &actor.0, context, upload).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/user-imports/{}", job.id)))
        .json(UserImportView::from(&job)))
}

/// The whole body, refused with 413 past `limit` bytes.
async fn read_file(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: u64,
) -> Result<Vec<u8>, ApiError> {
    let too_large = ApiError::FileTooLarge { limit };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large);
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("Could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    if body.contains(&0) {
        return Err(ApiError::invalid("body", "must not contain NUL characters"));
    }
    Ok(body)
}

/// An import job and its counts.
#[utoipa::path(
    tag = "user-imports",
    security(("bearer" = [])),
    params(("import_id" = uuid::Uuid, Path, description = "Import id")),
    responses(
        (status = 200, body = UserImportView),
        Unauthorized,
        Forbidden,
        NotFound,
    )
)]
#[get("/v1/user-imports/{import_id}")]
pub async fn get_user_import(
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "import")?;
    let job = user_imports::get(&state, &actor.0, id).await?;
    Ok(HttpResponse::Ok().json(UserImportView::from(&job)))
}

/// The rows of an import that failed so far, by row number.
#[utoipa::path(
    tag = "user-imports",
    security(("bearer" = [])),
    params(("import_id" = uuid::Uuid, Path, description = "Import id"), PageQuery),
    responses(
        (status = 200, body = Page<ImportErrorView>),
        Unauthorized,
        Forbidden,
        NotFound,
        Unprocessable,
    )
)]
#[get("/v1/user-imports/{import_id}/errors")]
pub async fn list_user_import_errors(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&path, "import")?;
    let page = parse_query::<PageQuery>(&req)?.parse()?;
    let found = user_imports::errors(&state, &actor.0, id, page).await?;
    Ok(HttpResponse::Ok().json(Page::of(found, ImportErrorView::from)))
}

/// What an export can be asked for in `Accept`.
#[derive(Debug, Clone, Copy, ToSchema)]
#[allow(dead_code)] // documentation only: `export_format` reads the header
pub enum ExportMediaType {
    #[schema(rename = "text/csv")]
    Csv,
    #[schema(rename = "application/x-ndjson")]
    Ndjson,
    #[schema(rename = "*/*")]
    Any,
}

/// The export's request headers (documentation only).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct ExportHeaders {
    /// `text/csv` (the default) or `application/x-ndjson`; anything else is a 406.
    #[param(rename = "Accept", inline, nullable = false)]
    accept: Option<ExportMediaType>,
}

/// Members read from the database per chunk of an export.
const EXPORT_CHUNK: i64 = 1000;

const CSV: &str = "text/csv; charset=utf-8";
const NDJSON: &str = "application/x-ndjson";

/// Export every member of a customer as CSV or NDJSON.
#[utoipa::path(
    tag = "user-imports",
    security(("bearer" = [])),
    params(
        ("customer_id" = uuid::Uuid, Path, description = "Customer id"),
        ExportHeaders,
    ),
    responses(
        (status = 200, description = "Every member, newest first: the import's columns plus `id`, `status` and `added_at`",
            content(
                (String = "text/csv", example = json!("email,first_name,last_name,job_title,role,external_id,groups,id,status,added_at\nana.ruiz@ubm-demo.example,Ana,Ruiz,Energy Analyst,standard_user,HR-1042,Finance;Sites,3b9c7d1e-8f2a-4e6b-9c0d-5a1b2c3d4e5f,active,2026-11-30T14:05:12Z\n")),
                (String = "application/x-ndjson", example = json!("{\"id\":\"3b9c7d1e-8f2a-4e6b-9c0d-5a1b2c3d4e5f\",\"email\":\"ana.ruiz@ubm-demo.example\",\"first_name\":\"Ana\",\"last_name\":\"Ruiz\",\"job_title\":\"Energy Analyst\",\"role\":\"standard_user\",\"external_id\":\"HR-1042\",\"groups\":[\"Finance\",\"Sites\"],\"status\":\"active\",\"added_at\":\"2026-11-30T14:05:12Z\"}\n")),
            )),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 406, description = "`Accept` allows neither `text/csv` nor `application/x-ndjson`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/v1/customers/{customer_id}/users/export")]
pub async fn export_customer_users(
    req: HttpRequest,
    path: web::Path<String>,
    actor: Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let customer_id = path_id(&path, "customer")?;
    let format = export_format(&req)?;
    user_imports::authorize_export(&state, &actor.0, customer_id.clone()).await?;
    let content_type = match format {
        Format::Csv => CSV,
        Format::Ndjson => NDJSON,
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .streaming(export_stream((**state).clone(), customer_id, format)))
}

/// The export's bytes, a chunk of members at a time (constant memory).
pub fn export_stream(
    state: AppState,
    customer_id: String,
    format: Format,
) -> impl futures_util::Stream<Item = Result<web::Bytes, ApiError>> {
    enum At {
        Header,
        After(Option<Cursor>),
        End,
    }
    let first = match format {
        Format::Csv => At::Header,
        Format::Ndjson => At::After(None),
    };
    futures_util::stream::unfold(first, move |at| {
        let (state, customer_id) = (state.clone(), customer_id.clone());
        async move {
            match at {
                At::End => None,
                At::Header => Some((Ok(web::Bytes::from(export_header())), At::After(None))),
                At::After(after) => {
                    match user_imports::export_chunk(&state, customer_id, after, EXPORT_CHUNK).await
                    {
                        Ok((users, next)) => {
                            let bytes = web::Bytes::from(render_export(&users, format));
                            let at = match next {
                                Some(cursor) => At::After(Some(cursor)),
                                None => At::End,
                            };
                            Some((Ok(bytes), at))
                        }
                        Err(err) => Some((Err(err), At::End)),
                    }
                }
            }
        }
    })
}

/// The format `Accept` asks for: CSV when it allows anything, 406 when it
/// allows neither CSV nor NDJSON.
fn export_format(req: &HttpRequest) -> Result<Format, ApiError> {
    let Some(accept) = req.headers().get(header::ACCEPT) else {
        return Ok(Format::Csv);
    };
    let refused = || ApiError::NotAcceptable(format!("{} or {NDJSON}", "text/csv"));
    let accept = accept.to_str().map_err(|_| refused())?;
    if accept.trim().is_empty() {
        return Ok(Format::Csv);
    }
    let mut ranges: Vec<(f32, String)> = accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
                .next()
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some((q, media))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, media) in ranges {
        match media.as_str() {
            "text/csv" | "text/*" | "*/*" => return Ok(Format::Csv),
            "application/x-ndjson" | "application/*" => return Ok(Format::Ndjson),
            _ => {}
        }
    }
    Err(refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(accept: &str) -> Result<Format, ApiError> {
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::ACCEPT, accept))
            .to_http_request();
        export_format(&req)
    }

    #[test]
    fn accept_picks_the_export_format() {
        assert_eq!(with("*/*").unwrap(), Format::Csv);
        assert_eq!(with("application/x-ndjson").unwrap(), Format::Ndjson);
        assert_eq!(
            with("text/csv;q=0.5, application/x-ndjson").unwrap(),
            Format::Ndjson
        );
        assert!(matches!(
            with("application/json"),
            Err(ApiError::NotAcceptable(_))
        ));
        assert!(matches!(
            with("text/csv;q=0"),
            Err(ApiError::NotAcceptable(_))
        ));
    }
}
