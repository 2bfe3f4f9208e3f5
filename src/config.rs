//! Typed settings, read once at start from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ROSTER_DATABASE_URL` | `roster.db` | SQLite file path, or `postgres://…` |
//! | `ROSTER_DATABASE_POOL_SIZE` | `10` | connections in the pool |
//! | `ROSTER_DATABASE_TIMEOUT` | `2s` | wait for a pooled connection before answering 503 |
//! | `ROSTER_DATABASE_BUSY_TIMEOUT` | `5s` | SQLite only: wait for the write lock before answering 503 |
//! | `ROSTER_BIND` | `127.0.0.1:8080` | listen address |
//! | `ROSTER_WORKERS` | cores | HTTP worker threads |
//! | `ROSTER_APP_URL` | `http://127.0.0.1:8080` | base of links in emails (never the request's Host) |
//! | `ROSTER_PRODUCT_NAME` | `Roster` | product name in emails |
//! | `ROSTER_MAIL_PROVIDER` | `log` | `log`, `postmark`, `sendgrid` or `resend` |
//! | `ROSTER_MAIL_API_URL` | provider's | provider base URL override |
//! | `ROSTER_MAIL_API_KEY` | — | provider API key (secret; required unless `log`) |
//! | `ROSTER_MAIL_FROM` | `Roster <no-reply@localhost>` | sender |
//! | `ROSTER_MAIL_POLL_INTERVAL` | `1s` | outbox poll interval |
//! | `ROSTER_MAIL_MAX_ATTEMPTS` | `12` | attempts before an email is `failed` |
//! | `ROSTER_MAIL_CONCURRENCY` | `4` | emails sent at once by one instance |
//! | `ROSTER_MAIL_TIMEOUT` | `10s` | provider request timeout |
//! | `ROSTER_MAIL_LEASE` | 2 × timeout + 30s | how long a claimed email is this instance's; after it (a crash) another sends it |
//! | `ROSTER_MAIL_WORKER` | `on` | `off` stops this instance from sending (another one sends) |
//! | `ROSTER_JWT_KEY_FILE` | — | Ed25519 PKCS#8 PEM; without it a key is generated once and kept in the database |
//! | `ROSTER_JWT_ISSUER` | `ROSTER_APP_URL` | `iss` of access tokens |
//! | `ROSTER_ACCESS_TOKEN_TTL` | `15m` | access token lifetime |
//! | `ROSTER_REFRESH_TOKEN_TTL` | `30d` | refresh token lifetime |
//! | `ROSTER_BOOTSTRAP_ADMIN_EMAIL` | — | first platform admin |
//! | `ROSTER_BOOTSTRAP_ADMIN_PASSWORD` | — | its password (secret); without it an activation link is logged |
//! | `ROSTER_LOCKOUT_THRESHOLD` | `5` | failed sign-ins in a row that lock an account |
//! | `ROSTER_DORMANCY_DAYS` | `90` | days without sign-in before `active` becomes `expired`; 0 = off |
//! | `ROSTER_DORMANCY_CHECK_INTERVAL` | `1h` | how often the dormancy job runs |
//! | `ROSTER_PASSWORD_MIN_LENGTH` | `12` | minimum password length in characters |
//! | `ROSTER_ACTION_TOKEN_TTL` | `48h` | activation and reset link lifetime |
//! | `ROSTER_HASH_CONCURRENCY` | half the cores (≥ 1) | argon2 computations at once |
//! | `ROSTER_HASH_QUEUE` | 32 × concurrency | sign-ins that may wait for a hashing slot; beyond it a 429 at once |
//! | `ROSTER_AUTH_RATE_LIMIT` | `60` | requests a minute per client IP on `/v1/auth/*`; 0 = off |
//! | `ROSTER_LOG_FORMAT` | `text` | `text` or `json` |
//!
//! Durations are written like `200ms`, `15m`, `48h`. A bad value stops start-up
//! with a message that names the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailProvider {
    Log,
    Postmark,
    Sendgrid,
    Resend,
}

