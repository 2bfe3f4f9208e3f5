//! argon2id hashing on its own pool of `ROSTER_HASH_CONCURRENCY` threads, so
//! sign-in floods queue here instead of starving the async workers. A fixed
//! set of threads also bounds memory: each 19 MiB argon2 buffer is reused by
//! the same few threads instead of leaving an allocator arena behind on every
//! thread of the general blocking pool. The queue is bounded too
//! (`ROSTER_HASH_QUEUE`): a sign-in beyond it is refused at once with a 429
//! rather than waiting seconds for a slot it would time out on anyway.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Callers running or waiting, and how many may be.
    admitted: Arc<AtomicUsize>,
    admit_limit: usize,
    /// Verified against when the account is unknown, so timing does not tell.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let dummy = hash_now("roster dummy password for constant-time misses")
            .expect("hashing a constant cannot fail");
        release_freed_memory();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrency.max(1))
            .thread_name(|n| format!("argon2-{n}"))
            .start_handler(|_| yield_to_other_work())
            .build()
            .expect("the hashing threads start");
        PasswordHasher {
            pool: Arc::new(pool),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            admitted: Arc::new(AtomicUsize::new(0)),
            admit_limit: concurrency.max(1) + queue,
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
        self.verify_reserved(self.reserve()?, password, hash).await
    }

    /// A place in the hashing queue, taken before any other work of a sign-in
    /// so a shed request costs nothing (no database lookup).
    pub fn reserve(&self) -> Result<Admission, ApiError> {
        self.admit()
    }

    /// `verify` with a place already reserved.
    pub async fn verify_reserved(
        &self,
        admission: Admission,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let matches = self
            .run_admitted(admission, move || {
                verify_now(password.expose_secret(), &hash)
            })
            .await?;
        Ok(known && matches)
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let admission = self.admit()?;
        self.run_admitted(admission, work).await
    }

    async fn run_admitted<T: Send + 'static>(
        &self,
        _admission: Admission,
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

impl PasswordHasher {
    fn admit(&self) -> Result<Admission, ApiError> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            admitted: self.admitted.clone(),
            pool: self.pool.clone(),
        };
        if before >= self.admit_limit {
            metrics::counter!("roster_password_hash_shed_total").increment(1);
            return Err(ApiError::TooManyRequests {
                retry_after_secs: 1,
            });
        }
        Ok(admission)
    }
}

/// A place in the hashing queue, given back when dropped.
pub struct Admission {
    admitted: Arc<AtomicUsize>,
    pool: Arc<rayon::ThreadPool>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let was_last = self.admitted.fetch_sub(1, Ordering::AcqRel) == 1;
        if was_last {
            self.pool.spawn(release_freed_memory);
        }
    }
}

/// Lowers the calling thread's scheduling priority (nice 10), so that a
/// sign-in flood takes the CPU only when admin requests leave it idle; alone,
/// hashing still runs at full speed.
fn yield_to_other_work() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: plain syscalls on the calling thread; raising one's own nice
    // value needs no privilege, and a failure only leaves the priority as is.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Hands the freed argon2 buffers back to the system once hashing goes idle.
///
/// glibc keeps a freed 19 MiB buffer in the arena of the thread that used it
/// (its mmap threshold adapts upwards after the first one), so an idle
/// service would otherwise sit on `concurrency` × 19 MiB. Trimming only when
/// the last caller leaves costs nothing under load.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it is
    // thread-safe and touches no memory that is in use.
    unsafe {
        libc::malloc_trim(0);
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

    #[tokio::test]
    async fn a_caller_beyond_the_queue_is_refused_at_once() {
        let hasher = PasswordHasher::new(1, 1);
        let hash = hash_now("correct horse battery").unwrap();
        let attempt = || hasher.verify("correct horse battery".into(), Some(hash.clone()));
        let (first, second, third) = tokio::join!(attempt(), attempt(), attempt());
        assert!(first.unwrap() && second.unwrap());
        assert!(matches!(
            third,
            Err(ApiError::TooManyRequests {
                retry_after_secs: 1
            })
        ));
        assert!(hasher
            .verify("correct horse battery".into(), Some(hash))
            .await
            .unwrap());
    }
}
