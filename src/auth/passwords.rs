//! argon2id hashing on its own pool of `ROSTER_HASH_CONCURRENCY` threads, so
//! sign-in floods queue here instead of starving the async workers. The
//! queue is bounded twice: a sign-in beyond `ROSTER_HASH_QUEUE` is refused
//! at once with a 429 rather than waiting seconds for a slot it would time
//! out on anyway, and one that has waited `ROSTER_HASH_QUEUE_WAIT` for a slot
//! (other work kept the low-priority hashing threads from the cores) gets
//! the same 429 instead of an answer its client has stopped waiting for.
//!
//! Parameters: argon2id in one of OWASP's equally strong settings
//! (`ROSTER_HASH_MEMORY`: 7 MiB and five passes by default, up to 46 MiB and
//! one). A stored hash made with other parameters still verifies, and is
//! redone with the current ones at its owner's next sign-in
//! ([`PasswordHasher::is_current`]).
//!
//! Memory: each hash needs that much working memory. Left to the allocator,
//! those buffers end up in whichever glibc arena a thread happens to use and
//! stay there (a sign-in burst once left 400 MiB behind). So buffers are
//! kept in a small pool of at most `concurrency` scratchpads, reused under
//! load, and handed back to the system (they are always mmapped) once
//! hashing has been idle for a moment, with whatever else the burst left
//! free in malloc's arenas (`crate::memory`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::config::HashMemory;

/// How long hashing must be idle before its scratchpads are released.
const RELEASE_SCRATCH_AFTER: Duration = Duration::from_secs(2);

/// Argon2 working memory for one hash at a time.
type Scratchpad = Vec<Block>;

/// What can go wrong hashing or checking a password.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The hashing queue is full: the caller should come back later.
    #[error("the password hashing queue is full")]
    Busy { retry_after_secs: u64 },
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl HashError {
    fn failed(cause: impl std::fmt::Display) -> Self {
        HashError::Failed(cause.to_string())
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    pool: Arc<rayon::ThreadPool>,
    permits: Arc<Semaphore>,
    shared: Arc<Shared>,
    /// Callers that may be running or waiting at once.
    admit_limit: usize,
    /// The longest an admitted caller waits for a hashing slot.
    max_wait: Duration,
    /// argon2id's parameters for new hashes.
    params: Params,
    /// Verified against when the account is unknown, so timing does not tell.
    dummy_hash: Arc<String>,
}

struct Shared {
    /// Callers running or waiting.
    admitted: AtomicUsize,
    /// Bumped by every admission: tells a release timer whether hashing was
    /// idle the whole time.
    admissions: AtomicU64,
    scratchpads: Mutex<Vec<Scratchpad>>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize, queue: usize, max_wait: Duration, memory: HashMemory) -> Self {
        crate::memory::map_large_buffers_on_their_own();
        let dummy = hash_now("roster dummy password for constant-time misses", memory)
            .expect("hashing a constant cannot fail");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(concurrency.max(1))
            .thread_name(|n| format!("argon2-{n}"))
            .start_handler(|_| yield_to_other_work())
            .build()
            .expect("the hashing threads start");
        PasswordHasher {
            pool: Arc::new(pool),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            shared: Arc::new(Shared {
                admitted: AtomicUsize::new(0),
                admissions: AtomicU64::new(0),
                scratchpads: Mutex::new(Vec::new()),
            }),
            admit_limit: concurrency.max(1) + queue,
            max_wait,
            params: params_of(memory),
            dummy_hash: Arc::new(dummy),
        }
    }

    /// Whether `hash` was made with the current parameters; a password
    /// verified against one that was not is worth hashing again.
    pub fn is_current(&self, hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| {
            parsed.algorithm == Algorithm::Argon2id.ident()
                && parsed.version == Some(Version::V0x13.into())
                && Params::try_from(&parsed).is_ok_and(|params| {
                    (params.m_cost(), params.t_cost(), params.p_cost())
                        == (
                            self.params.m_cost(),
                            self.params.t_cost(),
                            self.params.p_cost(),
                        )
                })
        })
    }

    /// How many hashing slots are free right now.
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        let admission = self.reserve()?;
        let params = self.params.clone();
        self.run_admitted(admission, move |scratch| {
            hash_with(password.expose_secret(), &params, scratch)
        })
        .await?
        .map_err(HashError::failed)
    }

    /// Verifies `password` against `hash`, or against a dummy hash when there
    /// is none, taking about the same time either way.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, HashError> {
        self.verify_reserved(self.reserve()?, password, hash).await
    }

    /// A place in the hashing queue, taken before any other work of a sign-in
    /// so a shed request costs nothing (no database lookup).
    pub fn reserve(&self) -> Result<Admission, HashError> {
        self.shared.admissions.fetch_add(1, Ordering::AcqRel);
        let before = self.shared.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            shared: self.shared.clone(),
        };
        if before >= self.admit_limit {
            return Err(shed());
        }
        Ok(admission)
    }

    /// `verify` with a place already reserved.
    pub async fn verify_reserved(
        &self,
        admission: Admission,
        password: SecretString,
        hash: Option<String>,
    ) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let matches = self
            .run_admitted(admission, move |scratch| {
                verify_with(password.expose_secret(), &hash, scratch)
            })
            .await?;
        Ok(known && matches)
    }

    async fn run_admitted<T: Send + 'static>(
        &self,
        _admission: Admission,
        work: impl FnOnce(&mut Scratchpad) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let slot = self.permits.clone().acquire_owned();
        let _permit = tokio::time::timeout(self.max_wait, slot)
            .await
            .map_err(|_| shed())?
            .map_err(HashError::failed)?;
        let (done, result) = tokio::sync::oneshot::channel();
        let shared = self.shared.clone();
        self.pool.spawn(move || {
            let mut scratch = shared.take_scratchpad();
            let outcome = work(&mut scratch);
            shared.give_back(scratch);
            let _ = done.send(outcome);
        });
        result.await.map_err(HashError::failed)
    }
}

