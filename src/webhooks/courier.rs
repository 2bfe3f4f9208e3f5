//! One webhook delivery attempt, for the delivery worker: reads the
//! endpoint as it is now, signs the stored body with its secrets, POSTs it
//! (no redirects, a timeout, a bounded read of the answer) and judges the
//! answer. Also the retry schedule, and what a final failure does to the
//! endpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Name, Resolve, Resolving};
use time::PrimitiveDateTime;

use super::{address, secrets, signature};
use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::db::outbox::{self, OutboxRow};
use crate::db::webhooks::{self, EndpointRow};
use crate::db::{Db, DbConnection, DbError};

/// The retry schedule after attempt 1, 2, …: 5 s, 30 s, 2 m, 5 m, 15 m,
/// 30 m, 1 h, 2 h, 4 h, 6 h, 8 h, 12 h, 16 h, then 22 h (so the default 15
/// attempts span about three days); each wait ±10 % jitter.
const SCHEDULE_SECS: [u64; 14] = [
    5, 30, 120, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 28_800, 43_200, 57_600, 79_200,
];
/// How much of an answer is read before the connection is dropped.
const ANSWER_LIMIT: usize = 4096;

/// The wait after attempt number `attempts` (1 for the first), scaled by `jitter`.
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    let secs = SCHEDULE_SECS[index.min(SCHEDULE_SECS.len() - 1)];
    Duration::from_secs(secs).mul_f64(jitter.clamp(0.5, 1.5))
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx answer.
    Delivered,
    /// Anything else but a 410: try again on the schedule.
    Retry(String),
    /// 410 Gone: the receiver wants no more; the endpoint is disabled.
    Gone(String),
    /// The endpoint was deleted or disabled meanwhile: nothing to send.
    Dropped(String),
}

/// One attempt: the answer's status (none without one), the time it took, the verdict.
#[derive(Debug, Clone)]
pub struct Sent {
    pub status: Option<u16>,
    pub latency: Duration,
    pub verdict: Verdict,
}

impl Sent {
    fn without_answer(verdict: Verdict) -> Self {
        Sent {
            status: None,
            latency: Duration::ZERO,
            verdict,
        }
    }
}

/// Sends webhook deliveries. Cheap to clone (one shared client).
#[derive(Clone)]
pub struct Courier {
    db: Db,
    client: reqwest::Client,
    settings: WebhookSettings,
    clock: Clock,
}

impl Courier {
    pub fn new(db: Db, settings: &WebhookSettings, clock: Clock) -> Self {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(CheckedResolver {
                allow_private: settings.allow_private,
            }))
            .user_agent(concat!("roster-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a TLS-capable HTTP client builds");
        Courier {
            db,
            client,
            settings: settings.clone(),
            clock,
        }
    }

    pub fn max_attempts(&self) -> u32 {
        self.settings.max_attempts
    }