impl MailProvider {
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

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: SecretString,
    pub database_pool_size: u32,
    pub database_timeout: Duration,
    pub database_busy_timeout: Duration,
    pub bind: SocketAddr,
    pub workers: usize,
    pub app_url: String,
    pub product_name: String,
    pub mail: MailSettings,
    pub jwt_key_file: Option<PathBuf>,
    pub jwt_issuer: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub bootstrap_admin_email: Option<String>,
    pub bootstrap_admin_password: Option<SecretString>,
    pub lockout_threshold: u32,
    pub dormancy_days: u32,
    pub dormancy_check_interval: Duration,
    pub password_min_length: usize,
    pub action_token_ttl: Duration,
    pub hash_concurrency: usize,
    pub hash_queue: usize,
    pub auth_rate_limit: u32,
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
        let env = Env(&lookup);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Half the cores: a sign-in flood then leaves the other half to
        // everything else (admin reads keep more than half their speed).
        let hash_concurrency =
            env.number("ROSTER_HASH_CONCURRENCY", (cores / 2).max(1), 1..=256)?;
        let app_url = env.url("ROSTER_APP_URL", "http://127.0.0.1:8080")?;
        let provider =
            env.parsed_with("ROSTER_MAIL_PROVIDER", MailProvider::Log, parse_provider)?;
        let api_key = env.secret("ROSTER_MAIL_API_KEY");
        if provider != MailProvider::Log && api_key.is_none() {
            return Err(ConfigError {
                variable: "ROSTER_MAIL_API_KEY",
                message: "is required when ROSTER_MAIL_PROVIDER is not `log`".into(),
            });
        }
        let timeout = env.duration("ROSTER_MAIL_TIMEOUT", "10s")?;
        let lease = match env.get("ROSTER_MAIL_LEASE") {
            None => crate::email::worker::lease_for(timeout),
            Some(_) => env.duration("ROSTER_MAIL_LEASE", "")?,
        };
        if lease <= timeout {
            return Err(ConfigError {
                variable: "ROSTER_MAIL_LEASE",
                message: format!(
                    "must be longer than ROSTER_MAIL_TIMEOUT ({}), or a send could still be running when another instance takes it over",
                    humantime::format_duration(timeout)
                ),
            });
        }
        let mail = MailSettings {
            provider,
            api_url: match env.get("ROSTER_MAIL_API_URL") {
                Some(_) => env.url("ROSTER_MAIL_API_URL", "")?,
                None => provider.default_base_url().to_string(),
            },
            api_key,
            from: env.text("ROSTER_MAIL_FROM", "Roster <no-reply@localhost>")?,
            poll_interval: env.duration("ROSTER_MAIL_POLL_INTERVAL", "1s")?,
            max_attempts: env.number("ROSTER_MAIL_MAX_ATTEMPTS", 12, 1..=1000)?,
            concurrency: env.number("ROSTER_MAIL_CONCURRENCY", 4, 1..=256)?,
            timeout,
            lease,
            worker: env.parsed_with("ROSTER_MAIL_WORKER", true, parse_switch)?,
        };
        let bootstrap_admin_email = env.get("ROSTER_BOOTSTRAP_ADMIN_EMAIL");
        let bootstrap_admin_password = env.secret("ROSTER_BOOTSTRAP_ADMIN_PASSWORD");
        if bootstrap_admin_password.is_some() && bootstrap_admin_email.is_none() {
            return Err(ConfigError {
                variable: "ROSTER_BOOTSTRAP_ADMIN_PASSWORD",
                message: "needs ROSTER_BOOTSTRAP_ADMIN_EMAIL as well".into(),
            });
        }
        Ok(Settings {
            database_url: SecretString::from(env.text("ROSTER_DATABASE_URL", "roster.db")?),
            database_pool_size: env.number("ROSTER_DATABASE_POOL_SIZE", 10, 1..=1000)?,
            database_timeout: env.duration("ROSTER_DATABASE_TIMEOUT", "2s")?,
            database_busy_timeout: env.duration("ROSTER_DATABASE_BUSY_TIMEOUT", "5s")?,
            bind: env.parsed("ROSTER_BIND", "127.0.0.1:8080")?,
            workers: env.number("ROSTER_WORKERS", cores, 1..=1024)?,
            jwt_issuer: env.text("ROSTER_JWT_ISSUER", &app_url)?,
            app_url,
            product_name: env.text("ROSTER_PRODUCT_NAME", "Roster")?,
            mail,
            jwt_key_file: env.get("ROSTER_JWT_KEY_FILE").map(PathBuf::from),
            access_token_ttl: env.duration("ROSTER_ACCESS_TOKEN_TTL", "15m")?,
            refresh_token_ttl: env.duration("ROSTER_REFRESH_TOKEN_TTL", "30d")?,
            bootstrap_admin_email,
            bootstrap_admin_password,
            lockout_threshold: env.number("ROSTER_LOCKOUT_THRESHOLD", 5, 1..=1000)?,
            dormancy_days: env.number("ROSTER_DORMANCY_DAYS", 90, 0..=36500)?,
            dormancy_check_interval: env.duration("ROSTER_DORMANCY_CHECK_INTERVAL", "1h")?,
            password_min_length: env.number("ROSTER_PASSWORD_MIN_LENGTH", 12, 8..=128)?,
            action_token_ttl: env.duration("ROSTER_ACTION_TOKEN_TTL", "48h")?,
            hash_concurrency,
            hash_queue: env.number("ROSTER_HASH_QUEUE", 32 * hash_concurrency, 0..=100_000)?,
            auth_rate_limit: env.number("ROSTER_AUTH_RATE_LIMIT", 60, 0..=1_000_000)?,
            log_format: env.parsed_with("ROSTER_LOG_FORMAT", LogFormat::Text, parse_log_format)?,
        })
    }

    pub fn is_postgres(&self) -> bool {
        use secrecy::ExposeSecret;
        is_postgres_url(self.database_url.expose_secret())
    }
}