/// A request turned away: counted, and told to come back in a second.
fn shed() -> HashError {
    metrics::counter!("roster_password_hash_shed_total").increment(1);
    HashError::Busy {
        retry_after_secs: 1,
    }
}

impl Shared {
    fn scratchpads(&self) -> std::sync::MutexGuard<'_, Vec<Scratchpad>> {
        self.scratchpads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn take_scratchpad(&self) -> Scratchpad {
        self.scratchpads().pop().unwrap_or_default()
    }

    fn give_back(&self, scratch: Scratchpad) {
        self.scratchpads().push(scratch);
    }

    /// Releases the scratchpads if hashing stays idle for a moment (a timer on
    /// the runtime; at once outside one).
    fn release_when_still_idle(self: &Arc<Self>) {
        let admissions = self.admissions.load(Ordering::Acquire);
        let shared = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(RELEASE_SCRATCH_AFTER).await;
                    shared.release_if_idle_since(admissions);
                });
            }
            Err(_) => shared.release_if_idle_since(admissions),
        }
    }

    fn release_if_idle_since(&self, admissions: u64) {
        let idle = self.admitted.load(Ordering::Acquire) == 0
            && self.admissions.load(Ordering::Acquire) == admissions;
        if idle {
            self.scratchpads().clear();
            crate::memory::return_free_pages();
        }
    }
}

/// A place in the hashing queue, given back when dropped.
pub struct Admission {
    shared: Arc<Shared>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.shared.admitted.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.release_when_still_idle();
        }
    }
}

/// The hashing threads' nice value. Under contention a nice-0 thread gets
/// about nine times their share of a core, so sign-ins use every core when
/// nothing else needs one, cannot starve requests when something does, and
/// still get a tenth of a busy core. (Nice 19, a seventieth, starved sign-ins
/// outright on a saturated machine: the lockout tests timed out beside
/// compilations.) With autogroup scheduling this holds among roster's own
/// threads; the database and other processes get their fair share anyway.
const HASHING_NICE: libc::c_int = 10;

/// Lowers the calling thread's scheduling priority (`HASHING_NICE`), so that a
/// sign-in flood takes the CPU only when admin requests leave it idle; alone,
/// hashing still runs at full speed.
fn yield_to_other_work() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: plain syscalls on the calling thread; raising one's own nice
    // value needs no privilege, and a failure only leaves the priority as is.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, HASHING_NICE);
    }
}

/// argon2id's parameters for one of OWASP's settings.
fn params_of(memory: HashMemory) -> Params {
    let (kib, passes) = memory.kib_and_passes();
    Params::new(kib, passes, 1, None).expect("OWASP's settings are valid argon2 parameters")
}

/// argon2id with `params`, as a PHC string, in `scratch` (grown as needed
/// and kept for the next hash).
fn hash_with(
    password: &str,
    params: &Params,
    scratch: &mut Scratchpad,
) -> argon2::password_hash::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            sized(scratch, params.block_count()),
        )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a PHC string (any argon2 variant, version and
/// parameters it names), in `scratch`; the comparison is constant-time.
fn verify_with(password: &str, hash: &str, scratch: &mut Scratchpad) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(parsed.algorithm);
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&parsed))
    else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password.as_bytes(),
        salt_bytes,
        &mut out,
        sized(scratch, params.block_count()),
    );
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

fn sized(scratch: &mut Scratchpad, blocks: usize) -> &mut [Block] {
    if scratch.len() < blocks {
        scratch.resize(blocks, Block::default());
    }
    &mut scratch[..blocks]
}

