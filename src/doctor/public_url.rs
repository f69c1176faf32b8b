//! The bridge at its public base URL: what the departments' homeservers use as
//! their OIDC issuer must answer with exactly that issuer.

use super::http::get_json;
use super::report::Check;
use crate::config::Config;

/// The check, and whether a bridge answered there (later checks need it).
pub async fn check(http: &reqwest::Client, config: &Config) -> (Check, bool) {
    let subject = format!("public base URL {}", config.public_base_url);
    let url = config.url(".well-known/openid-configuration");
    let document = match get_json(http, url.as_str()).await {
        Ok(d) => d,
        Err(e) => {
            return (
                Check::warn(
                    subject,
                    format!("the bridge does not answer: {e}"),
                    "start it (`sso-bridge serve`) and check the DNS name, TLS certificate and reverse proxy in front of it; homeservers cannot log anyone in meanwhile",
                ),
                false,
            );
        }
    };
    match document.get("issuer").and_then(|i| i.as_str()) {
        Some(issuer) if issuer == config.issuer() => (
            Check::ok(subject, format!("{url} answers with issuer {issuer}")),
            true,
        ),
        found => (
            Check::fail(
                subject,
                format!(
                    "{url} answers with issuer {}, not {}: something else (or a bridge with another config) is served there",
                    found.map_or("(none)".to_owned(), |i| format!("{i:?}")),
                    config.issuer()
                ),
                "serve this config at this address, or correct `public_base_url` (homeservers check the issuer)",
            ),
            false,
        ),
    }
}
