//! `Idempotency-Key` on creating POSTs. The key is reserved in its own
//! transaction (so a concurrent duplicate sees "in progress"), then the
//! creation and the stored response commit together: a replay can never
//! disagree with what was created.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::span;
use crate::db::{idempotency, DbConnection};
use crate::domain::permissions::Actor;
use crate::error::ApiError;
use crate::state::AppState;

const KEY_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What a creating request answers: 201, a body, and where the new thing is.
pub struct Created {
    pub body: serde_json::Value,
    pub location: String,
    pub etag: Option<String>,
}

impl Created {
    fn into_response(self, replayed: bool) -> HttpResponse {
        let mut response = HttpResponse::Created();
        response.insert_header((header::LOCATION, self.location));
        if let Some(etag) = self.etag {
            response.insert_header((header::ETAG, etag));
        }
        if replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        response.json(self.body)
    }
}

#[derive(Serialize, serde::Deserialize)]
struct StoredHeaders {
    location: String,
    etag: Option<String>,
}

/// The `Idempotency-Key` header, if any: 1–255 visible ASCII characters.
pub fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() || text.len() > 255 || !text.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(text.to_string()))
}

/// A fingerprint of the request: method, path and body.
pub fn fingerprint(req: &HttpRequest, body: &impl Serialize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(req.path());
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs `create` once per `(caller, key)`; repeats replay the first answer.
pub async fn create_once<F>(
    state: &web::Data<AppState>,
    actor: &Actor,
    key: Option<String>,
    fingerprint: String,
    create: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<Created, ApiError> + Send + 'static,
{
    let Some(key) = key else {
        return Ok(state.db.write(create).await?.into_response(false));
    };
    let principal = actor.principal_key();
    if let Some(replay) = reserve(state, &principal, &key, &fingerprint).await? {
        return Ok(replay);
    }
    let (principal2, key2) = (principal.clone(), key.clone());
    let outcome = state
        .db
        .write(move |conn| {
            let created = create(conn)?;
            let headers = StoredHeaders {
                location: created.location.clone(),
                etag: created.etag.clone(),
            };
            idempotency::complete(
                conn,
                &principal2,
                &key2,
                i32::from(StatusCode::CREATED.as_u16()),
                &created.body.to_string(),
                &serde_json::to_string(&headers).unwrap_or_default(),
            )?;
            Ok(created)
        })
        .await;
    match outcome {
        Ok(created) => Ok(created.into_response(false)),
        Err(err) => {
            // Free the key so the client can retry once the problem is fixed.
            state
                .db
                .write(move |conn| Ok(idempotency::release(conn, &principal, &key)?))
                .await?;
            Err(err)
        }
    }
}

/// Reserves the key; returns the replayed response when it was used before.
async fn reserve(
    state: &web::Data<AppState>,
    principal: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Option<HttpResponse>, ApiError> {
    let state2 = state.clone();
    let (principal, key, hash) = (
        principal.to_string(),
        key.to_string(),
        fingerprint.to_string(),
    );
    let existing = state
        .db
        .write(move |conn| {
            let now = state2.clock.now_db();
            let expires = now + span(KEY_LIFETIME);
            Ok(idempotency::reserve(
                conn, &principal, &key, &hash, now, expires,
            )?)
        })
        .await?;
    let Some(row) = existing else {
        return Ok(None);
    };
    if row.request_hash != fingerprint {
        return Err(ApiError::Validation(vec![crate::error::FieldError::new(
            "Idempotency-Key",
            "was already used with a different request body",
        )])
        .with_code("idempotency_key_reused"));
    }
    let (Some(status), Some(body)) = (row.response_status, row.response_body) else {
        return Err(ApiError::conflict(
            "idempotency_request_in_progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        ));
    };
    let headers: StoredHeaders = row
        .response_headers
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok())
        .ok_or_else(|| ApiError::internal("stored idempotent response lost its headers"))?;
    debug_assert_eq!(status, 201);
    let body = serde_json::from_str(&body).map_err(ApiError::internal)?;
    Ok(Some(
        Created {
            body,
            location: headers.location,
            etag: headers.etag,
        }
        .into_response(true),
    ))
}
