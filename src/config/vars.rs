//! Every `ROSTER_*` variable, declared once: its name, the default the docs
//! show, what it means, its kind with its bounds, and how `check-config`
//! shows its effective value. Parsing reads through these declarations
//! ([`super::Settings::from_lookup`]), `roster check-config` prints them, and
//! the README's table is rendered from them (a test holds the README and
//! `docs/configuration.md` to the list).

use super::Settings;

/// One configuration variable.
pub struct Var {
    pub name: &'static str,
    pub default: Fallback,
    pub kind: Kind,
    /// One line for the README's table.
    pub meaning: &'static str,
    /// The effective value, for `check-config`; `None` when unset. Secrets
    /// are masked by their kind, not here.
    pub show: fn(&Settings) -> Option<String>,
}

/// What a variable is when it is not set.
#[derive(Debug, Clone, Copy)]
pub enum Fallback {
    /// A value, parsed like a given one.
    Value(&'static str),
    /// Computed at start from the machine or another variable (described).
    Derived(&'static str),
    /// Nothing.
    Unset,
}

/// How a value is read, and the bounds it must lie in.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    /// Never shown.
    Secret,
    /// A database URL or path; a password in it is masked when shown.
    DatabaseUrl,
    /// `http(s)://…`, a trailing `/` dropped.
    HttpUrl,
    /// `host:port`.
    SocketAddr,
    /// A file path.
    Path,
    /// A whole number in `min..=max`.
    Count {
        min: u64,
        max: u64,
    },
    /// A duration like `15m` in `min..=max` (written like the values).
    Duration {
        min: &'static str,
        max: &'static str,
    },
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// `on`/`off` (also `true`/`false`, `1`/`0`).
    Switch,
    /// Comma-separated IP networks (`10.0.0.0/8`) or addresses.
    Networks,
}

impl Var {
    /// The default column of the docs: the default, then the bounds.
    pub fn default_cell(&self) -> String {
        let mut cell = match self.default {
            Fallback::Value(value) => format!("`{value}`"),
            Fallback::Derived(text) => text.to_string(),
            Fallback::Unset => "unset".to_string(),
        };
        match self.kind {
            Kind::Count { min, max } => cell.push_str(&format!(" ({min}–{max})")),
            Kind::Duration { min, max } => cell.push_str(&format!(" ({min}–{max})")),
            Kind::Secret => cell.push_str(" (secret)"),
            _ => {}
        }
        cell
    }
}

const fn var(
    name: &'static str,
    default: Fallback,
    kind: Kind,
    meaning: &'static str,
    show: fn(&Settings) -> Option<String>,
) -> Var {
    Var {
        name,
        default,
        kind,
        meaning,
        show,
    }
}

use Fallback::{Derived, Unset, Value};

fn duration(d: std::time::Duration) -> Option<String> {
    Some(humantime::format_duration(d).to_string())
}

fn on_off(on: bool) -> Option<String> {
    Some(if on { "on" } else { "off" }.to_string())
}

/// Lifetimes of credentials are capped at ten years.
const TEN_YEARS: &str = "10y";

pub const DATABASE_URL: Var = var(
    "ROSTER_DATABASE_URL",
    Value("roster.db"),
    Kind::DatabaseUrl,
    "SQLite file path, or `postgres://…`",
    |s| {
        use secrecy::ExposeSecret;
        Some(s.database_url.expose_secret().to_string())
    },
);
pub const DATABASE_POOL_SIZE: Var = var(
    "ROSTER_DATABASE_POOL_SIZE",
    Value("10"),
    Kind::Count { min: 1, max: 1000 },
    "connections in the pool",
    |s| Some(s.database_pool_size.to_string()),
);
pub const DATABASE_TIMEOUT: Var = var(
    "ROSTER_DATABASE_TIMEOUT",
    Value("2s"),
    Kind::Duration {
        min: "10ms",
        max: "10m",
    },
    "wait for a connection before answering 503",
    |s| duration(s.database_timeout),
);
pub const DATABASE_BUSY_TIMEOUT: Var = var(
    "ROSTER_DATABASE_BUSY_TIMEOUT",
    Value("5s"),
    Kind::Duration {
        min: "0s",
        max: "10m",
    },
    "SQLite: wait for the write lock before answering 503",
    |s| duration(s.database_busy_timeout),
);
pub const BIND: Var = var(
    "ROSTER_BIND",
    Value("127.0.0.1:8080"),
    Kind::SocketAddr,
    "listen address",
    |s| Some(s.bind.to_string()),
);
pub const WORKERS: Var = var(
    "ROSTER_WORKERS",
    Derived("number of cores"),
    Kind::Count { min: 1, max: 1024 },
    "HTTP worker threads",
    |s| Some(s.workers.to_string()),
);
pub const PUBLIC_URL: Var = var(
    "ROSTER_PUBLIC_URL",
    Derived("`http://` + `ROSTER_BIND` (the port it really listens on; `127.0.0.1` for `0.0.0.0`)"),
    Kind::HttpUrl,
    "roster's own external base URL: its account pages and the links in emails (never the request's Host header)",
    |s| Some(s.public_url.clone()),
);
pub const APP_URL: Var = var(
    "ROSTER_APP_URL",
    Unset,
    Kind::HttpUrl,
    "your own frontend: when set, email links go to `/activate?token=` and `/reset-password?token=` under it instead of roster's pages",
    |s| s.app_url.clone(),
);
pub const SIGN_IN_URL: Var = var(
    "ROSTER_SIGN_IN_URL",
    Derived("`ROSTER_APP_URL`, if set"),
    Kind::HttpUrl,
    "where the pages send a person once the password is set, and emails say to sign in",
    |s| s.sign_in_url.clone(),
);
pub const PRODUCT_NAME: Var = var(
    "ROSTER_PRODUCT_NAME",
    Value("Roster"),
    Kind::Text,
    "product name on the pages and in emails",
    |s| Some(s.product_name.clone()),
);
pub const SUPPORT_EMAIL: Var = var(
    "ROSTER_SUPPORT_EMAIL",
    Unset,
    Kind::Text,
    "address the pages and emails give for help",
    |s| s.support_email.clone(),
);
pub const LOGO_URL: Var = var(
    "ROSTER_LOGO_URL",
    Derived("the theme's `static/logo.svg` or `logo.png`, if any"),
    Kind::HttpUrl,
    "logo on the pages and in emails (its origin is then allowed for images by the pages' CSP)",
    |s| s.logo_url.clone(),
);
pub const ACCENT_COLOR: Var = var(
    "ROSTER_ACCENT_COLOR",
    Value("#1d4ed8"),
    Kind::Text,
    "`#rrggbb` of buttons and links; refused below a 4.5:1 contrast with white (WCAG AA)",
    |s| Some(s.accent_color.clone()),
);
pub const THEME_DIR: Var = var(
    "ROSTER_THEME_DIR",
    Unset,
    Kind::Path,
    "folder whose `pages/`, `email/` and `static/` files replace the built-in ones; checked at start",
    |s| s.theme_dir.as_ref().map(|p| p.display().to_string()),
);
pub const TRUSTED_PROXIES: Var = var(
    "ROSTER_TRUSTED_PROXIES",
    Unset,
    Kind::Networks,
    "comma-separated CIDRs of the proxies whose `X-Forwarded-For`/`Forwarded` names the client; unset: the TCP peer is the client and those headers are ignored",
    |s| {
        (!s.trusted_proxies.is_empty()).then(|| {
            s.trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        })
    },
);
pub const AUTH_RATE_LIMIT: Var = var(
    "ROSTER_AUTH_RATE_LIMIT",
    Value("60"),
    Kind::Count {
        min: 0,
        max: 1_000_000,
    },
    "requests a minute per client IP on `/v1/auth/*`, per instance; `0` = off",
    |s| Some(s.auth_rate_limit.to_string()),
);
pub const MAIL_PROVIDER: Var = var(
    "ROSTER_MAIL_PROVIDER",
    Value("log"),
    Kind::OneOf(&["log", "postmark", "sendgrid", "resend"]),
    "`log`, `postmark`, `sendgrid` or `resend`",
    |s| Some(s.mail.provider.as_str().to_string()),
);
pub const MAIL_API_URL: Var = var(
    "ROSTER_MAIL_API_URL",
    Derived("the provider's"),
    Kind::HttpUrl,
    "provider base URL override",
    |s| (!s.mail.api_url.is_empty()).then(|| s.mail.api_url.clone()),
);
pub const MAIL_API_KEY: Var = var(
    "ROSTER_MAIL_API_KEY",
    Unset,
    Kind::Secret,
    "provider API key (required unless `log`)",
    |s| s.mail.api_key.as_ref().map(|_| String::new()),
);
pub const MAIL_FROM: Var = var(
    "ROSTER_MAIL_FROM",
    Value("Roster <no-reply@localhost>"),
    Kind::Text,
    "sender",
    |s| Some(s.mail.from.clone()),
);
pub const MAIL_POLL_INTERVAL: Var = var(
    "ROSTER_MAIL_POLL_INTERVAL",
    Value("1s"),
    Kind::Duration {
        min: "10ms",
        max: "1h",
    },
    "how often the outbox is polled",
    |s| duration(s.mail.poll_interval),
);
pub const MAIL_MAX_ATTEMPTS: Var = var(
    "ROSTER_MAIL_MAX_ATTEMPTS",
    Value("12"),
    Kind::Count { min: 1, max: 1000 },
    "attempts before an email is `failed`",
    |s| Some(s.mail.max_attempts.to_string()),
);
pub const MAIL_CONCURRENCY: Var = var(
    "ROSTER_MAIL_CONCURRENCY",
    Value("4"),
    Kind::Count { min: 1, max: 256 },
    "emails sent at once by one instance",
    |s| Some(s.mail.concurrency.to_string()),
);
pub const MAIL_TIMEOUT: Var = var(
    "ROSTER_MAIL_TIMEOUT",
    Value("10s"),
    Kind::Duration {
        min: "100ms",
        max: "10m",
    },
    "provider request timeout",
    |s| duration(s.mail.timeout),
);
pub const MAIL_LEASE: Var = var(
    "ROSTER_MAIL_LEASE",
    Derived("2 × the longer of `ROSTER_MAIL_TIMEOUT` and `ROSTER_WEBHOOK_TIMEOUT` + 30s"),
    Kind::Duration {
        min: "1s",
        max: "7d",
    },
    "how long an email or webhook claimed by an instance stays its own; after a crash another instance sends it once this runs out (must exceed both timeouts)",
    |s| duration(s.mail.lease),
);
pub const MAIL_WORKER: Var = var(
    "ROSTER_MAIL_WORKER",
    Value("on"),
    Kind::Switch,
    "`off` keeps this instance from sending (another instance sends)",
    |s| on_off(s.mail.worker),
);
pub const WEBHOOK_MAX_ATTEMPTS: Var = var(
    "ROSTER_WEBHOOK_MAX_ATTEMPTS",
    Value("15"),
    Kind::Count { min: 1, max: 30 },
    "attempts at a webhook delivery (backoff with jitter from 5 s to 22 h: 15 attempts span about 3 days) before it fails and its endpoint is disabled",
    |s| Some(s.webhooks.max_attempts.to_string()),
);
pub const WEBHOOK_TIMEOUT: Var = var(
    "ROSTER_WEBHOOK_TIMEOUT",
    Value("10s"),
    Kind::Duration {
        min: "100ms",
        max: "60s",
    },
    "how long one webhook attempt may take, connection included",
    |s| duration(s.webhooks.timeout),
);
pub const WEBHOOK_ALLOW_PRIVATE: Var = var(
    "ROSTER_WEBHOOK_ALLOW_PRIVATE",
    Value("off"),
    Kind::Switch,
    "`on` lets webhook endpoints use `http` and loopback, private, link-local or metadata addresses (tests, internal networks)",
    |s| on_off(s.webhooks.allow_private),
);
pub const WEBHOOK_SEALING_KEY: Var = var(
    "ROSTER_WEBHOOK_SEALING_KEY",
    Derived("a random key made at first use and kept in the database"),
    Kind::Secret,
    "input key for sealing webhook signing secrets at rest; set it (32+ random characters) so a copy of the database alone does not reveal them",
    |s| s.webhooks.sealing_key.as_ref().map(|_| String::new()),
);
pub const EVENT_RETENTION: Var = var(
    "ROSTER_EVENT_RETENTION",
    Value("30d"),
    Kind::Duration {
        min: "1h",
        max: TEN_YEARS,
    },
    "how long events stay in the feed (`/v1/events`); older ones are pruned by the housekeeping job",
    |s| duration(s.webhooks.event_retention),
);
pub const CONFIRMATION_EMAILS_PER_HOUR: Var = var(
    "ROSTER_CONFIRMATION_EMAILS_PER_HOUR",
    Value("100"),
    Kind::Count {
        min: 1,
        max: 10_000,
    },
    "confirmation emails one person or API client may ask for in any hour, across all instances; beyond it a 429",
    |s| Some(s.confirmation_emails_per_hour.to_string()),
);
pub const JWT_KEY_FILE: Var = var(
    "ROSTER_JWT_KEY_FILE",
    Unset,
    Kind::Path,
    "Ed25519 PKCS#8 PEM; without it keys are kept in the database, so restarts and all instances share them, and `roster keys rotate` adds a new one",
    |s| s.jwt_key_file.as_ref().map(|p| p.display().to_string()),
);
pub const JWT_ISSUER: Var = var(
    "ROSTER_JWT_ISSUER",
    Derived("`ROSTER_APP_URL` if set, else `ROSTER_PUBLIC_URL`"),
    Kind::Text,
    "`iss` of access tokens",
    |s| Some(s.jwt_issuer.clone()),
);
pub const ACCESS_TOKEN_TTL: Var = var(
    "ROSTER_ACCESS_TOKEN_TTL",
    Value("15m"),
    Kind::Duration {
        min: "1s",
        max: "1d",
    },
    "access token lifetime",
    |s| duration(s.access_token_ttl),
);
pub const REFRESH_TOKEN_TTL: Var = var(
    "ROSTER_REFRESH_TOKEN_TTL",
    Value("30d"),
    Kind::Duration {
        min: "1s",
        max: TEN_YEARS,
    },
    "refresh token lifetime",
    |s| duration(s.refresh_token_ttl),
);
pub const SESSION_MAX_AGE: Var = var(
    "ROSTER_SESSION_MAX_AGE",
    Value("30d"),
    Kind::Duration {
        min: "1s",
        max: TEN_YEARS,
    },
    "absolute session lifetime: a refresh-token family rotates no more this long after its sign-in (sign in again)",
    |s| duration(s.session_max_age),
);
pub const BOOTSTRAP_ADMIN_EMAIL: Var = var(
    "ROSTER_BOOTSTRAP_ADMIN_EMAIL",
    Unset,
    Kind::Text,
    "the first platform admin (`admin@localhost` when unset and no admin exists)",
    |s| s.bootstrap_admin_email.clone(),
);
pub const BOOTSTRAP_ADMIN_PASSWORD: Var = var(
    "ROSTER_BOOTSTRAP_ADMIN_PASSWORD",
    Unset,
    Kind::Secret,
    "its password; without it an activation link is printed",
    |s| s.bootstrap_admin_password.as_ref().map(|_| String::new()),
);
pub const LOCKOUT_THRESHOLD: Var = var(
    "ROSTER_LOCKOUT_THRESHOLD",
    Value("5"),
    Kind::Count { min: 1, max: 1000 },
    "failed sign-ins in a row that lock an account",
    |s| Some(s.lockout_threshold.to_string()),
);
pub const DORMANCY_DAYS: Var = var(
    "ROSTER_DORMANCY_DAYS",
    Value("90"),
    Kind::Count { min: 0, max: 3650 },
    "days without sign-in or session refresh before `active` becomes `expired`; `0` = off",
    |s| Some(s.dormancy_days.to_string()),
);
pub const DORMANCY_CHECK_INTERVAL: Var = var(
    "ROSTER_DORMANCY_CHECK_INTERVAL",
    Value("1h"),
    Kind::Duration {
        min: "1s",
        max: "1d",
    },
    "how often the housekeeping job runs (dormancy, expired idempotency keys)",
    |s| duration(s.dormancy_check_interval),
);
pub const PASSWORD_MIN_LENGTH: Var = var(
    "ROSTER_PASSWORD_MIN_LENGTH",
    Value("12"),
    Kind::Count { min: 8, max: 128 },
    "minimum password length (characters)",
    |s| Some(s.password_min_length.to_string()),
);
pub const ACTION_TOKEN_TTL: Var = var(
    "ROSTER_ACTION_TOKEN_TTL",
    Value("48h"),
    Kind::Duration {
        min: "1s",
        max: TEN_YEARS,
    },
    "activation and reset link lifetime",
    |s| duration(s.action_token_ttl),
);
pub const RESET_EMAIL_COOLDOWN: Var = var(
    "ROSTER_RESET_EMAIL_COOLDOWN",
    Value("60s"),
    Kind::Duration {
        min: "0s",
        max: "1d",
    },
    "at most one link email per account this often from `POST /v1/auth/forgot-password`; later requests inside it send nothing and the live link keeps working; `0s` = off",
    |s| duration(s.reset_email_cooldown),
);
pub const HASH_CONCURRENCY: Var = var(
    "ROSTER_HASH_CONCURRENCY",
    Derived("the number of cores"),
    Kind::Count { min: 1, max: 256 },
    "argon2 computations at once, on threads at a low OS priority (nice 10): all the CPU when idle, yielding to everything else during a sign-in flood",
    |s| Some(s.hash_concurrency.to_string()),
);
pub const HASH_QUEUE: Var = var(
    "ROSTER_HASH_QUEUE",
    Derived("32 × `ROSTER_HASH_CONCURRENCY`"),
    Kind::Count {
        min: 0,
        max: 100_000,
    },
    "password requests that may wait for a hashing slot; beyond it a 429 at once",
    |s| Some(s.hash_queue.to_string()),
);
pub const HASH_QUEUE_WAIT: Var = var(
    "ROSTER_HASH_QUEUE_WAIT",
    Value("3s"),
    Kind::Duration {
        min: "10ms",
        max: "1m",
    },
    "longest a password request waits in that queue for a slot (when other work keeps the low-priority hashing threads from the cores); then a 429 with `Retry-After: 1`",
    |s| duration(s.hash_queue_wait),
);
pub const HASH_MEMORY: Var = var(
    "ROSTER_HASH_MEMORY",
    Value("7MiB"),
    Kind::OneOf(&["7MiB", "9MiB", "12MiB", "19MiB", "46MiB"]),
    "argon2id memory per hash, one of OWASP's equally strong settings (passes 5, 4, 3, 2, 1); stored hashes of another setting are redone at their next sign-in",
    |s| Some(s.hash_memory.as_str().to_string()),
);
pub const IMPORT_MAX_BYTES: Var = var(
    "ROSTER_IMPORT_MAX_BYTES",
    Value("52428800"),
    Kind::Count {
        min: 1024,
        max: 1_073_741_824,
    },
    "largest user-import file accepted, in bytes (50 MB); a larger upload is a 413",
    |s| Some(s.import_max_bytes.to_string()),
);
pub const LOG_FORMAT: Var = var(
    "ROSTER_LOG_FORMAT",
    Value("text"),
    Kind::OneOf(&["text", "json"]),
    "`text` or `json`",
    |s| Some(s.log_format.as_str().to_string()),
);

/// Every variable, in the order `check-config` and the README list them.
pub static ALL: &[&Var] = &[
    &DATABASE_URL,
    &DATABASE_POOL_SIZE,
    &DATABASE_TIMEOUT,
    &DATABASE_BUSY_TIMEOUT,
    &BIND,
    &WORKERS,
    &PUBLIC_URL,
    &APP_URL,
    &SIGN_IN_URL,
    &PRODUCT_NAME,
    &SUPPORT_EMAIL,
    &LOGO_URL,
    &ACCENT_COLOR,
    &THEME_DIR,
    &TRUSTED_PROXIES,
    &AUTH_RATE_LIMIT,
    &MAIL_PROVIDER,
    &MAIL_API_URL,
    &MAIL_API_KEY,
    &MAIL_FROM,
    &MAIL_POLL_INTERVAL,
    &MAIL_MAX_ATTEMPTS,
    &MAIL_CONCURRENCY,
    &MAIL_TIMEOUT,
    &MAIL_LEASE,
    &MAIL_WORKER,
    &WEBHOOK_MAX_ATTEMPTS,
    &WEBHOOK_TIMEOUT,
    &WEBHOOK_ALLOW_PRIVATE,
    &WEBHOOK_SEALING_KEY,
    &EVENT_RETENTION,
    &CONFIRMATION_EMAILS_PER_HOUR,
    &JWT_KEY_FILE,
    &JWT_ISSUER,
    &ACCESS_TOKEN_TTL,
    &REFRESH_TOKEN_TTL,
    &SESSION_MAX_AGE,
    &BOOTSTRAP_ADMIN_EMAIL,
    &BOOTSTRAP_ADMIN_PASSWORD,
    &LOCKOUT_THRESHOLD,
    &DORMANCY_DAYS,
    &DORMANCY_CHECK_INTERVAL,
    &PASSWORD_MIN_LENGTH,
    &ACTION_TOKEN_TTL,
    &RESET_EMAIL_COOLDOWN,
    &HASH_CONCURRENCY,
    &HASH_QUEUE,
    &HASH_QUEUE_WAIT,
    &HASH_MEMORY,
    &IMPORT_MAX_BYTES,
    &LOG_FORMAT,
];

/// The README's table of every variable.
pub fn markdown_table() -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for var in ALL {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            var.name,
            var.default_cell(),
            var.meaning
        ));
    }
    table
}

#[cfg(test)]
mod tests;
