//! The throttle of the pages' forms: `ROSTER_AUTH_RATE_LIMIT` posts a minute
//! per client (IPv6 by /56), in each instance's memory, a budget of its own
//! beside `/v1/auth/*`'s. The handlers ask it themselves rather than through
//! a middleware, so that a refusal is explained on the page, form kept.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_governor::governor::clock::{Clock, DefaultClock};
use actix_governor::governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct FormRateLimit(Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>);

impl FormRateLimit {
    /// `per_minute` posts a minute per client, in bursts up to the same
    /// number; 0 turns throttling off.
    pub fn new(per_minute: u32) -> Self {
        FormRateLimit(NonZeroU32::new(per_minute).map(|quota| {
            Arc::new(RateLimiter::keyed(
                Quota::per_minute(quota).allow_burst(quota),
            ))
        }))
    }

    /// Counts a post from `client`: `Err` holds the seconds to wait.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&key_of(client)).map_err(|refused| {
            let wait = refused.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Forgets the clients whose quota has refilled (they carry no
    /// information), every ten seconds until `stopped`.
    pub fn spawn_pruning(
        &self,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let limit = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
                    _ = stopped.changed() => break,
                }
                if let Some(limiter) = &limit.0 {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        })
    }
}

/// One key per IPv4 address, and per /56 of IPv6 (what one customer holds).
fn key_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[7..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_past_the_quota_are_refused_with_a_wait_per_client() {
        let limit = FormRateLimit::new(2);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(limit.check(client), Ok(()));
        assert_eq!(limit.check(client), Ok(()));
        let wait = limit.check(client).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(limit.check("192.0.2.2".parse().unwrap()), Ok(()));
    }

    #[test]
    fn ipv6_clients_count_by_their_56_and_zero_turns_it_off() {
        let limit = FormRateLimit::new(1);
        assert_eq!(limit.check("2001:db8:1:2ff::1".parse().unwrap()), Ok(()));
        assert!(limit.check("2001:db8:1:200::2".parse().unwrap()).is_err());
        let off = FormRateLimit::new(0);
        for _ in 0..100 {
            assert_eq!(off.check("192.0.2.1".parse().unwrap()), Ok(()));
        }
    }
}
