//! The delivery worker: claims due outbox rows under a lease (safe with many
//! instances on one database; a crashed sender's rows come back when its
//! lease runs out), sends them through the provider, and records the outcome
//! with capped, jittered exponential backoff.
//!
//! Delivery is at least once: an email is sent again only when its sender
//! died (or lost the database) between the provider's answer and recording
//! it. Resend gets the outbox id as its `Idempotency-Key`, which covers that
//! case too.
//!
//! Webhook deliveries wait in the same outbox too, and go out through a
//! [`Courier`] under the same leases, on their own retry schedule.
//!
//! Requests ([`RequestKind`](crate::email::RequestKind)) wait in the same
//! outbox and are claimed the same way: each round first resolves the due
//! ones (a forgot-password into a link email or nothing, removing the row in
//! the same transaction), so the emails they come to leave in that round.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use tokio::sync::watch;

use super::providers::{Delivered, Mailer, OutgoingEmail, SendError};
use crate::clock::{span, Clock};
use crate::config::MailSettings;
use crate::db::outbox::{self, Lane, OutboxRow};
use crate::db::{Db, DbError};
use crate::domain::delivery::WEBHOOK_KIND;
use crate::domain::email::mask;
use crate::webhooks::courier::{self, Courier, Sent, Verdict};

/// The wait after the first failed attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two attempts (unless the provider asks for more).
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(48 * 3600);
/// How many times a delivery outcome is written before the worker gives up
/// (and the lease runs out, so the email is sent again).
const RECORD_TRIES: u32 = 3;

/// Resolves one request row into the emails it comes to, or none, and
/// removes the row, all in one transaction; a row already gone (another
/// worker resolved it) is left alone. Built from the app's use cases (see
/// `crate::startup::delivery_worker`); the worker only logs and retries its
/// errors.
pub type Resolve =
    Arc<dyn Fn(OutboxRow) -> BoxFuture<'static, Result<(), ResolveError>> + Send + Sync>;

/// Why a request could not be resolved (the use case's own error).
pub type ResolveError = Box<dyn std::error::Error + Send + Sync>;

/// What one send attempt came to.
struct Attempt {
    outcome: Result<Delivered, SendError>,
    /// 1 for the first attempt.
    number: u32,
    /// When to try again; `None` after a success or for good.
    retry_in: Option<Duration>,
    /// A webhook's answer (status, latency, verdict).
    webhook: Option<Sent>,
}

pub struct DeliveryWorker {
    db: Db,
    mailer: Mailer,
    settings: MailSettings,
    clock: Clock,
    resolve: Resolve,
    owner: String,
    courier: Option<Courier>,
}

impl DeliveryWorker {
    /// A worker with a fresh owner id (its leases are its own).
    pub fn new(
        db: Db,
        mailer: Mailer,
        settings: MailSettings,
        clock: Clock,
        resolve: Resolve,
    ) -> Self {
        DeliveryWorker {
            db,
            mailer,
            settings,
            clock,
            resolve,
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
            courier: None,
        }
    }

    /// Delivers webhooks too, through `courier`.
    pub fn with_webhooks(mut self, courier: Courier) -> Self {
        self.courier = Some(courier);
        self
    }