/// argon2id with one of OWASP's settings, as a PHC string, through the
/// argon2 crate's own API (start-up, tests and the `argon2_rate` baseline).
pub fn hash_now(
    password: &str,
    memory: HashMemory,
) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params_of(memory))
            .hash_password(password.as_bytes(), &salt)?
            .to_string(),
    )
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

    const WAIT: Duration = Duration::from_secs(3);

    #[test]
    fn a_hash_is_an_argon2id_phc_string_that_verifies() {
        let hash = hash_now("correct horse battery", HashMemory::default()).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"));
        assert!(verify_now("correct horse battery", &hash));
        assert!(!verify_now("correct horse batterY", &hash));
        assert!(!verify_now("anything", "not a hash"));
    }

    #[test]
    fn each_memory_setting_is_owasps_pairing_of_memory_and_passes() {
        let prefixes: Vec<String> = HashMemory::ALL
            .into_iter()
            .map(|memory| {
                let hash = hash_now("pw", memory).unwrap();
                hash.split('$').nth(3).unwrap().to_string()
            })
            .collect();
        assert_eq!(
            prefixes,
            [
                "m=7168,t=5,p=1",
                "m=9216,t=4,p=1",
                "m=12288,t=3,p=1",
                "m=19456,t=2,p=1",
                "m=47104,t=1,p=1"
            ]
        );
    }

    #[test]
    fn hashing_in_a_reused_scratchpad_agrees_with_the_argon2_crate() {
        let mut scratch = Scratchpad::new();
        let params = params_of(HashMemory::Mib9);
        let ours = hash_with("correct horse battery", &params, &mut scratch).unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"));
        assert!(verify_now("correct horse battery", &ours));
        let theirs = hash_now("correct horse battery", HashMemory::Mib19).unwrap();
        for _ in 0..2 {
            assert!(verify_with("correct horse battery", &theirs, &mut scratch));
            assert!(verify_with("correct horse battery", &ours, &mut scratch));
            assert!(!verify_with("correct horse batterY", &theirs, &mut scratch));
        }
        let light = "$argon2i$v=19$m=256,t=1,p=1$c29tZXNhbHQ$Y2hlYXAgaGFzaCBvZiBzb21ldGhpbmc";
        assert!(!verify_with("anything", light, &mut scratch));
        assert!(!verify_with("anything", "not a hash", &mut scratch));
    }

    #[test]
    fn only_a_hash_of_the_current_setting_is_current() {
        let hasher = PasswordHasher::new(1, 0, WAIT, HashMemory::Mib7);
        let current = hash_now("pw", HashMemory::Mib7).unwrap();
        assert!(hasher.is_current(&current));
        assert!(!hasher.is_current(&hash_now("pw", HashMemory::Mib19).unwrap()));
        let argon2i = current.replacen("$argon2id$", "$argon2i$", 1);
        assert!(!hasher.is_current(&argon2i));
        assert!(!hasher.is_current("not a hash"));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn hashing_threads_run_at_a_low_priority_and_callers_keep_theirs() {
        let own = || unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::getpriority(libc::PRIO_PROCESS, tid)
        };
        let before = own();
        let hasher = PasswordHasher::new(2, 0, WAIT, HashMemory::default());
        let niceness: Vec<libc::c_int> = (0..2).map(|_| hasher.pool.install(own)).collect();
        assert_eq!(niceness, [HASHING_NICE, HASHING_NICE]);
        assert_eq!(own(), before, "only the hashing threads yield");
    }

    #[tokio::test]
    async fn a_caller_beyond_the_queue_is_refused_at_once() {
        let hasher = PasswordHasher::new(1, 1, WAIT, HashMemory::default());
        let hash = hash_now("correct horse battery", HashMemory::default()).unwrap();
        let attempt = || hasher.verify("correct horse battery".into(), Some(hash.clone()));
        let (first, second, third) = tokio::join!(attempt(), attempt(), attempt());
        assert!(first.unwrap() && second.unwrap());
        assert!(matches!(
            third,
            Err(HashError::Busy {
                retry_after_secs: 1
            })
        ));
        assert!(hasher
            .verify("correct horse battery".into(), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn a_caller_kept_from_a_slot_too_long_is_refused() {
        let hasher = PasswordHasher::new(1, 4, Duration::from_millis(20), HashMemory::default());
        let hash = hash_now("correct horse battery", HashMemory::default()).unwrap();
        let busy = hasher.permits.clone().acquire_owned().await.unwrap();
        let waited = hasher.verify("correct horse battery".into(), Some(hash.clone()));
        assert!(matches!(
            waited.await,
            Err(HashError::Busy {
                retry_after_secs: 1
            })
        ));
        drop(busy);
        assert!(hasher
            .verify("correct horse battery".into(), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn scratchpads_are_kept_under_load_and_released_when_idle() {
        let hasher = PasswordHasher::new(1, 4, WAIT, HashMemory::default());
        let hash = hasher.hash("correct horse battery".into()).await.unwrap();
        assert_eq!(
            hasher.shared.scratchpads().len(),
            1,
            "kept for the next hash"
        );
        tokio::time::sleep(RELEASE_SCRATCH_AFTER / 2).await;
        assert!(hasher
            .verify("correct horse battery".into(), Some(hash))
            .await
            .unwrap());
        tokio::time::sleep(RELEASE_SCRATCH_AFTER * 3 / 4).await;
        assert_eq!(hasher.shared.scratchpads().len(), 1, "busy a moment ago");
        tokio::time::sleep(RELEASE_SCRATCH_AFTER).await;
        assert!(hasher.shared.scratchpads().is_empty(), "idle: released");
    }
}
