//! Per-client-IP throttling of `/v1/auth/*` (`ROSTER_AUTH_RATE_LIMIT` a
//! minute), with actix-governor; refusals are problem+json 429s with
//! `Retry-After`.

use std::net::IpAddr;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};

use crate::error::ApiError;

/// The peer address (IPv6 by /56 prefix). Behind a proxy, every client
/// shares the proxy's address: size the limit for that, or turn it off (0).
#[derive(Clone, Copy)]
pub struct ClientIp;

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        let ip = req
            .peer_addr()
            .map(|socket| socket.ip())
            .ok_or_else(|| SimpleKeyExtractionError::new("no peer address"))?;
        Ok(match ip {
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[7..].fill(0);
                IpAddr::V6(octets.into())
            }
            v4 => v4,
        })
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::TooManyRequests {
            retry_after_secs: retry_after_secs.max(1),
        }
        .error_response()
    }
}

pub type AuthLimiter = Governor<ClientIp, NoOpMiddleware<QuantaInstant>>;

/// The shared limiter state, built once and cloned into every worker.
#[derive(Clone)]
pub struct AuthRateLimit(GovernorConfig<ClientIp, NoOpMiddleware<QuantaInstant>>);

impl AuthRateLimit {
    /// `per_minute` requests a minute per client, in bursts up to the same
    /// number; 0 turns throttling off.
    pub fn new(per_minute: u32) -> Self {
        let config = GovernorConfigBuilder::default()
            .requests_per_minute(u64::from(per_minute.max(1)))
            .burst_size(per_minute.max(1))
            .permissive(per_minute == 0)
            .key_extractor(ClientIp)
            .finish()
            .expect("a positive quota is a valid governor configuration");
        AuthRateLimit(config)
    }

    pub fn middleware(&self) -> AuthLimiter {
        Governor::new(&self.0)
    }
}
