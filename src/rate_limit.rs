//! Per-client-IP throttling of `/v1/auth/*` (`ROSTER_AUTH_RATE_LIMIT` a
//! minute, in each instance's memory), with actix-governor; refusals are
//! problem+json 429s with `Retry-After`.

use std::net::IpAddr;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpMessage, HttpResponse, HttpResponseBuilder, ResponseError};

use crate::client_ip::ClientIp;
use crate::error::ApiError;

/// The client address that [`crate::client_ip`] resolved (the peer's, or the
/// forwarded one behind a trusted proxy), IPv6 by /56 prefix. Without a
/// resolved one, the peer's.
#[derive(Clone, Copy)]
pub struct ClientKey;

impl ClientKey {
    fn of(ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[7..].fill(0);
                IpAddr::V6(octets.into())
            }
            v4 => v4,
        }
    }
}

impl KeyExtractor for ClientKey {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        let resolved = req.extensions().get::<ClientIp>().map(|client| client.0);
        let ip = resolved
            .or_else(|| req.peer_addr().map(|socket| socket.ip()))
            .ok_or_else(|| SimpleKeyExtractionError::new("no peer address"))?;
        Ok(Self::of(ip))
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

pub type AuthLimiter = Governor<ClientKey, NoOpMiddleware<QuantaInstant>>;

/// The shared limiter state, built once and cloned into every worker.
#[derive(Clone)]
pub struct AuthRateLimit(GovernorConfig<ClientKey, NoOpMiddleware<QuantaInstant>>);

impl AuthRateLimit {
    /// `per_minute` requests a minute per client, in bursts up to the same
    /// number; 0 turns throttling off.
    pub fn new(per_minute: u32) -> Self {
        let config = GovernorConfigBuilder::default()
            .requests_per_minute(u64::from(per_minute.max(1)))
            .burst_size(per_minute.max(1))
            .permissive(per_minute == 0)
            .key_extractor(ClientKey)
            .finish()
            .expect("a positive quota is a valid governor configuration");
        AuthRateLimit(config)
    }

    pub fn middleware(&self) -> AuthLimiter {
        Governor::new(&self.0)
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
        assert_eq!(ClientKey.extract(&req).unwrap().to_string(), "127.0.0.1");
        req.extensions_mut()
            .insert(ClientIp("2001:db8:1:2ff:1:2:3:4".parse().unwrap()));
        assert_eq!(
            ClientKey.extract(&req).unwrap().to_string(),
            "2001:db8:1:200::"
        );
        let req = TestRequest::default().to_srv_request();
        assert!(ClientKey.extract(&req).is_err());
    }
}
