//! Talking to the university's identity providers.

pub mod oidc;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, Upstream};

pub use oidc::OidcClient;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the identity provider cannot be reached: {0}")]
    Unavailable(String),
    #[error("the identity provider's discovery document is unusable: {0}")]
    Discovery(String),
    #[error("the identity provider answered with an error: {0}")]
    Refused(String),
    #[error("the identity provider's answer failed verification: {0}")]
    Invalid(String),
}

/// All configured upstream IdPs, by id.
pub struct Upstreams {
    oidc: HashMap<String, Arc<OidcClient>>,
}

impl Upstreams {
    pub fn new(config: &Config, http: reqwest::Client) -> Self {
        let oidc = config
            .upstreams
            .iter()
            .map(|upstream| match upstream {
                Upstream::Oidc(o) => {
                    let redirect =
                        config.url(&format!("_sso_bridge/upstream/oidc/{}/callback", o.id));
                    (
                        o.id.clone(),
                        Arc::new(OidcClient::new(o.clone(), redirect, http.clone())),
                    )
                }
            })
            .collect();
        Self { oidc }
    }

    pub fn oidc(&self, id: &str) -> Option<&Arc<OidcClient>> {
        self.oidc.get(id)
    }

    /// Fetches every discovery document once, so problems show in the log at start.
    pub async fn warm_up(&self) {
        for (id, client) in &self.oidc {
            if let Err(e) = client.metadata().await {
                tracing::warn!(upstream = %id, error = %e, "upstream IdP not ready yet; will retry on first login");
            }
        }
    }
}

/// The HTTP client for back-channel calls: never follows redirects, bounded in time.
pub fn back_channel_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(15))
        .user_agent(concat!("sso-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}
