//! `[metrics]`: where Prometheus reads `/metrics`. Never on the public listener
//! for anyone: on a listener of its own, or behind a bearer token, or off.

use std::net::SocketAddr;

use serde::Deserialize;

use super::secret::{Secret, SecretSource};
use super::validate::Problems;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// A listener for `/metrics` alone, e.g. "127.0.0.1:9464" (not reachable
    /// through the public reverse proxy).
    pub listen: Option<String>,
    /// With it, `/metrics` needs `Authorization: Bearer <token>`; without
    /// `listen`, it is then served on the main listener.
    pub bearer_token: Option<SecretSource>,
}

#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub listen: Option<SocketAddr>,
    pub bearer_token: Option<Secret>,
}

impl Metrics {
    /// Whether the main listener serves `/metrics` (behind the token).
    pub fn on_main_listener(&self) -> bool {
        self.listen.is_none() && self.bearer_token.is_some()
    }
}

pub(super) fn validate(p: &mut Problems, file: MetricsFile, main: SocketAddr) -> Metrics {
    let listen = file
        .listen
        .and_then(|listen| match listen.parse::<SocketAddr>() {
            Ok(address) if address == main => {
                p.add(
                    "metrics.listen",
                    format!("{listen:?} is the main listener"),
                    "give another port (e.g. 9464), or remove the key and set metrics.bearer_token",
                );
                None
            }
            Ok(address) => Some(address),
            Err(_) => {
                p.add(
                    "metrics.listen",
                    format!("{listen:?} is not an address:port"),
                    "write e.g. \"127.0.0.1:9464\"",
                );
                None
            }
        });
    let bearer_token = file
        .bearer_token
        .map(|source| p.secret("metrics.bearer_token", &source, 16));
    Metrics {
        listen,
        bearer_token,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, SAMPLE};

    #[test]
    fn metrics_are_off_by_default_and_never_on_the_main_listener_unguarded() {
        let config = Config::parse(SAMPLE).unwrap();
        assert!(config.metrics.listen.is_none() && !config.metrics.on_main_listener());
        let token = Config::parse(&format!(
            "{SAMPLE}\n[metrics]\nbearer_token = \"0123456789abcdef\"\n"
        ))
        .unwrap();
        assert!(token.metrics.on_main_listener());
        let own = Config::parse(&format!(
            "{SAMPLE}\n[metrics]\nlisten = \"127.0.0.1:9464\"\nbearer_token = \"0123456789abcdef\"\n"
        ))
        .unwrap();
        assert!(!own.metrics.on_main_listener(), "its own listener only");
    }

    #[test]
    fn the_main_listener_a_bad_address_or_a_short_token_names_its_key() {
        for (metrics, needle) in [
            ("listen = \"127.0.0.1:8008\"", "is the main listener"),
            ("listen = \"nine\"", "is not an address:port"),
            ("bearer_token = \"short\"", "`metrics.bearer_token`"),
        ] {
            let err = Config::parse(&format!("{SAMPLE}\n[metrics]\n{metrics}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
    }
}
