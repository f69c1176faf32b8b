//! The client's address, for per-address rate limits: the peer's address,
//! unless the peer is a trusted reverse proxy, in which case the nearest
//! address in `X-Forwarded-For` that is not itself a trusted proxy. Anything
//! a client can write before the first trusted hop is ignored.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::config::{IpNet, canonical_ip as canonical};

pub fn client_address(
    peer: Option<SocketAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let mut client = canonical(peer?.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(client) {
        return Some(client);
    }
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(client) {
                    break;
                }
            }
            // Garbage in the header: stop at the last address known good.
            Err(_) => break,
        }
    }
    Some(client)
}

/// The key a limit counts under: an IPv4 address, or an IPv6 /64 (one
/// household or host usually holds a whole /64).
pub fn limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", Ipv6Addr::from(network))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 4000))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [IpNet::parse("10.0.0.0/8").unwrap()];
        let at = |p: &str, xff: Option<&str>| {
            client_address(peer(p), xff, &trusted).unwrap().to_string()
        };
        // A client cannot claim another address by itself.
        assert_eq!(at("203.0.113.9", Some("198.51.100.1")), "203.0.113.9");
        // Through the proxy: the nearest untrusted hop, whatever the client prepended.
        assert_eq!(
            at("10.0.0.2", Some("1.2.3.4, 198.51.100.7")),
            "198.51.100.7"
        );
        assert_eq!(
            at("10.0.0.2", Some("198.51.100.7, 10.0.0.3")),
            "198.51.100.7"
        );
        // No header, or garbage: the proxy itself, or the last good hop.
        assert_eq!(at("10.0.0.2", None), "10.0.0.2");
        assert_eq!(at("10.0.0.2", Some("not-an-ip")), "10.0.0.2");
        assert_eq!(at("::ffff:10.0.0.2", Some("198.51.100.8")), "198.51.100.8");
    }

    #[test]
    fn ipv6_counts_per_64() {
        assert_eq!(
            limit_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            limit_key("2001:db8:1:2:bbbb::9".parse().unwrap()),
            "2001:db8:1:2::/64"
        );
        assert_eq!(limit_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
