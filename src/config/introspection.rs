//! `[introspection]`: university services that validate Matrix access tokens
//! through the bridge (RFC 7662 and forward-auth), and the cache in front of
//! the homeservers' `whoami`.

use std::time::Duration;

use serde::Deserialize;

use super::secret::{Secret, SecretSource};
use super::validate::Problems;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntrospectionFile {
    /// How long an active token's answer is reused.
    pub cache_ttl_seconds: u64,
    /// How long an inactive token's answer is reused (short: a token may be new).
    pub inactive_ttl_seconds: u64,
    pub cache_max_entries: u64,
    pub homeserver_timeout_seconds: u64,
    /// A Redis shared by several bridge instances (`redis://host:6379/0`); may hold a password.
    pub redis_url: Option<SecretSource>,
    pub clients: Vec<IntrospectionClientFile>,
}

impl Default for IntrospectionFile {
    fn default() -> Self {
        Self {
            cache_ttl_seconds: 120,
            inactive_ttl_seconds: 10,
            cache_max_entries: 100_000,
            homeserver_timeout_seconds: 5,
            redis_url: None,
            clients: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionClientFile {
    pub id: String,
    pub secret: SecretSource,
    /// Homeserver look-ups (cache misses) this service may cause per second…
    #[serde(default = "default_lookups_per_second")]
    pub lookups_per_second: f64,
    /// …with bursts up to this many.
    #[serde(default = "default_lookup_burst")]
    pub lookup_burst: u32,
}

fn default_lookups_per_second() -> f64 {
    20.0
}

fn default_lookup_burst() -> u32 {
    100
}

#[derive(Debug, Clone)]
pub struct Introspection {
    pub cache_ttl: Duration,
    pub inactive_ttl: Duration,
    pub cache_max_entries: u64,
    pub homeserver_timeout: Duration,
    pub redis_url: Option<Secret>,
    pub clients: Vec<IntrospectionClient>,
}

impl Introspection {
    pub fn client(&self, id: &str) -> Option<&IntrospectionClient> {
        self.clients.iter().find(|c| c.id == id)
    }
}

/// A university service allowed to ask who holds a token.
#[derive(Debug, Clone)]
pub struct IntrospectionClient {
    pub id: String,
    pub secret: Secret,
    pub lookups_per_second: f64,
    pub lookup_burst: u32,
}

pub(super) fn validate(p: &mut Problems, file: IntrospectionFile) -> Introspection {
    let k = |key: &str| format!("introspection.{key}");
    for (key, value, max) in [
        ("cache_ttl_seconds", file.cache_ttl_seconds, 3600),
        ("inactive_ttl_seconds", file.inactive_ttl_seconds, 600),
        (
            "homeserver_timeout_seconds",
            file.homeserver_timeout_seconds,
            60,
        ),
    ] {
        if value == 0 || value > max {
            p.add(
                k(key),
                format!("{value} is out of range"),
                format!("use 1 to {max} seconds"),
            );
        }
    }
    if file.cache_max_entries < 100 {
        p.add(
            k("cache_max_entries"),
            format!("{} is too small to be useful", file.cache_max_entries),
            "use at least 100 (an entry takes about 300 bytes)",
        );
    }
    let redis_url = file.redis_url.as_ref().map(|source| {
        let url = p.secret(&k("redis_url"), source, 1);
        // Parsing only: the connection is made, and remade, when needed.
        if !url.expose().is_empty() && redis::Client::open(url.expose()).is_err() {
            p.add(
                k("redis_url"),
                "not a Redis URL",
                "write redis://host:6379/0 (or redis://:password@host:6379/0)",
            );
        }
        url
    });
    let mut clients: Vec<IntrospectionClient> = Vec::new();
    for (i, c) in file.clients.into_iter().enumerate() {
        let key = |field: &str| format!("introspection.clients[{i}].{field}");
        if !super::validate::valid_id(&c.id) {
            p.add(
                key("id"),
                "must be 1–64 characters of a-z, 0-9, - and _",
                "e.g. \"course-portal\"",
            );
        }
        if clients.iter().any(|other| other.id == c.id) {
            p.add(
                key("id"),
                format!("{:?} is used twice", c.id),
                "give each client its own id",
            );
        }
        let secret = p.secret(&key("secret"), &c.secret, 20);
        if !(c.lookups_per_second.is_finite() && c.lookups_per_second > 0.0) {
            p.add(
                key("lookups_per_second"),
                format!("{} is not a positive rate", c.lookups_per_second),
                "e.g. 20 (homeserver look-ups per second; cached answers do not count)",
            );
        }
        if c.lookup_burst == 0 {
            p.add(key("lookup_burst"), "must be at least 1", "e.g. 100");
        }
        clients.push(IntrospectionClient {
            id: c.id,
            secret,
            lookups_per_second: c.lookups_per_second,
            lookup_burst: c.lookup_burst,
        });
    }
    Introspection {
        cache_ttl: Duration::from_secs(file.cache_ttl_seconds),
        inactive_ttl: Duration::from_secs(file.inactive_ttl_seconds),
        cache_max_entries: file.cache_max_entries,
        homeserver_timeout: Duration::from_secs(file.homeserver_timeout_seconds),
        redis_url,
        clients,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, SAMPLE};

    fn problems(extra: &str) -> String {
        match Config::parse(&format!("{SAMPLE}\n{extra}")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_and_clients() {
        let config = Config::parse(&format!(
            "{SAMPLE}\n[[introspection.clients]]\nid = \"portal\"\nsecret = \"0123456789abcdef0123\"\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let i = &config.introspection;
        assert_eq!(i.cache_ttl.as_secs(), 120);
        assert_eq!(i.inactive_ttl.as_secs(), 10);
        assert!(i.redis_url.is_none());
        let portal = i
            .client("portal")
            .map(|c| (c.lookups_per_second, c.lookup_burst));
        assert_eq!(portal, Some((20.0, 100)));
    }

    #[test]
    fn mistakes_name_their_key() {
        let text = problems(
            "[introspection]\ncache_ttl_seconds = 0\nredis_url = \"http://cache\"\n\
             [[introspection.clients]]\nid = \"Portal!\"\nsecret = \"short\"\nlookups_per_second = -1.0\nlookup_burst = 0\n",
        );
        for key in [
            "`introspection.cache_ttl_seconds`",
            "`introspection.redis_url`: not a Redis URL",
            "`introspection.clients[0].id`",
            "`introspection.clients[0].secret`",
            "`introspection.clients[0].lookups_per_second`",
            "`introspection.clients[0].lookup_burst`",
        ] {
            assert!(text.contains(key), "{key} missing from: {text}");
        }
    }
}