impl Settings {
    /// The effective configuration, secrets masked (`roster check-config`).
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        use secrecy::ExposeSecret;
        let secret = |s: &Option<SecretString>| {
            s.as_ref()
                .map_or("(unset)".to_string(), |_| "********".into())
        };
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let optional = |s: &Option<String>| s.clone().unwrap_or_else(|| "(unset)".into());
        vec![
            (
                "ROSTER_DATABASE_URL",
                mask_url_password(self.database_url.expose_secret()),
            ),
            (
                "ROSTER_DATABASE_POOL_SIZE",
                self.database_pool_size.to_string(),
            ),
            ("ROSTER_DATABASE_TIMEOUT", duration(self.database_timeout)),
            (
                "ROSTER_DATABASE_BUSY_TIMEOUT",
                duration(self.database_busy_timeout),
            ),
            ("ROSTER_BIND", self.bind.to_string()),
            ("ROSTER_WORKERS", self.workers.to_string()),
            ("ROSTER_APP_URL", self.app_url.clone()),
            ("ROSTER_PRODUCT_NAME", self.product_name.clone()),
            (
                "ROSTER_MAIL_PROVIDER",
                format!("{:?}", self.mail.provider).to_lowercase(),
            ),
            ("ROSTER_MAIL_API_URL", self.mail.api_url.clone()),
            ("ROSTER_MAIL_API_KEY", secret(&self.mail.api_key)),
            ("ROSTER_MAIL_FROM", self.mail.from.clone()),
            (
                "ROSTER_MAIL_POLL_INTERVAL",
                duration(self.mail.poll_interval),
            ),
            (
                "ROSTER_MAIL_MAX_ATTEMPTS",
                self.mail.max_attempts.to_string(),
            ),
            ("ROSTER_MAIL_CONCURRENCY", self.mail.concurrency.to_string()),
            ("ROSTER_MAIL_TIMEOUT", duration(self.mail.timeout)),
            ("ROSTER_MAIL_LEASE", duration(self.mail.lease)),
            (
                "ROSTER_MAIL_WORKER",
                if self.mail.worker { "on" } else { "off" }.into(),
            ),
            (
                "ROSTER_JWT_KEY_FILE",
                self.jwt_key_file
                    .as_ref()
                    .map_or("(unset: key kept in the database)".into(), |p| {
                        p.display().to_string()
                    }),
            ),
            ("ROSTER_JWT_ISSUER", self.jwt_issuer.clone()),
            ("ROSTER_ACCESS_TOKEN_TTL", duration(self.access_token_ttl)),
            ("ROSTER_REFRESH_TOKEN_TTL", duration(self.refresh_token_ttl)),
            (
                "ROSTER_BOOTSTRAP_ADMIN_EMAIL",
                optional(&self.bootstrap_admin_email),
            ),
            (
                "ROSTER_BOOTSTRAP_ADMIN_PASSWORD",
                secret(&self.bootstrap_admin_password),
            ),
            (
                "ROSTER_LOCKOUT_THRESHOLD",
                self.lockout_threshold.to_string(),
            ),
            ("ROSTER_DORMANCY_DAYS", self.dormancy_days.to_string()),
            (
                "ROSTER_DORMANCY_CHECK_INTERVAL",
                duration(self.dormancy_check_interval),
            ),
            (
                "ROSTER_PASSWORD_MIN_LENGTH",
                self.password_min_length.to_string(),
            ),
            ("ROSTER_ACTION_TOKEN_TTL", duration(self.action_token_ttl)),
            ("ROSTER_HASH_CONCURRENCY", self.hash_concurrency.to_string()),
            ("ROSTER_HASH_QUEUE", self.hash_queue.to_string()),
            ("ROSTER_AUTH_RATE_LIMIT", self.auth_rate_limit.to_string()),
            (
                "ROSTER_LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
        ]
    }
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

fn parse_provider(value: &str) -> Result<MailProvider, String> {
    match value {
        "log" => Ok(MailProvider::Log),
        "postmark" => Ok(MailProvider::Postmark),
        "sendgrid" => Ok(MailProvider::Sendgrid),
        "resend" => Ok(MailProvider::Resend),
        _ => Err("expected one of log, postmark, sendgrid, resend".into()),
    }
}

fn parse_switch(value: &str) -> Result<bool, String> {
    match value {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err("expected on or off".into()),
    }
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected text or json".into()),
    }
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn text(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        Ok(self.get(name).unwrap_or_else(|| default.to_string()))
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }

