//! Typed settings, read once at start from the environment.
//!
//! Every `ROSTER_*` variable is declared once in [`vars`] (name, default,
//! meaning, kind and bounds); parsing below reads through those
//! declarations, `roster check-config` prints them, and the docs list them.
//! Durations are written like `200ms`, `15m`, `48h`. A bad or out-of-bounds
//! value stops start-up with a message that names the variable.

mod read;
pub mod vars;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

use read::Reader;

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub const ALL: [LogFormat; 2] = [LogFormat::Text, LogFormat::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// How much memory each argon2id hash takes, one of OWASP's five settings of
/// equal strength (Password Storage Cheat Sheet): less memory is paired with
/// more passes over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashMemory {
    #[default]
    Mib7,
    Mib9,
    Mib12,
    Mib19,
    Mib46,
}

impl HashMemory {
    pub const ALL: [HashMemory; 5] = [
        HashMemory::Mib7,
        HashMemory::Mib9,
        HashMemory::Mib12,
        HashMemory::Mib19,
        HashMemory::Mib46,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HashMemory::Mib7 => "7MiB",
            HashMemory::Mib9 => "9MiB",
            HashMemory::Mib12 => "12MiB",
            HashMemory::Mib19 => "19MiB",
            HashMemory::Mib46 => "46MiB",
        }
    }

    /// OWASP's pairing: memory in KiB and the passes over it (parallelism 1).
    pub fn kib_and_passes(self) -> (u32, u32) {
        match self {
            HashMemory::Mib7 => (7 * 1024, 5),
            HashMemory::Mib9 => (9 * 1024, 4),
            HashMemory::Mib12 => (12 * 1024, 3),
            HashMemory::Mib19 => (19 * 1024, 2),
            HashMemory::Mib46 => (46 * 1024, 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailProvider {
    Log,
    Postmark,
    Sendgrid,
    Resend,
}

impl MailProvider {
    pub const ALL: [MailProvider; 4] = [
        MailProvider::Log,
        MailProvider::Postmark,
        MailProvider::Sendgrid,
        MailProvider::Resend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailProvider::Log => "log",
            MailProvider::Postmark => "postmark",
            MailProvider::Sendgrid => "sendgrid",
            MailProvider::Resend => "resend",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            MailProvider::Log => "",
            MailProvider::Postmark => "https://api.postmarkapp.com",
            MailProvider::Sendgrid => "https://api.sendgrid.com",
            MailProvider::Resend => "https://api.resend.com",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub provider: MailProvider,
    pub api_url: String,
    pub api_key: Option<SecretString>,
    pub from: String,
    pub poll_interval: Duration,
    pub max_attempts: u32,
    pub concurrency: usize,
    pub timeout: Duration,
    /// How long claimed rows stay this instance's (longer than `timeout`).
    pub lease: Duration,
    /// Whether this instance runs the delivery worker.
    pub worker: bool,
}

/// Webhooks and the event feed (docs/webhooks.md).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub max_attempts: u32,
    pub timeout: Duration,
    /// `http` and private addresses allowed (tests, internal networks).
    pub allow_private: bool,
    /// Input key for sealing signing secrets; `None`: a key kept in the database.
    pub sealing_key: Option<SecretString>,
    pub event_retention: Duration,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: SecretString,
    pub database_pool_size: u32,
    pub database_timeout: Duration,
    pub database_busy_timeout: Duration,
    pub bind: SocketAddr,
    pub workers: usize,
    /// roster's own external base URL (its pages live under it).
    pub public_url: String,
    /// Whether `public_url` was derived from `bind` (and so follows the port
    /// really bound, see [`Settings::settle_port`]).
    pub public_url_from_bind: bool,
    /// The customer's frontend, when email links should go there instead.
    pub app_url: Option<String>,
    pub sign_in_url: Option<String>,
    pub product_name: String,
    pub support_email: Option<String>,
    pub logo_url: Option<String>,
    /// `#rrggbb`, readable on white and under white text.
    pub accent_color: String,
    pub theme_dir: Option<PathBuf>,
    pub mail: MailSettings,
    pub webhooks: WebhookSettings,
    pub jwt_key_file: Option<PathBuf>,
    pub jwt_issuer: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a session (a refresh-token family) lives from its sign-in.
    pub session_max_age: Duration,
    pub bootstrap_admin_email: Option<String>,
    pub bootstrap_admin_password: Option<SecretString>,
    pub lockout_threshold: u32,
    pub dormancy_days: u32,
    pub dormancy_check_interval: Duration,
    pub password_min_length: usize,
    pub action_token_ttl: Duration,
    /// How long after a link email forgot-password sends no other (0: no wait).
    pub reset_email_cooldown: Duration,
    pub hash_concurrency: usize,
    pub hash_queue: usize,
    /// The longest a password request waits for a hashing slot.
    pub hash_queue_wait: Duration,
    /// argon2id's memory (and so passes) for new hashes.
    pub hash_memory: HashMemory,
    /// The largest user-import file, in bytes.
    pub import_max_bytes: u64,
    pub auth_rate_limit: u32,
    /// Confirmation emails one caller may ask for in any hour.
    pub confirmation_emails_per_hour: u32,
    /// Peers whose `X-Forwarded-For`/`Forwarded` names the client (see `client_ip`).
    pub trusted_proxies: Vec<IpNet>,
    pub log_format: LogFormat,
}

/// The audience every access token is issued for and checked against.
pub const TOKEN_AUDIENCE: &str = "roster";

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from explicit pairs, falling back to defaults (tests, tools).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::from_lookup(|name| map.get(name).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&mut Reader::new(&lookup))
    }

    fn read(env: &mut Reader) -> Result<Self, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let cores = u64::try_from(cores).unwrap_or(u64::MAX);
        // Every core: hashing threads run at a low OS priority (nice 10), so they
        // take the whole machine when it is idle and yield the moment
        // anything else (requests, the database) needs a core.
        let hash_concurrency: usize = env.count(&vars::HASH_CONCURRENCY, Some(cores))?;
        let hash_queue_default = u64::try_from(hash_concurrency)
            .unwrap_or(u64::MAX)
            .saturating_mul(32);
        let bind = env.socket_addr(&vars::BIND)?;
        let given_public_url = env.optional_url(&vars::PUBLIC_URL)?;
        let public_url_from_bind = given_public_url.is_none();
        let public_url = given_public_url.unwrap_or_else(|| url_of(bind));
        let app_url = env.optional_url(&vars::APP_URL)?;
        let sign_in_url = env.optional_url(&vars::SIGN_IN_URL)?.or(app_url.clone());
        let provider = word_of(
            &vars::MAIL_PROVIDER,
            env,
            MailProvider::ALL,
            MailProvider::as_str,
        )?;
        let api_key = env.secret(&vars::MAIL_API_KEY)?;
        if provider != MailProvider::Log && api_key.is_none() {
            return Err(ConfigError {
                variable: vars::MAIL_API_KEY.name,
                message: "is required when ROSTER_MAIL_PROVIDER is not `log`".into(),
            });
        }
        let timeout = env.duration(&vars::MAIL_TIMEOUT, None)?;
        let webhook_timeout = env.duration(&vars::WEBHOOK_TIMEOUT, None)?;
        // Webhooks are claimed under the same lease (docs/webhooks.md).
        let longest_send = timeout.max(webhook_timeout);
        let lease = env.duration(&vars::MAIL_LEASE, Some(lease_for(longest_send)))?;
        if lease <= longest_send {
            return Err(ConfigError {
                variable: vars::MAIL_LEASE.name,
                message: format!(
                    "must be longer than ROSTER_MAIL_TIMEOUT and ROSTER_WEBHOOK_TIMEOUT ({}), or a send could still be running when another instance takes it over",
                    humantime::format_duration(longest_send)
                ),
            });
        }
        let mail = MailSettings {
            provider,
            api_url: env.url(
                &vars::MAIL_API_URL,
                Some(provider.default_base_url().to_string()),
            )?,
            api_key,
            from: env.text(&vars::MAIL_FROM, None)?.unwrap_or_default(),
            poll_interval: env.duration(&vars::MAIL_POLL_INTERVAL, None)?,
            max_attempts: env.count(&vars::MAIL_MAX_ATTEMPTS, None)?,
            concurrency: env.count(&vars::MAIL_CONCURRENCY, None)?,
            timeout,
            lease,
            worker: env.switch(&vars::MAIL_WORKER)?,
        };
        let bootstrap_admin_email = env.text(&vars::BOOTSTRAP_ADMIN_EMAIL, None)?;
        let bootstrap_admin_password = env.secret(&vars::BOOTSTRAP_ADMIN_PASSWORD)?;
        if bootstrap_admin_password.is_some() && bootstrap_admin_email.is_none() {
            return Err(ConfigError {
                variable: vars::BOOTSTRAP_ADMIN_PASSWORD.name,
                message: "needs ROSTER_BOOTSTRAP_ADMIN_EMAIL as well".into(),
            });
        }
        Ok(Settings {
            database_url: env
                .secret(&vars::DATABASE_URL)?
                .unwrap_or_else(|| SecretString::from("")),
            database_pool_size: env.count(&vars::DATABASE_POOL_SIZE, None)?,
            database_timeout: env.duration(&vars::DATABASE_TIMEOUT, None)?,
            database_busy_timeout: env.duration(&vars::DATABASE_BUSY_TIMEOUT, None)?,
            bind,
            workers: env.count(&vars::WORKERS, Some(cores))?,
            trusted_proxies: env.networks(&vars::TRUSTED_PROXIES)?,
            jwt_issuer: env
                .text(
                    &vars::JWT_ISSUER,
                    Some(app_url.clone().unwrap_or(public_url.clone())),
                )?
                .unwrap_or_default(),
            public_url,
            public_url_from_bind,
            app_url,
            sign_in_url,
            product_name: env.text(&vars::PRODUCT_NAME, None)?.unwrap_or_default(),
            support_email: support_email(env)?,
            logo_url: env.optional_url(&vars::LOGO_URL)?,
            accent_color: accent_color(env)?,
            theme_dir: env.text(&vars::THEME_DIR, None)?.map(PathBuf::from),
            mail,
            webhooks: WebhookSettings {
                max_attempts: env.count(&vars::WEBHOOK_MAX_ATTEMPTS, None)?,
                timeout: webhook_timeout,
                allow_private: env.switch(&vars::WEBHOOK_ALLOW_PRIVATE)?,
                sealing_key: env.secret(&vars::WEBHOOK_SEALING_KEY)?,
                event_retention: env.duration(&vars::EVENT_RETENTION, None)?,
            },
            jwt_key_file: env.text(&vars::JWT_KEY_FILE, None)?.map(PathBuf::from),
            access_token_ttl: env.duration(&vars::ACCESS_TOKEN_TTL, None)?,
            refresh_token_ttl: env.duration(&vars::REFRESH_TOKEN_TTL, None)?,
            session_max_age: env.duration(&vars::SESSION_MAX_AGE, None)?,
            bootstrap_admin_email,
            bootstrap_admin_password,
            lockout_threshold: env.count(&vars::LOCKOUT_THRESHOLD, None)?,
            dormancy_days: env.count(&vars::DORMANCY_DAYS, None)?,
            dormancy_check_interval: env.duration(&vars::DORMANCY_CHECK_INTERVAL, None)?,
            password_min_length: env.count(&vars::PASSWORD_MIN_LENGTH, None)?,
            action_token_ttl: env.duration(&vars::ACTION_TOKEN_TTL, None)?,
            reset_email_cooldown: env.duration(&vars::RESET_EMAIL_COOLDOWN, None)?,
            hash_concurrency,
            hash_queue: env.count(&vars::HASH_QUEUE, Some(hash_queue_default))?,
            hash_queue_wait: env.duration(&vars::HASH_QUEUE_WAIT, None)?,
            hash_memory: word_of(&vars::HASH_MEMORY, env, HashMemory::ALL, HashMemory::as_str)?,
            import_max_bytes: env.count(&vars::IMPORT_MAX_BYTES, None)?,
            auth_rate_limit: env.count(&vars::AUTH_RATE_LIMIT, None)?,
            confirmation_emails_per_hour: env.count(&vars::CONFIRMATION_EMAILS_PER_HOUR, None)?,
            log_format: word_of(&vars::LOG_FORMAT, env, LogFormat::ALL, LogFormat::as_str)?,
        })
    }

    /// The base of the links in emails: the customer's frontend when
    /// `ROSTER_APP_URL` is set, else roster's own pages.
    pub fn link_base(&self) -> &str {
        self.app_url.as_deref().unwrap_or(&self.public_url)
    }

    /// Once the listener is bound: a public URL derived from `ROSTER_BIND`
    /// names the port really listened on (`:0` asks the system for one).
    pub fn settle_port(&mut self, port: u16) {
        if self.public_url_from_bind {
            let mut bound = self.bind;
            bound.set_port(port);
            self.public_url = url_of(bound);
        }
    }

    pub fn is_postgres(&self) -> bool {
        use secrecy::ExposeSecret;
        is_postgres_url(self.database_url.expose_secret())
    }

    /// The effective configuration in declaration order, secrets masked
    /// (`roster check-config`).
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        vars::ALL
            .iter()
            .map(|var| {
                let value = match ((var.show)(self), var.kind) {
                    (None, _) => "(unset)".to_string(),
                    (Some(_), vars::Kind::Secret) => "********".to_string(),
                    (Some(url), vars::Kind::DatabaseUrl) => mask_url_password(&url),
                    (Some(value), _) => value,
                };
                (var.name, value)
            })
            .collect()
    }

    /// The `ROSTER_*` names among `names` that roster does not read (a typo
    /// there would silently leave the default in force).
    pub fn unknown_variables<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        names
            .into_iter()
            .filter(|name| name.starts_with("ROSTER_"))
            .filter(|name| vars::ALL.iter().all(|var| var.name != *name))
            .collect()
    }
}