    /// Runs the worker on the runtime until `shutdown` turns true (or its
    /// sender is dropped); in-flight sends finish and are recorded first.
    pub fn spawn(self, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    /// The lease owner this worker claims rows as.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Keeps up to `concurrency` sends in flight. Due rows are claimed in
    /// batches into a small local queue (refilled when half empty), a slot is
    /// refilled as soon as the provider answers, and outcomes are written in
    /// the background (at most `concurrency` writes at a time). When nothing
    /// is due the worker looks again every `poll_interval`. On shutdown it
    /// stops claiming, hands back the rows it had not started, and lets the
    /// sends in flight finish and be recorded.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(
            owner = %self.owner,
            provider = ?self.mailer.provider(),
            poll_interval = ?self.settings.poll_interval,
            concurrency = self.settings.concurrency,
            "email delivery worker started"
        );
        let concurrency = self.settings.concurrency;
        let mut queued: VecDeque<OutboxRow> = VecDeque::new();
        let mut sending = FuturesUnordered::new();
        let mut recording = FuturesUnordered::new();
        let mut stopping = false;
        // When the outbox was last found empty (no claim before a poll interval).
        let mut drained_at: Option<Instant> = None;
        let mut backlog_reported_at: Option<Instant> = None;
        loop {
            stopping = stopping || *shutdown.borrow();
            let polled_recently =
                drained_at.is_some_and(|at| at.elapsed() < self.settings.poll_interval);
            let wants_more = queued.len() <= concurrency / 2 && recording.len() < concurrency;
            if !stopping && wants_more && !polled_recently {
                if backlog_reported_at.is_none_or(|at| at.elapsed() >= self.settings.poll_interval)
                {
                    self.report_backlog().await;
                    backlog_reported_at = Some(Instant::now());
                }
                // Any request resolved means more may be waiting: a full
                // batch, or an import that is due again for its next turn.
                let requests_done = self.resolve_requests_once().await == 0;
                let wanted = concurrency - queued.len();
                match self.claim_work(wanted).await {
                    Ok(rows) => {
                        drained_at = (rows.len() < wanted && requests_done).then(Instant::now);
                        queued.extend(rows);
                    }
                    Err(err) => {
                        drained_at = Some(Instant::now());
                        tracing::warn!(error = %err, "cannot claim emails; trying again next poll");
                    }
                }
            }
            if stopping {
                self.release_unstarted(&mut queued).await;
            }
            while sending.len() < concurrency {
                let Some(row) = queued.pop_front() else { break };
                sending.push(self.send_owned(row));
            }
            if stopping && sending.is_empty() && recording.is_empty() {
                break;
            }
            let idle_wait = drained_at.map_or(self.settings.poll_interval, |at| {
                self.settings.poll_interval.saturating_sub(at.elapsed())
            });
            tokio::select! {
                Some((row, attempt)) = sending.next(), if !sending.is_empty() => {
                    recording.push(self.finish_owned(row, attempt));
                }
                Some(()) = recording.next(), if !recording.is_empty() => {}
                // Nothing more to start until the next poll.
                _ = tokio::time::sleep(idle_wait), if queued.is_empty() => {}
                changed = shutdown.changed(), if !stopping => {
                    stopping = stopping || changed.is_err();
                }
            }
        }
        tracing::info!(owner = %self.owner, "email delivery worker stopped");
    }

    /// Gives claimed rows that were never sent back to the outbox at once
    /// (otherwise they would wait for their lease to run out).
    async fn release_unstarted(&self, queued: &mut VecDeque<OutboxRow>) {
        if queued.is_empty() {
            return;
        }
        let ids: Vec<String> = queued.drain(..).map(|row| row.id).collect();
        let owner = self.owner.clone();
        let released = self
            .db
            .write(move |conn| -> Result<_, DbError> {
                for id in &ids {
                    outbox::release(conn, id, &owner)?;
                }
                Ok(ids.len())
            })
            .await;
        match released {
            Ok(count) => tracing::info!(count, "released unsent emails for another worker"),
            Err(err) => {
                tracing::warn!(error = %err, "cannot release unsent emails; their lease will run out")
            }
        }
    }

    /// Resolves one batch of due requests, then claims one batch of due
    /// emails and sends them concurrently; returns how many emails it claimed
    /// (0 after a database error, which is logged).
    pub async fn run_once(&self) -> usize {
        self.report_backlog().await;
        self.resolve_requests_once().await;
        let batch = match self.claim_work(self.settings.concurrency).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim emails; trying again next poll");
                return 0;
            }
        };
        futures_util::future::join_all(batch.iter().map(|row| self.deliver(row))).await;
        batch.len()
    }

    /// Claims up to `wanted` rows to send: webhooks (when this worker
    /// delivers them) up to half, emails for the rest.
    async fn claim_work(&self, wanted: usize) -> Result<Vec<OutboxRow>, DbError> {
        let mut rows = match &self.courier {
            Some(_) => self.claim(wanted.div_ceil(2), Lane::Webhooks).await?,
            None => Vec::new(),
        };
        if rows.len() < wanted {
            rows.extend(self.claim(wanted - rows.len(), Lane::Emails).await?);
        }
        Ok(rows)
    }

    async fn claim(&self, limit: usize, lane: Lane) -> Result<Vec<OutboxRow>, DbError> {
        let now = self.clock.now_db();
        let lease = now + span(self.settings.lease);
        let limit = i64::try_from(limit).unwrap_or(1);
        let owner = self.owner.clone();
        self.db
            .write(move |conn| Ok(outbox::claim_due(conn, &owner, now, lease, limit, lane)?))
            .await
    }

    /// Claims up to `concurrency` due requests and resolves them at once;
    /// returns how many it claimed (0 after a database error, which is logged).
    pub async fn resolve_requests_once(&self) -> usize {
        let batch = match self.claim(self.settings.concurrency, Lane::Requests).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim requests; trying again next poll");
                return 0;
            }
        };
        let count = batch.len();
        futures_util::future::join_all(batch.into_iter().map(|row| self.settle(row))).await;
        count
    }

    /// Resolves one claimed request. A failure is retried like a failed send
    /// (same backoff, same attempt limit); at the limit the request is
    /// dropped, so the address it names does not stay.
    async fn settle(&self, row: OutboxRow) {
        let (id, kind, attempts) = (row.id.clone(), row.kind.clone(), row.attempts);
        let to = mask(&row.recipient);
        let recipient = row.recipient.clone();
        let Err(err) = (self.resolve)(row).await else {
            tracing::debug!(id = %id, kind = %kind, "request resolved");
            return;
        };
        let number = u32::try_from(attempts).unwrap_or(0).saturating_add(1);
        let retry_in = (number < self.settings.max_attempts)
            .then(|| backoff(number, rand::thread_rng().gen_range(0.8..=1.2)));
        let reason = loggable(&err.to_string(), &recipient);
        tracing::warn!(id = %id, kind = %kind, to = %to, attempts = number, retry_in = ?retry_in, error = %reason, "request not resolved");
        let now = self.clock.now_db();
        let owner = self.owner.clone();
        let written = self
            .db
            .write(move |conn| -> Result<_, DbError> {
                match retry_in {
                    Some(wait) => Ok(outbox::mark_attempt_failed(
                        conn,
                        &id,
                        &owner,
                        &reason,
                        Some(now + span(wait)),
                        now,
                    )?),
                    None => Ok(outbox::take_request(conn, &id).map(drop)?),
                }
            })
            .await;
        if let Err(err) = written {
            tracing::warn!(error = %err, "cannot record a failed request; it is tried again when its lease runs out");
        }
    }

    async fn send_owned(&self, row: OutboxRow) -> (OutboxRow, Attempt) {
        let attempt = self.send(&row).await;
        (row, attempt)
    }

    async fn finish_owned(&self, row: OutboxRow, attempt: Attempt) {
        self.finish(&row, attempt).await;
    }

    async fn deliver(&self, row: &OutboxRow) {
        let attempt = self.send(row).await;
        self.finish(row, attempt).await;
    }

    /// One attempt at a webhook's endpoint, and what it means for the row.
    async fn send_webhook(&self, courier: &Courier, row: &OutboxRow) -> Attempt {
        let sent = courier.attempt(row).await;
        let number = u32::try_from(row.attempts).unwrap_or(0).saturating_add(1);
        let (outcome, retry_in) = match &sent.verdict {
            Verdict::Delivered => (
                Ok(Delivered {
                    provider_message_id: None,
                }),
                None,
            ),
            Verdict::Retry(reason) => (
                Err(SendError::Retryable {
                    reason: reason.clone(),
                    retry_after: None,
                }),
                (number < courier.max_attempts())
                    .then(|| courier::backoff(number, rand::thread_rng().gen_range(0.9..=1.1))),
            ),
            Verdict::Gone(reason) | Verdict::Dropped(reason) => (
                Err(SendError::Permanent {
                    reason: reason.clone(),
                }),
                None,
            ),
        };
        Attempt {
            outcome,
            number,
            retry_in,
            webhook: Some(sent),
        }
    }

    /// One attempt at the provider, and what it means for the row.
    async fn send(&self, row: &OutboxRow) -> Attempt {
        if let (Some(courier), true) = (&self.courier, row.kind == WEBHOOK_KIND) {
            return self.send_webhook(courier, row).await;
        }
        let email = OutgoingEmail {
            id: &row.id,
            kind: &row.kind,
            to: &row.recipient,
            subject: &row.subject,
            text: &row.text_body,
            html: &row.html_body,
        };
        let outcome = self.mailer.send(&email).await;
        let number = u32::try_from(row.attempts).unwrap_or(0).saturating_add(1);
        let retry_in = match &outcome {
            Ok(_) => None,
            Err(err) => retry_delay(
                err,
                number,
                self.settings.max_attempts,
                rand::thread_rng().gen_range(0.8..=1.2),
            ),
        };
        Attempt {
            outcome,
            number,
            retry_in,
            webhook: None,
        }
    }

    /// Records an attempt, counts it and logs it.
    async fn finish(&self, row: &OutboxRow, attempt: Attempt) {
        let Attempt {
            outcome,
            number: attempts,
            retry_in,
            webhook,
        } = attempt;
        let label = match (&outcome, retry_in) {
            (Ok(_), _) => "sent",
            (Err(_), Some(_)) => "retried",
            (Err(_), None) => "failed",
        };
        self.record(row, &outcome, retry_in, webhook.as_ref()).await;
        if let Some(sent) = &webhook {
            report_webhook(row, sent, label, attempts, retry_in);
            return;
        }
        metrics::counter!("roster_emails_total", "outcome" => label, "kind" => row.kind.clone())
            .increment(1);
        let to = mask(&row.recipient);
        match &outcome {
            Ok(delivered) => tracing::info!(
                id = %row.id,
                kind = %row.kind,
                to = %to,
                attempts,
                provider_message_id = delivered.provider_message_id.as_deref().unwrap_or(""),
                "email sent"
            ),
            Err(err) => tracing::warn!(
                id = %row.id,
                kind = %row.kind,
                to = %to,
                attempts,
                outcome = label,
                retry_in = ?retry_in,
                error = %loggable(&err.to_string(), &row.recipient),
                "email not sent"
            ),
        }
    }

    /// Writes the outcome, trying a few times: a lost write means the email
    /// goes out again once the lease runs out.
    async fn record(
        &self,
        row: &OutboxRow,
        outcome: &Result<Delivered, SendError>,
        retry_in: Option<Duration>,
        webhook: Option<&Sent>,
    ) {
        if let Some(sent) = webhook {
            return self
                .record_webhook(row, outcome.is_ok(), retry_in, sent)
                .await;
        }
        let (text, html) = (redact_links(&row.text_body), redact_links(&row.html_body));
        for try_number in 1..=RECORD_TRIES {
            let now = self.clock.now_db();
            let (id, owner) = (row.id.clone(), self.owner.clone());
            let written = match outcome {
                Ok(delivered) => {
                    let message_id = delivered.provider_message_id.clone();
                    let (text, html) = (text.clone(), html.clone());
                    self.db
                        .write(move |conn| -> Result<_, DbError> {
                            outbox::mark_sent(conn, &id, &owner, message_id.as_deref(), now)?;
                            outbox::redact_bodies(conn, &id, &text, &html)?;
                            Ok(())
                        })
                        .await
                }
                Err(err) => {
                    let retry_at = retry_in.map(|wait| now + span(wait));
                    let reason = redact_links(&err.to_string());
                    self.db
                        .write(move |conn| -> Result<_, DbError> {
                            Ok(outbox::mark_attempt_failed(
                                conn, &id, &owner, &reason, retry_at, now,
                            )?)
                        })
                        .await
                }
            };
            match written {
                Ok(()) => return,
                Err(err) if try_number < RECORD_TRIES => {
                    tracing::warn!(error = %err, id = %row.id, "cannot record a delivery outcome; trying again");
                    tokio::time::sleep(Duration::from_millis(200) * try_number).await;
                }
                Err(err) => {
                    tracing::error!(error = %err, id = %row.id, "cannot record a delivery outcome; the email will be sent again when its lease runs out");
                }
            }
        }
    }

    /// Writes a webhook attempt: the row's state, the answer, and on a final
    /// failure the endpoint disabled; tried a few times like an email's.
    async fn record_webhook(
        &self,
        row: &OutboxRow,
        delivered: bool,
        retry_in: Option<Duration>,
        sent: &Sent,
    ) {
        let max_attempts = self.courier.as_ref().map_or(0, Courier::max_attempts);
        for try_number in 1..=RECORD_TRIES {
            let now = self.clock.now_db();
            let (owned_row, owner, owned_sent) = (row.clone(), self.owner.clone(), sent.clone());
            let written = self
                .db
                .write(move |conn| -> Result<_, DbError> {
                    let (row, sent) = (owned_row, owned_sent);
                    if delivered {
                        outbox::mark_sent(conn, &row.id, &owner, None, now)?;
                    } else {
                        let reason = match &sent.verdict {
                            Verdict::Retry(why) | Verdict::Gone(why) | Verdict::Dropped(why) => {
                                why.clone()
                            }
                            Verdict::Delivered => String::new(),
                        };
                        let retry_at = retry_in.map(|wait| now + span(wait));
                        outbox::mark_attempt_failed(conn, &row.id, &owner, &reason, retry_at, now)?;
                    }
                    let final_failure = !delivered && retry_in.is_none();
                    Ok(courier::settle(
                        conn,
                        &row,
                        &sent,
                        final_failure,
                        max_attempts,
                        now,
                    )?)
                })
                .await;
            match written {
                Ok(disabled) => {
                    if let Some(reason) = disabled {
                        let cause = if matches!(sent.verdict, Verdict::Gone(_)) {
                            "gone"
                        } else {
                            "exhausted"
                        };
                        metrics::counter!("roster_webhook_endpoints_disabled_total", "reason" => cause)
                            .increment(1);
                        tracing::warn!(endpoint = %row.recipient, reason = %reason, "webhook endpoint disabled");
                    }
                    return;
                }
                Err(err) if try_number < RECORD_TRIES => {
                    tracing::warn!(error = %err, id = %row.id, "cannot record a webhook attempt; trying again");
                    tokio::time::sleep(Duration::from_millis(200) * try_number).await;
                }
                Err(err) => {
                    tracing::error!(error = %err, id = %row.id, "cannot record a webhook attempt; it is sent again when its lease runs out");
                }
            }
        }
    }

    async fn report_backlog(&self) {
        let now = self.clock.now_db();
        match self
            .db
            .run(|conn| Ok::<_, DbError>(outbox::backlog(conn)?))
            .await
        {
            Ok((pending, oldest)) => {
                metrics::gauge!("roster_outbox_pending").set(pending as f64);
                let age = oldest.map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
                metrics::gauge!("roster_outbox_oldest_pending_seconds").set(age);
            }
            Err(err) => tracing::debug!(error = %err, "cannot read the outbox backlog"),
        }
        if self.courier.is_none() {
            return;
        }
        match self
            .db
            .run(|conn| Ok::<_, DbError>(outbox::oldest_pending_webhook(conn)?))
            .await
        {
            Ok(oldest) => {
                let lag = oldest.map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
                metrics::gauge!("roster_webhook_lag_seconds").set(lag);
            }
            Err(err) => tracing::debug!(error = %err, "cannot read the webhook backlog"),
        }
    }
}

