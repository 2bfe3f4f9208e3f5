//! The delivery worker: claims due outbox rows under a lease (safe with many
//! instances on one database; a crashed sender's rows come back when its
//! lease runs out), sends them through the provider, and records the outcome
//! with capped exponential backoff.

use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;

use super::providers::{Delivered, Mailer, OutgoingEmail, SendError};
use crate::clock::{span, Clock};
use crate::config::MailSettings;
use crate::db::outbox::{self, OutboxRow};
use crate::db::Db;
use crate::domain::email::mask;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub struct DeliveryWorker {
    db: Db,
    mailer: Mailer,
    settings: MailSettings,
    clock: Clock,
    owner: String,
}

impl DeliveryWorker {
    /// Runs until `shutdown` turns true; in-flight sends finish first.
    pub fn spawn(
        db: Db,
        mailer: Mailer,
        settings: MailSettings,
        clock: Clock,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let worker = DeliveryWorker {
            db,
            mailer,
            settings,
            clock,
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
        };
        tokio::spawn(async move {
            loop {
                let sent = worker.run_once().await;
                if *shutdown.borrow() {
                    break;
                }
                // A full batch means more may be waiting: go again at once.
                if sent < worker.settings.concurrency {
                    tokio::select! {
                        _ = tokio::time::sleep(worker.settings.poll_interval) => {}
                        _ = shutdown.changed() => break,
                    }
                }
            }
        })
    }

    /// Claims and sends one batch; returns how many rows it handled.
    pub async fn run_once(&self) -> usize {
        self.report_backlog().await;
        let batch = match self.claim().await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim emails; will retry");
                return 0;
            }
        };
        let count = batch.len();
        futures_util::future::join_all(batch.iter().map(|row| self.deliver(row))).await;
        count
    }

    async fn claim(&self) -> Result<Vec<OutboxRow>, crate::error::ApiError> {
        let now = self.clock.now_db();
        let lease = now + span(self.settings.timeout * 2 + Duration::from_secs(30));
        let limit = i64::try_from(self.settings.concurrency).unwrap_or(1);
        let owner = self.owner.clone();
        self.db
            .write(move |conn| Ok(outbox::claim_due(conn, &owner, now, lease, limit)?))
            .await
    }

    async fn deliver(&self, row: &OutboxRow) {
        let email = OutgoingEmail {
            id: &row.id,
            kind: &row.kind,
            to: &row.recipient,
            subject: &row.subject,
            text: &row.text_body,
            html: &row.html_body,
        };
        let outcome = self.mailer.send(&email).await;
        let attempts = u32::try_from(row.attempts).unwrap_or(0) + 1;
        if let Err(err) = self.record(row, outcome.clone(), attempts).await {
            // The lease expires and another round sends it again.
            tracing::warn!(error = %err, id = %row.id, "cannot record a delivery outcome");
        }
        let label = match &outcome {
            Ok(_) => "sent",
            Err(SendError::Retryable { .. }) if attempts < self.settings.max_attempts => "retried",
            Err(_) => "failed",
        };
        metrics::counter!("roster_emails_total", "outcome" => label, "kind" => row.kind.clone())
            .increment(1);
        match outcome {
            Ok(_) => {
                tracing::info!(id = %row.id, kind = %row.kind, to = %mask(&row.recipient), "email sent")
            }
            Err(err) => {
                tracing::warn!(id = %row.id, kind = %row.kind, to = %mask(&row.recipient), attempts, outcome = label, error = %err, "email not sent")
            }
        }
    }

    async fn record(
        &self,
        row: &OutboxRow,
        outcome: Result<Delivered, SendError>,
        attempts: u32,
    ) -> Result<(), crate::error::ApiError> {
        let now = self.clock.now_db();
        let (id, owner) = (row.id.clone(), self.owner.clone());
        match outcome {
            Ok(delivered) => {
                let (text, html) = (redact_links(&row.text_body), redact_links(&row.html_body));
                self.db
                    .write(move |conn| {
                        outbox::mark_sent(
                            conn,
                            &id,
                            &owner,
                            delivered.provider_message_id.as_deref(),
                            now,
                        )?;
                        outbox::redact_bodies(conn, &id, &text, &html)?;
                        Ok(())
                    })
                    .await
            }
            Err(err) => {
                let retry_at = match &err {
                    SendError::Retryable { retry_after, .. }
                        if attempts < self.settings.max_attempts =>
                    {
                        let wait = backoff(attempts, rand::thread_rng().gen_range(0.8..1.2));
                        Some(now + span(wait.max(retry_after.unwrap_or_default())))
                    }
                    _ => None,
                };
                let reason = err.to_string();
                self.db
                    .write(move |conn| {
                        Ok(outbox::mark_attempt_failed(
                            conn, &id, &owner, &reason, retry_at, now,
                        )?)
                    })
                    .await
            }
        }
    }

    async fn report_backlog(&self) {
        let now = self.clock.now_db();
        if let Ok((pending, oldest)) = self.db.run(|conn| Ok(outbox::backlog(conn)?)).await {
            metrics::gauge!("roster_outbox_pending").set(pending as f64);
            let age = oldest.map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
            metrics::gauge!("roster_outbox_oldest_pending_seconds").set(age);
        }
    }
}

/// The wait before attempt `attempts + 1`: 1 s doubling to a 5-minute cap,
/// scaled by `jitter` (about 0.8–1.2).
pub fn backoff(attempts: u32, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF);
    base.mul_f64(jitter).min(MAX_BACKOFF)
}

/// Sent links carry live tokens; what stays in the database must not.
pub fn redact_links(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("token=") {
        let (head, tail) = rest.split_at(at + "token=".len());
        out.push_str(head);
        out.push_str("[redacted]");
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_a_five_minute_cap() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 1.0), Duration::from_secs(16));
        assert_eq!(backoff(12, 1.0), Duration::from_secs(300));
        assert_eq!(backoff(40, 1.2), Duration::from_secs(300));
        assert_eq!(backoff(3, 0.8), Duration::from_millis(3200));
    }

    #[test]
    fn links_lose_their_tokens_but_keep_their_shape() {
        let body = "Open https://app.test/activate?token=rat_abc-DEF_123 now.\n<a href=\"https://app.test/reset-password?token=rat_x\">";
        assert_eq!(
            redact_links(body),
            "Open https://app.test/activate?token=[redacted] now.\n<a href=\"https://app.test/reset-password?token=[redacted]\">"
        );
        assert_eq!(redact_links("no links"), "no links");
    }
}