/// The value among `all` whose word was given for `var`.
fn word_of<T: Copy, const N: usize>(
    var: &'static vars::Var,
    env: &mut Reader,
    all: [T; N],
    word: fn(T) -> &'static str,
) -> Result<T, ConfigError> {
    let given = env.choice(var)?;
    all.into_iter()
        .find(|value| word(*value) == given)
        .ok_or_else(|| ConfigError {
            variable: var.name,
            message: format!("`{given}` is declared but not handled"),
        })
}

/// `http://host:port` for a listen address; an unspecified one (`0.0.0.0`,
/// `::`) is reached through the loopback address.
fn url_of(bind: SocketAddr) -> String {
    let host = match bind.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    format!("http://{host}:{}", bind.port())
}

fn support_email(env: &mut Reader) -> Result<Option<String>, ConfigError> {
    let given = env.text(&vars::SUPPORT_EMAIL, None)?;
    match given {
        Some(address) if !looks_like_email(&address) => Err(ConfigError {
            variable: vars::SUPPORT_EMAIL.name,
            message: format!("`{address}` is not an email address"),
        }),
        other => Ok(other),
    }
}

fn looks_like_email(address: &str) -> bool {
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !address.contains(|c: char| c.is_whitespace() || "<>\"'".contains(c))
        }
        None => false,
    }
}