/// Counts and logs one webhook attempt (`outcome`: sent, retried or failed).
fn report_webhook(
    row: &OutboxRow,
    sent: &Sent,
    outcome: &'static str,
    attempts: u32,
    retry_in: Option<Duration>,
) {
    metrics::counter!("roster_webhook_deliveries_total", "outcome" => outcome).increment(1);
    metrics::histogram!("roster_webhook_attempt_seconds").record(sent.latency.as_secs_f64());
    let event = row.event_id.as_deref().unwrap_or("");
    match &sent.verdict {
        Verdict::Delivered => tracing::info!(
            id = %row.id, event = %event, endpoint = %row.recipient, attempts,
            status = sent.status, latency_ms = sent.latency.as_millis() as u64,
            "webhook delivered"
        ),
        Verdict::Retry(why) | Verdict::Gone(why) | Verdict::Dropped(why) => tracing::warn!(
            id = %row.id, event = %event, endpoint = %row.recipient, attempts, outcome,
            status = sent.status, retry_in = ?retry_in, error = %why,
            "webhook not delivered"
        ),
    }
}

/// The wait before attempt `attempts + 1`: 1 s doubling to a 5-minute cap,
/// scaled by `jitter` (0.8–1.2, i.e. ±20 %), never above the cap.
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF);
    base.mul_f64(jitter.clamp(0.0, 2.0)).min(MAX_BACKOFF)
}

