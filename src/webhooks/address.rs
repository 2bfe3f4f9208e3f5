//! Where a webhook may go: an `https` URL whose host resolves only to
//! public addresses. Checked when an endpoint is saved and again at each
//! delivery, where the addresses checked are the ones connected to (the
//! sender's resolver hands out nothing else), so a name that changes its
//! answer between the check and the connection (DNS rebinding) gains
//! nothing. `ROSTER_WEBHOOK_ALLOW_PRIVATE` lifts both rules.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// How long a name lookup may take (a request that saves an endpoint waits for it).
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("is not an absolute http(s) URL")]
    Malformed,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a user name or password")]
    Credentials,
    #[error("resolves to {0}, a loopback, private, link-local or metadata address")]
    Internal(IpAddr),
    #[error("does not resolve: {0}")]
    Unresolvable(String),
}

/// Parses a URL as an endpoint may use it (the form only, no lookup).
pub fn parse(raw: &str, allow_private: bool) -> Result<Url, AddressError> {
    let url = Url::parse(raw.trim()).map_err(|_| AddressError::Malformed)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(AddressError::NotHttps),
        _ => return Err(AddressError::Malformed),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(AddressError::Malformed);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AddressError::Credentials);
    }
    Ok(url)
}

/// The addresses `host:port` resolves to, all of them public (or any, when
/// private ones are allowed); an error names the first that is not.
pub async fn resolve(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, AddressError> {
    let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)));
    let found: Vec<SocketAddr> = lookup
        .await
        .map_err(|_| AddressError::Unresolvable("the lookup timed out".into()))?
        .map_err(|err| AddressError::Unresolvable(err.to_string()))?
        .collect();
    if found.is_empty() {
        return Err(AddressError::Unresolvable("no addresses".into()));
    }
    if !allow_private {
        if let Some(bad) = found.iter().find(|addr| is_internal(addr.ip())) {
            return Err(AddressError::Internal(bad.ip()));
        }
    }
    Ok(found)
}

/// Checks a parsed URL's host now: an address literal by itself, a name by
/// what it resolves to.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), AddressError> {
    let port = url.port_or_known_default().unwrap_or(443);
    match url.host() {
        Some(url::Host::Ipv4(ip)) => literal(IpAddr::V4(ip), allow_private),
        Some(url::Host::Ipv6(ip)) => literal(IpAddr::V6(ip), allow_private),
        Some(url::Host::Domain(name)) => resolve(name, port, allow_private).await.map(drop),
        None => Err(AddressError::Malformed),
    }
}

fn literal(ip: IpAddr, allow_private: bool) -> Result<(), AddressError> {
    if !allow_private && is_internal(ip) {
        Err(AddressError::Internal(ip))
    } else {
        Ok(())
    }
}

/// Loopback, private, link-local (cloud metadata lives at 169.254.169.254
/// and fd00:ec2::254), shared (100.64/10, another metadata range),
/// unspecified, multicast, broadcast or reserved.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || a >= 240
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // NAT64 and IPv4-compatible forms reach IPv4 addresses.
        || (ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            && internal_v4(Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)))
        || (ip.segments()[..6] == [0, 0, 0, 0, 0, 0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(ip: &str) -> bool {
        is_internal(ip.parse().unwrap())
    }

    #[test]
    fn internal_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "224.0.0.1",
        ] {
            assert!(internal(ip), "{ip} should be internal");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!internal(ip), "{ip} should be public");
        }
    }

    #[test]
    fn only_https_urls_without_credentials_are_taken() {
        assert!(parse("https://hooks.example.com/x", false).is_ok());
        assert_eq!(
            parse("http://hooks.example.com/x", false),
            Err(AddressError::NotHttps)
        );
        assert!(parse("http://127.0.0.1:8080/x", true).is_ok());
        assert_eq!(
            parse("https://u:p@hooks.example.com", false),
            Err(AddressError::Credentials)
        );
        assert_eq!(parse("ftp://x", true), Err(AddressError::Malformed));
        assert_eq!(parse("not a url", true), Err(AddressError::Malformed));
    }

    #[tokio::test]
    async fn literal_and_resolved_internal_hosts_are_refused() {
        let url = parse("https://127.0.0.1/hook", false).unwrap();
        assert!(matches!(
            check(&url, false).await,
            Err(AddressError::Internal(_))
        ));
        let url = parse("https://[::1]/hook", false).unwrap();
        assert!(check(&url, false).await.is_err());
        let url = parse("https://localhost/hook", false).unwrap();
        assert!(check(&url, false).await.is_err());
        assert!(check(&url, true).await.is_ok());
    }
}
