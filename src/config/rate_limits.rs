//! `[rate_limits]`: requests per client address on the endpoints a flood would
//! hurt, and which reverse proxies may name the client address.

use std::net::IpAddr;

use serde::Deserialize;

use super::validate::Problems;
use crate::rate_limit::Rate;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsFile {
    /// Starting a login, the picker's answer, the bridge's `POST /login`, upstream callbacks.
    pub login: RateFile,
    /// SAML responses posted to the assertion consumer service.
    pub saml_acs: RateFile,
    /// The OpenID Provider's token endpoint (the homeservers' addresses).
    pub token: RateFile,
    /// Failed client authentications at introspection and forward-auth (valid
    /// calls are limited per service, by `[[introspection.clients]]`).
    pub introspection_failures: RateFile,
    /// Addresses or networks (`10.0.0.0/8`) of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Keys (addresses) remembered per limit; beyond, the idlest are forgotten.
    pub max_tracked_addresses: usize,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateFile {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimitsFile {
    fn default() -> Self {
        Self {
            login: RateFile {
                per_second: 1.0,
                burst: 30,
            },
            saml_acs: RateFile {
                per_second: 1.0,
                burst: 30,
            },
            token: RateFile {
                per_second: 20.0,
                burst: 200,
            },
            introspection_failures: RateFile {
                per_second: 0.2,
                burst: 20,
            },
            trusted_proxies: Vec::new(),
            max_tracked_addresses: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub login: Option<Rate>,
    pub saml_acs: Option<Rate>,
    pub token: Option<Rate>,
    pub introspection_failures: Option<Rate>,
    pub trusted_proxies: Vec<IpNet>,
    pub max_tracked_addresses: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        let mut p = Problems::default();
        validate(&mut p, RateLimitsFile::default())
    }
}

/// An address with a prefix length: `10.0.0.0/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (
                addr.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        match (canonical_ip(self.addr), ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub(super) fn validate(p: &mut Problems, file: RateLimitsFile) -> RateLimits {
    let mut rate = |key: &str, r: RateFile| -> Option<Rate> {
        if r.per_second == 0.0 && r.burst == 0 {
            return None; // 0 and 0: no limit.
        }
        if !(r.per_second.is_finite() && r.per_second > 0.0) || r.burst == 0 {
            p.add(
                format!("rate_limits.{key}"),
                format!(
                    "per_second = {}, burst = {} is not a rate",
                    r.per_second, r.burst
                ),
                "give a positive per_second and a burst of at least 1 (or both 0 for no limit)",
            );
            return None;
        }
        Some(Rate {
            per_second: r.per_second,
            burst: r.burst,
        })
    };
    let limits = RateLimits {
        login: rate("login", file.login),
        saml_acs: rate("saml_acs", file.saml_acs),
        token: rate("token", file.token),
        introspection_failures: rate("introspection_failures", file.introspection_failures),
        trusted_proxies: Vec::new(),
        max_tracked_addresses: file.max_tracked_addresses,
    };
    let mut trusted_proxies = Vec::new();
    for (i, proxy) in file.trusted_proxies.iter().enumerate() {
        match IpNet::parse(proxy) {
            Some(net) => trusted_proxies.push(net),
            None => p.add(
                format!("rate_limits.trusted_proxies[{i}]"),
                format!("{proxy:?} is not an address or network"),
                "write an address (10.0.0.5, ::1) or a network (10.0.0.0/8)",
            ),
        }
    }
    if file.max_tracked_addresses < 1000 {
        p.add(
            "rate_limits.max_tracked_addresses",
            format!("{} is too small", file.max_tracked_addresses),
            "use at least 1000 (a tracked address takes about 100 bytes)",
        );
    }
    RateLimits {
        trusted_proxies,
        ..limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_their_addresses_only() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let one = IpNet::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "nope", "10.0.0.1/x", ""] {
            assert_eq!(IpNet::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_rates_and_proxies_are_named() {
        let mut p = Problems::default();
        let file = RateLimitsFile {
            token: RateFile {
                per_second: -1.0,
                burst: 5,
            },
            trusted_proxies: vec!["10.0.0.0/8".into(), "proxy.local".into()],
            ..RateLimitsFile::default()
        };
        let limits = validate(&mut p, file);
        let text = format!("{:?}", p.0);
        assert!(text.contains("rate_limits.token"), "{text}");
        assert!(text.contains("rate_limits.trusted_proxies[1]"), "{text}");
        assert_eq!(limits.trusted_proxies.len(), 1);
        let mut p = Problems::default();
        let file = RateLimitsFile {
            login: RateFile {
                per_second: 0.0,
                burst: 0,
            },
            ..RateLimitsFile::default()
        };
        assert!(validate(&mut p, file).login.is_none() && p.0.is_empty());
    }
}