/// When to try again after `err` on attempt number `attempts`, or `None` when
/// the email has failed for good (a permanent error, or no attempts left).
/// Never sooner than the provider's `Retry-After` (up to [`MAX_RETRY_AFTER`]).
pub fn retry_delay(
    err: &SendError,
    attempts: u32,
    max_attempts: u32,
    jitter: f64,
) -> Option<Duration> {
    match err {
        SendError::Retryable { retry_after, .. } if attempts < max_attempts => {
            let asked = retry_after.unwrap_or_default().min(MAX_RETRY_AFTER);
            Some(backoff(attempts, jitter).max(asked))
        }
        _ => None,
    }
}

/// Sent links carry live tokens; what stays in the database must not:
/// every `token=<value>` becomes `token=[redacted]`.
pub fn redact_links(body: &str) -> String {
    const KEY: &str = "token=";
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find(KEY) {
        let (head, tail) = rest.split_at(at + KEY.len());
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '~' | '%'))
            })
            .unwrap_or(tail.len());
        if end > 0 {
            out.push_str("[redacted]");
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A provider's error as it may be logged: no tokens, the recipient masked
/// (providers like to quote the address they refused).
fn loggable(reason: &str, recipient: &str) -> String {
    let reason = redact_links(reason);
    if recipient.is_empty() {
        return reason;
    }
    // ASCII lowercasing keeps byte offsets, so matches map back onto `reason`.
    let (haystack, needle) = (reason.to_ascii_lowercase(), recipient.to_ascii_lowercase());
    let masked = mask(recipient);
    let mut out = String::with_capacity(reason.len());
    let mut from = 0;
    while let Some(at) = haystack[from..].find(&needle) {
        out.push_str(&reason[from..from + at]);
        out.push_str(&masked);
        from += at + needle.len();
    }
    out.push_str(&reason[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retryable(retry_after: Option<Duration>) -> SendError {
        SendError::Retryable {
            reason: "503".into(),
            retry_after,
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_to_a_five_minute_cap() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 1.0), Duration::from_secs(16));
        assert_eq!(backoff(9, 1.0), Duration::from_secs(256));
        assert_eq!(backoff(10, 1.0), Duration::from_secs(300));
        assert_eq!(backoff(12, 1.0), Duration::from_secs(300));
        assert_eq!(backoff(u32::MAX, 1.2), Duration::from_secs(300));
        assert_eq!(backoff(0, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn backoff_jitter_is_twenty_percent_either_way() {
        assert_eq!(backoff(3, 0.8), Duration::from_millis(3200));
        assert_eq!(backoff(3, 1.2), Duration::from_millis(4800));
        assert_eq!(backoff(12, 0.8), Duration::from_secs(240));
        for _ in 0..1000 {
            let wait = backoff(1, rand::thread_rng().gen_range(0.8..=1.2));
            assert!(wait >= Duration::from_millis(800) && wait <= Duration::from_millis(1200));
        }
    }

    #[test]
    fn a_retry_is_never_sooner_than_retry_after() {
        let seven = Duration::from_secs(7);
        assert_eq!(
            retry_delay(&retryable(Some(seven)), 1, 12, 1.0),
            Some(seven)
        );
        assert_eq!(
            retry_delay(&retryable(Some(seven)), 6, 12, 1.0),
            Some(Duration::from_secs(32))
        );
        assert_eq!(
            retry_delay(&retryable(None), 2, 12, 1.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_delay(&retryable(Some(Duration::from_secs(u64::MAX))), 1, 12, 1.0),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn the_last_attempt_or_a_permanent_error_fails_for_good() {
        assert_eq!(retry_delay(&retryable(None), 12, 12, 1.0), None);
        assert_eq!(retry_delay(&retryable(None), 13, 12, 1.0), None);
        assert!(retry_delay(&retryable(None), 11, 12, 1.0).is_some());
        let permanent = SendError::Permanent {
            reason: "422".into(),
        };
        assert_eq!(retry_delay(&permanent, 1, 12, 1.0), None);
    }

    #[test]
    fn links_lose_their_tokens_but_keep_their_shape() {
        let body = "Open https://app.test/activate?token=rat_abc-DEF_123 now.\n<a href=\"https://app.test/reset-password?token=rat_x\">";
        assert_eq!(
            redact_links(body),
            "Open https://app.test/activate?token=[redacted] now.\n<a href=\"https://app.test/reset-password?token=[redacted]\">"
        );
        assert_eq!(
            redact_links("a?token=x&next=1 b?token=y"),
            "a?token=[redacted]&next=1 b?token=[redacted]"
        );
        assert_eq!(redact_links("no links"), "no links");
        assert_eq!(redact_links("token= and token="), "token= and token=");
        assert_eq!(redact_links("ümlaut?token=ä"), "ümlaut?token=ä");
    }

    #[test]
    fn redaction_is_idempotent() {
        let once = redact_links("x?token=rat_abc");
        assert_eq!(redact_links(&once), once);
    }

    #[test]
    fn logged_errors_mask_the_recipient_and_drop_tokens() {
        assert_eq!(
            loggable(
                "422: Invalid 'To' address: 'Jane@Example.com' (token=rat_a)",
                "jane@example.com"
            ),
            "422: Invalid 'To' address: 'j***@example.com' (token=[redacted])"
        );
        assert_eq!(loggable("503", "jane@example.com"), "503");
    }
}
