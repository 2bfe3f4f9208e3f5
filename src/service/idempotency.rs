//! `Idempotency-Key` on creating requests. The key is reserved in its own
//! transaction (so a concurrent duplicate sees "in progress"), then the
//! creation and the stored answer commit together: a replay can never
//! disagree with what was created.

use serde::{Deserialize, Serialize};

use crate::clock::span;
use crate::db::{idempotency, DbConnection};
use crate::domain::permissions::Actor;
use crate::error::{ApiError, FieldError};
use crate::state::AppState;

const KEY_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The status every stored answer has: these are all creations.
const CREATED: i32 = 201;

/// What a creation answers: a body and where the new thing lives.
#[derive(Debug, Clone)]
pub struct Created {
    pub body: serde_json::Value,
    pub location: String,
    pub etag: Option<String>,
}

/// A creation's answer, and whether it is the replay of an earlier one.
pub struct Answer {
    pub created: Created,
    pub replayed: bool,
}

/// The caller's `Idempotency-Key` (if any) and a fingerprint of the request
/// it names, so that the same key with another request is refused.
pub struct Once {
    pub key: Option<String>,
    pub fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct StoredHeaders {
    location: String,
    etag: Option<String>,
}

/// Runs `create` in one write transaction, once per `(caller, key)`;
/// repeats replay the first answer.
pub async fn create_once<F>(
    state: &AppState,
    actor: &Actor,
    once: Once,
    create: F,
) -> Result<Answer, ApiError>
where
    F: FnOnce(&mut DbConnection, &AppState) -> Result<Created, ApiError> + Send + 'static,
{
    let Some(key) = once.key else {
        let created = state.write(create).await?;
        return Ok(Answer {
            created,
            replayed: false,
        });
    };
    let principal = actor.principal_key();
    if let Some(created) = reserve(state, &principal, &key, &once.fingerprint).await? {
        return Ok(Answer {
            created,
            replayed: true,
        });
    }
    let (principal2, key2) = (principal.clone(), key.clone());
    let outcome = state
        .write(move |conn, state| {
            let created = create(conn, state)?;
            let headers = StoredHeaders {
                location: created.location.clone(),
                etag: created.etag.clone(),
            };
            idempotency::complete(
                conn,
                &principal2,
                &key2,
                CREATED,
                &created.body.to_string(),
                &serde_json::to_string(&headers).map_err(ApiError::internal)?,
            )?;
            Ok(created)
        })
        .await;
    match outcome {
        Ok(created) => Ok(Answer {
            created,
            replayed: false,
        }),
        Err(err) => {
            // Free the key so the client can retry once the problem is fixed.
            state
                .write(move |conn, _| Ok(idempotency::release(conn, &principal, &key)?))
                .await?;
            Err(err)
        }
    }
}

/// Reserves the key; returns the stored answer when it was used before.
async fn reserve(
    state: &AppState,
    principal: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Created>, ApiError> {
    let (principal, key, hash) = (
        principal.to_string(),
        key.to_string(),
        fingerprint.to_string(),
    );
    let existing = state
        .write(move |conn, state| {
            let now = state.clock.now_db();
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
        return Err(ApiError::Validation(vec![FieldError::new(
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
    debug_assert_eq!(status, CREATED);
    let body = serde_json::from_str(&body).map_err(ApiError::internal)?;
    Ok(Some(Created {
        body,
        location: headers.location,
        etag: headers.etag,
    }))
}
