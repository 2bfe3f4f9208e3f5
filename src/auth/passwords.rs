//! argon2id hashing on its own pool of `ROSTER_HASH_CONCURRENCY` threads, so
//! sign-in floods queue here instead of starving the async workers. A fixed
//! set of threads also bounds memory: each 19 MiB argon2 buffer is reused by
//! the same few threads instead of leaving an allocator arena behind on every
//! thread of the general blocking pool.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct PasswordHasher {
    pool: Arc<rayon::ThreadPool>,
    permits: Arc<Semaphore>,
    /// Verified against when the account is unknown, so timing does not tell.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Self {
        let dummy = hash_now("roster dummy password for constant-time misses")
            .expect("hashing a constant cannot fail");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrency.max(1))
            .thread_name(|n| format!("argon2-{n}"))
            .build()
            .expect("the hashing threads start");
        PasswordHasher {
            pool: Arc::new(pool),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(dummy),
        }
    }

    /// How many callers wait for a hashing slot right now.
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        self.on_blocking_pool(move || hash_now(password.expose_secret()))
            .await?
            .map_err(ApiError::internal)
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there
    /// is none, taking about the same time either way.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let matches = self
            .on_blocking_pool(move || verify_now(password.expose_secret(), &hash))
            .await?;
        Ok(known && matches)
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        let (done, result) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            let _ = done.send(work());
        });
        result.await.map_err(ApiError::internal)
    }
}

/// argon2id with OWASP's minimum parameters (19 MiB, t=2, p=1), as a PHC string.
pub fn hash_now(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_now(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_an_argon2id_phc_string_that_verifies() {
        let hash = hash_now("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_now("correct horse battery", &hash));
        assert!(!verify_now("correct horse batterY", &hash));
        assert!(!verify_now("anything", "not a hash"));
    }
}
