//! The service's notion of "now", shiftable so tests can prove expiry and
//! dormancy without waiting. Production never shifts it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime, PrimitiveDateTime};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The current UTC time, to the microsecond (what both databases store).
    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc()
            + Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        now.replace_nanosecond(now.microsecond() * 1_000)
            .expect("microseconds fit in nanoseconds")
    }

    /// "Now" as stored in a `TIMESTAMP` column (UTC, no offset).
    pub fn now_db(&self) -> PrimitiveDateTime {
        to_db(self.now())
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

pub fn to_db(at: OffsetDateTime) -> PrimitiveDateTime {
    let utc = at.to_offset(time::UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

pub fn from_db(at: PrimitiveDateTime) -> OffsetDateTime {
    at.assume_utc()
}

/// A std duration as a `time` duration, saturating.
pub fn span(d: std::time::Duration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_clone_moves_the_original() {
        let clock = Clock::default();
        let before = clock.now();
        clock.clone().advance(std::time::Duration::from_secs(3600));
        assert!(clock.now() - before >= Duration::hours(1));
    }

    #[test]
    fn now_has_microsecond_precision() {
        assert_eq!(Clock::default().now().nanosecond() % 1_000, 0);
    }
}
