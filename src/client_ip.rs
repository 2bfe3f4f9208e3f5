//! The client's address, for the throttle, the audit log and the logs.
//!
//! It is the TCP peer's address unless the peer is a trusted proxy
//! (`ROSTER_TRUSTED_PROXIES`). Then it is the right-most address of
//! `X-Forwarded-For` (or of the `for=` values of `Forwarded`) that is not a
//! trusted proxy itself: every proxy appends the address it was connected
//! from, so the entries left of the last trusted hop were written by the
//! client and prove nothing. When the headers cannot be read, or a trusted
//! peer sends both and they disagree (a proxy that sets one of them passes the
//! other through from the client), the peer's own address is taken.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, FORWARDED};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use forwarded_header_value::ForwardedHeaderValue;
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The networks whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: &[IpNet]) -> Self {
        TrustedProxies(networks.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // `None`: no such header; `Some(None)`: one that names no client.
        let forwarded_for = |name: &HeaderName, parse: fn(&str) -> Option<Vec<Option<IpAddr>>>| {
            let mut lines = headers.get_all(name).peekable();
            lines.peek()?;
            // Repeated header lines are one list, in order (RFC 9110, 5.3).
            let text: Option<Vec<&str>> = lines.map(|value| value.to_str().ok()).collect();
            Some(
                text.and_then(|lines| parse(&lines.join(",")))
                    .and_then(|chain| self.nearest(&chain)),
            )
        };
        let from_x_forwarded_for = forwarded_for(&X_FORWARDED_FOR, |value| {
            ForwardedHeaderValue::from_x_forwarded_for(value)
                .ok()
                .map(|chain| chain.iter().map(|hop| hop.forwarded_for_ip()).collect())
        });
        let from_forwarded = forwarded_for(&FORWARDED, |value| {
            ForwardedHeaderValue::from_forwarded(value)
                .ok()
                .map(|chain| chain.iter().map(|hop| hop.forwarded_for_ip()).collect())
        });
        match (from_x_forwarded_for, from_forwarded) {
            (Some(Some(client)), None) | (None, Some(Some(client))) => client,
            (Some(Some(a)), Some(Some(b))) if a == b => a,
            _ => peer,
        }
    }

    /// The right-most hop of `chain` (left to right, as sent) that is not a
    /// trusted proxy; the left-most one when all are. `None` when that hop
    /// has no address (`unknown`, an obfuscated name).
    fn nearest(&self, chain: &[Option<IpAddr>]) -> Option<IpAddr> {
        let mut nearest = None;
        for hop in chain.iter().rev() {
            let ip = (*hop)?.to_canonical();
            nearest = Some(ip);
            if !self.trusts(ip) {
                break;
            }
        }
        nearest
    }
}

/// The resolved client address, in the extensions of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Resolves the client address once, before anything logs, with the
/// [`TrustedProxies`] registered as app data (none: the peer is the client).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(peer) = req.peer_addr() {
        let client = match req.app_data::<TrustedProxies>() {
            Some(trusted) => trusted.client(peer.ip(), req.headers()),
            None => peer.ip().to_canonical(),
        };
        req.extensions_mut().insert(ClientIp(client));
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusting(networks: &[&str]) -> TrustedProxies {
        let nets: Vec<IpNet> = networks.iter().map(|n| n.parse().unwrap()).collect();
        TrustedProxies::new(&nets)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let none = TrustedProxies::default();
        let spoofed = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=198.51.100.1"),
        ]);
        assert_eq!(none.client(ip("192.0.2.1"), &spoofed), ip("192.0.2.1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_name_a_client() {
        let trusted = trusting(&["10.0.0.0/8"]);
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(trusted.client(ip("192.0.2.1"), &spoofed), ip("192.0.2.1"));
    }

    #[test]
    fn a_trusted_peer_names_the_right_most_untrusted_hop() {
        let trusted = trusting(&["10.0.0.0/8"]);
        // The client wrote the first entry itself; the proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7")]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &chain), ip("203.0.113.9"));
        let forwarded = headers(&[(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.7",
        )]);
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &forwarded),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn repeated_header_lines_are_one_list() {
        let trusted = trusting(&["10.0.0.0/8"]);
        let lines = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &lines), ip("203.0.113.9"));
    }

    #[test]
    fn a_trusted_peer_without_headers_is_the_client() {
        let trusted = trusting(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        let all_trusted = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.7")]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &all_trusted), ip("10.1.1.1"));
    }

    #[test]
    fn unreadable_or_conflicting_headers_leave_the_peer() {
        let trusted = trusting(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        for bad in [
            headers(&[("x-forwarded-for", "203.0.113.9, not-an-address")]),
            headers(&[("x-forwarded-for", "")]),
            headers(&[("forwarded", "for=unknown")]),
            headers(&[("forwarded", "for=_hidden, for=10.0.0.7")]),
            headers(&[
                ("x-forwarded-for", "203.0.113.9"),
                ("forwarded", "for=198.51.100.1"),
            ]),
        ] {
            assert_eq!(trusted.client(peer, &bad), peer, "{bad:?}");
        }
        let agreeing = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(trusted.client(peer, &agreeing), ip("203.0.113.9"));
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let trusted = trusting(&["127.0.0.1/32"]);
        let chain = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &chain),
            ip("203.0.113.9")
        );
    }
}