/// The WCAG AA minimum for normal text.
const MIN_CONTRAST: f64 = 4.5;

fn accent_color(env: &mut Reader) -> Result<String, ConfigError> {
    let given = env.text(&vars::ACCENT_COLOR, None)?.unwrap_or_default();
    let error = |message: String| ConfigError {
        variable: vars::ACCENT_COLOR.name,
        message,
    };
    let contrast = contrast_with_white(&given)
        .ok_or_else(|| error(format!("`{given}` is not a colour like #1d4ed8")))?;
    if contrast < MIN_CONTRAST {
        return Err(error(format!(
            "`{given}` has a contrast of {contrast:.2}:1 with white; WCAG AA needs {MIN_CONTRAST}:1 (choose a darker colour)"
        )));
    }
    Ok(given.to_lowercase())
}

/// The WCAG contrast ratio of `#rrggbb` with white, or `None` if malformed.
pub fn contrast_with_white(hex: &str) -> Option<f64> {
    let digits = hex.strip_prefix('#').filter(|d| d.len() == 6)?;
    let channel = |at: usize| {
        u8::from_str_radix(digits.get(at..at + 2)?, 16)
            .ok()
            .map(|value| {
                let c = f64::from(value) / 255.0;
                if c <= 0.04045 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            })
    };
    let luminance = 0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?;
    Some(1.05 / (luminance + 0.05))
}

/// How long a claim on an email holds by default: long enough for a send
/// (bounded by the client timeout) and for recording it.
pub fn lease_for(timeout: Duration) -> Duration {
    timeout
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(30))
}

/// `postgres://user:secret@host/db` → `postgres://user:********@host/db`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:********@{host}")
        }
        _ => url.to_string(),
    }
}

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

#[cfg(test)]
mod tests;