    fn parsed<T: FromStr>(&self, name: &'static str, default: &str) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.text(name, default)?;
        raw.trim().parse().map_err(|e: T::Err| ConfigError {
            variable: name,
            message: format!("`{raw}` is not valid: {e}"),
        })
    }

    fn parsed_with<T>(
        &self,
        name: &'static str,
        default: T,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => parse(raw.trim()).map_err(|message| ConfigError {
                variable: name,
                message: format!("`{raw}`: {message}"),
            }),
        }
    }

    fn number<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let value = match self.get(name) {
            None => default,
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
                variable: name,
                message: format!("`{raw}` is not a whole number"),
            })?,
        };
        if !range.contains(&value) {
            return Err(ConfigError {
                variable: name,
                message: format!(
                    "{value} is out of range {}..={}",
                    range.start(),
                    range.end()
                ),
            });
        }
        Ok(value)
    }

    fn duration(&self, name: &'static str, default: &str) -> Result<Duration, ConfigError> {
        let raw = self.text(name, default)?;
        humantime::parse_duration(raw.trim()).map_err(|e| ConfigError {
            variable: name,
            message: format!("`{raw}` is not a duration like 200ms, 15m or 48h ({e})"),
        })
    }

    fn url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let raw = self.text(name, default)?;
        let trimmed = raw.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                Ok(trimmed.to_string())
            }
            _ => Err(ConfigError {
                variable: name,
                message: format!("`{raw}` is not an http(s) URL"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_environment() {
        let settings = Settings::from_pairs(&[]).unwrap();
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.lockout_threshold, 5);
        assert_eq!(settings.action_token_ttl, Duration::from_secs(48 * 3600));
        assert_eq!(settings.mail.provider, MailProvider::Log);
        assert!(!settings.is_postgres());
    }

    #[test]
    fn a_bad_duration_names_the_variable() {
        let err = Settings::from_pairs(&[("ROSTER_ACTION_TOKEN_TTL", "two days")]).unwrap_err();
        assert_eq!(err.variable, "ROSTER_ACTION_TOKEN_TTL");
    }

    #[test]
    fn a_number_out_of_range_names_the_variable() {
        let err = Settings::from_pairs(&[("ROSTER_PASSWORD_MIN_LENGTH", "3")]).unwrap_err();
        assert_eq!(err.variable, "ROSTER_PASSWORD_MIN_LENGTH");
        assert!(err.message.contains("out of range"));
    }

    #[test]
    fn a_mail_lease_follows_the_timeout_and_must_outlast_it() {
        let settings = Settings::from_pairs(&[("ROSTER_MAIL_TIMEOUT", "5s")]).unwrap();
        assert_eq!(settings.mail.lease, Duration::from_secs(40));
        let settings =
            Settings::from_pairs(&[("ROSTER_MAIL_LEASE", "3s"), ("ROSTER_MAIL_TIMEOUT", "1s")])
                .unwrap();
        assert_eq!(settings.mail.lease, Duration::from_secs(3));
        let err = Settings::from_pairs(&[("ROSTER_MAIL_LEASE", "5s")]).unwrap_err();
        assert_eq!(err.variable, "ROSTER_MAIL_LEASE");
        assert!(
            err.message.contains("ROSTER_MAIL_TIMEOUT (10s)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_real_provider_needs_an_api_key() {
        let err = Settings::from_pairs(&[("ROSTER_MAIL_PROVIDER", "postmark")]).unwrap_err();
        assert_eq!(err.variable, "ROSTER_MAIL_API_KEY");
        let err = Settings::from_pairs(&[("ROSTER_MAIL_PROVIDER", "carrier-pigeon")]).unwrap_err();
        assert_eq!(err.variable, "ROSTER_MAIL_PROVIDER");
    }

    #[test]
    fn app_url_loses_its_trailing_slash_and_must_be_http() {
        let settings =
            Settings::from_pairs(&[("ROSTER_APP_URL", "https://app.example.com/")]).unwrap();
        assert_eq!(settings.app_url, "https://app.example.com");
        assert_eq!(settings.jwt_issuer, "https://app.example.com");
        let err = Settings::from_pairs(&[("ROSTER_APP_URL", "app.example.com")]).unwrap_err();
        assert_eq!(err.variable, "ROSTER_APP_URL");
    }

    #[test]
    fn check_config_masks_secrets() {
        let settings = Settings::from_pairs(&[
            ("ROSTER_DATABASE_URL", "postgres://roster:s3cret@db/roster"),
            ("ROSTER_MAIL_PROVIDER", "resend"),
            ("ROSTER_MAIL_API_KEY", "re_live_key"),
        ])
        .unwrap();
        let printed = format!("{:?}", settings.describe());
        assert!(
            !printed.contains("s3cret") && !printed.contains("re_live_key"),
            "{printed}"
        );
        assert!(printed.contains("postgres://roster:********@db/roster"));
    }

    #[test]
    fn secrets_are_not_printed_by_debug() {
        let settings = Settings::from_pairs(&[
            ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", "a@example.com"),
            ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", "hunter2hunter2"),
        ])
        .unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
