//! Per-client throttling of `/v1/auth/*` (`ROSTER_AUTH_RATE_LIMIT` a minute,
//! in each instance's memory) with a keyed `governor` limiter; refusals are
//! problem+json 429s with `Retry-After`.
//!
//! The limiter keeps one entry per client address it has seen. Entries whose
//! quota has refilled carry no information, so [`AuthRateLimit::spawn_pruning`]
//! drops them every [`PRUNE_INTERVAL`]: the map holds the clients of the last
//! few seconds, not every address that ever connected.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::client_ip::ClientIp;
use crate::error::ApiError;

/// How often clients whose quota has refilled are forgotten.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(10);

/// The throttle shared by every worker; off when built with 0.
#[derive(Clone)]
pub struct AuthRateLimit(Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>);

impl AuthRateLimit {
    /// `per_minute` requests a minute per client, in bursts up to the same
    /// number; 0 turns throttling off.
    pub fn new(per_minute: u32) -> Self {
        AuthRateLimit(
            NonZeroU32::new(per_minute)
                .map(|per_minute| Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute)))),
        )
    }

    /// The addresses the limiter holds an entry for (the metric
    /// `roster_auth_throttle_clients`).
    pub fn tracked_clients(&self) -> usize {
        self.0.as_ref().map_or(0, |limiter| limiter.len())
    }

    /// Forgets the clients whose quota has refilled, and gives the memory
    /// back.
    pub fn forget_idle_clients(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Prunes every [`PRUNE_INTERVAL`] until `stopped`.
    pub fn spawn_pruning(
        &self,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let throttle = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(PRUNE_INTERVAL) => {}
                    _ = stopped.changed() => break,
                }
                throttle.forget_idle_clients();
            }
        })
    }

    /// Counts a request from `client` (IPv6 by /56): `Err` holds the
    /// seconds to wait. The account pages' forms ask this themselves, so
    /// that a refusal is explained on the page.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(&key_of(client)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// The middleware: `from_fn(move |req, next| limit.clone().admit(req, next))`.
    pub async fn admit<B: MessageBody>(
        self,
        req: ServiceRequest,
        next: Next<B>,
    ) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
        match self.check(client_ip(&req)) {
            Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
            Err(retry_after_secs) => {
                let refusal = ApiError::TooManyRequests { retry_after_secs }.error_response();
                Ok(req.into_response(refusal).map_into_right_body())
            }
        }
    }
}

/// The client address that [`crate::client_ip`] resolved (the peer's, or the
/// forwarded one behind a trusted proxy). Without a resolved one, the peer's;
/// without that, one shared key.
fn client_ip(req: &ServiceRequest) -> IpAddr {
    let resolved = req.extensions().get::<ClientIp>().map(|client| client.0);
    resolved
        .or_else(|| req.peer_addr().map(|socket| socket.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
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
    use actix_web::test::TestRequest;

    #[test]
    fn the_key_is_the_resolved_client_and_ipv6_counts_by_56() {
        let req = TestRequest::default()
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .to_srv_request();
        assert_eq!(key_of(client_ip(&req)).to_string(), "127.0.0.1");
        req.extensions_mut()
            .insert(ClientIp("2001:db8:1:2ff:1:2:3:4".parse().unwrap()));
        assert_eq!(key_of(client_ip(&req)).to_string(), "2001:db8:1:200::");
    }

    #[test]
    fn a_check_past_the_quota_names_the_wait_and_counts_per_client() {
        let throttle = AuthRateLimit::new(2);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(throttle.check(client), Ok(()));
        assert_eq!(throttle.check(client), Ok(()));
        let wait = throttle.check(client).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(throttle.check("192.0.2.2".parse().unwrap()), Ok(()));
        let off = AuthRateLimit::new(0);
        for _ in 0..100 {
            assert_eq!(off.check(client), Ok(()));
        }
    }

    #[test]
    fn clients_whose_quota_refilled_are_forgotten_and_the_others_kept() {
        let throttle = AuthRateLimit::new(600);
        let limiter = throttle.0.as_ref().unwrap();
        for last in 0..=255u8 {
            limiter.check_key(&IpAddr::from([10, 0, 0, last])).unwrap();
        }
        assert_eq!(throttle.tracked_clients(), 256);
        // Ten requests a second: one request's worth refills in 100 ms.
        std::thread::sleep(Duration::from_millis(250));
        limiter.check_key(&IpAddr::from([10, 0, 1, 0])).unwrap();
        throttle.forget_idle_clients();
        assert_eq!(throttle.tracked_clients(), 1);
    }

    #[test]
    fn a_limit_of_zero_tracks_nobody() {
        let throttle = AuthRateLimit::new(0);
        throttle.forget_idle_clients();
        assert_eq!(throttle.tracked_clients(), 0);
    }
}