    /// One attempt at delivering `row`.
    pub async fn attempt(&self, row: &OutboxRow) -> Sent {
        let (endpoint, keys) = match self.endpoint_and_keys(&row.recipient).await {
            Ok(found) => found,
            Err(verdict) => return Sent::without_answer(verdict),
        };
        let url = match address::parse(&endpoint.url, self.settings.allow_private) {
            Ok(url) => url,
            Err(err) => return Sent::without_answer(Verdict::Retry(format!("the URL {err}"))),
        };
        if let Some(refused) = refused_literal(&url, self.settings.allow_private) {
            return Sent::without_answer(Verdict::Retry(refused));
        }
        let id = row.event_id.clone().unwrap_or_else(|| row.id.clone());
        let timestamp = self.clock.now().unix_timestamp();
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature::header(&keys, &id, timestamp, &row.text_body),
            )
            .body(row.text_body.clone());
        let started = Instant::now();
        let answer = request.send().await;
        let (status, verdict) = match answer {
            Err(err) => (None, Verdict::Retry(describe(&err, &self.settings))),
            Ok(mut response) => {
                let status = response.status();
                let mut read = 0;
                while let Ok(Some(chunk)) = response.chunk().await {
                    read += chunk.len();
                    if read >= ANSWER_LIMIT {
                        break;
                    }
                }
                (Some(status.as_u16()), judge(status))
            }
        };
        Sent {
            status,
            latency: started.elapsed(),
            verdict,
        }
    }

    /// The endpoint and the keys that sign for it now (the current secret,
    /// and the previous one during the 24 h after a rotation).
    async fn endpoint_and_keys(
        &self,
        endpoint_id: &str,
    ) -> Result<(EndpointRow, Vec<Vec<u8>>), Verdict> {
        let (id, settings, now) = (
            endpoint_id.to_string(),
            self.settings.clone(),
            self.clock.now_db(),
        );
        let read = self
            .db
            .run(move |conn| {
                let endpoint = webhooks::find(conn, &id)?;
                Ok::<_, DbError>((endpoint, secrets::sealer(conn, &settings, now)))
            })
            .await;
        let (endpoint, sealer) = read.map_err(|err| Verdict::Retry(format!("database: {err}")))?;
        let endpoint =
            endpoint.ok_or_else(|| Verdict::Dropped("the endpoint was deleted".into()))?;
        if endpoint.disabled_at.is_some() {
            return Err(Verdict::Dropped("the endpoint is disabled".into()));
        }
        let sealer = sealer.map_err(|err| Verdict::Retry(format!("secrets: {err}")))?;
        let mut sealed = vec![endpoint.secret.clone()];
        if let (Some(previous), Some(until)) =
            (&endpoint.previous_secret, endpoint.previous_secret_until)
        {
            if until > now {
                sealed.push(previous.clone());
            }
        }
        let keys = sealed
            .iter()
            .map(|stored| {
                secrets::open(&sealer, &endpoint.id, stored)
                    .ok()
                    .and_then(|secret| signature::key_of(&secret))
                    .ok_or_else(|| Verdict::Retry("a signing secret does not open".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((endpoint, keys))
    }
}

/// 2xx delivered, 410 gone, anything else retried.
fn judge(status: reqwest::StatusCode) -> Verdict {
    if status.is_success() {
        Verdict::Delivered
    } else if status == reqwest::StatusCode::GONE {
        Verdict::Gone("the endpoint answered 410 Gone".into())
    } else {
        Verdict::Retry(format!("HTTP {}", status.as_u16()))
    }
}

/// The reqwest resolver never runs for an address literal: checked here.
fn refused_literal(url: &reqwest::Url, allow_private: bool) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    (!allow_private && address::is_internal(ip))
        .then(|| format!("the URL {}", address::AddressError::Internal(ip)))
}

/// A transport error with its causes (the resolver's refusal among them).
fn describe(err: &reqwest::Error, settings: &WebhookSettings) -> String {
    if err.is_timeout() {
        return format!(
            "no answer within {}",
            humantime::format_duration(settings.timeout)
        );
    }
    let mut text = String::from("cannot connect");
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Resolves names for the sender, handing out only addresses that pass
/// the rules: the connection goes to an address that was checked.
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found = address::resolve(name.as_str(), 0, allow_private).await?;
            Ok(Box::new(found.into_iter()) as Box<dyn Iterator<Item = _> + Send>)
        })
    }
}

/// Records what an attempt got back, and, when the delivery has failed for
/// good (a 410, or the last attempt), disables the endpoint with the reason
/// and gives up its queued deliveries; returns the reason then.
pub fn settle(
    conn: &mut DbConnection,
    row: &OutboxRow,
    sent: &Sent,
    final_failure: bool,
    max_attempts: u32,
    now: PrimitiveDateTime,
) -> diesel::QueryResult<Option<String>> {
    let latency_ms = i32::try_from(sent.latency.as_millis()).unwrap_or(i32::MAX);
    outbox::record_response(conn, &row.id, sent.status.map(i32::from), latency_ms)?;
    let reason = match &sent.verdict {
        Verdict::Gone(why) => why.clone(),
        Verdict::Retry(why) if final_failure => {
            format!("{max_attempts} attempts failed over the retry window; the last: {why}")
        }
        _ => return Ok(None),
    };
    if webhooks::disable(conn, &row.recipient, &reason, now)? {
        outbox::fail_pending_webhooks(conn, &row.recipient, "the endpoint was disabled", now)?;
        return Ok(Some(reason));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days_over_fifteen_attempts() {
        let total: Duration = (1..15).map(|n| backoff(n, 1.0)).sum();
        let hours = total.as_secs_f64() / 3600.0;
        assert!((70.0..76.0).contains(&hours), "{hours} h");
        assert_eq!(backoff(1, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(40, 1.0), Duration::from_secs(79_200));
        assert_eq!(backoff(1, 1.1), Duration::from_millis(5500));
    }

    #[test]
    fn only_2xx_delivers_and_410_is_gone() {
        assert_eq!(judge(reqwest::StatusCode::NO_CONTENT), Verdict::Delivered);
        assert!(matches!(judge(reqwest::StatusCode::GONE), Verdict::Gone(_)));
        assert!(matches!(
            judge(reqwest::StatusCode::INTERNAL_SERVER_ERROR),
            Verdict::Retry(_)
        ));
        assert!(matches!(
            judge(reqwest::StatusCode::MOVED_PERMANENTLY),
            Verdict::Retry(_)
        ));
    }
}
