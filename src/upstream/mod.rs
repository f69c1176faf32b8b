//! Talking to the university's identity providers.

pub mod oidc;
pub mod saml;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, Upstream};
use crate::routes;

pub use oidc::OidcClient;
pub use saml::SamlIdp;

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
    saml: HashMap<String, Arc<SamlIdp>>,
}

/// One upstream, whatever its protocol.
pub enum UpstreamClient<'a> {
    Oidc(&'a Arc<OidcClient>),
    Saml(&'a Arc<SamlIdp>),
}

impl Upstreams {
    /// Builds every client; a SAML IdP's metadata is read now, and an IdP whose
    /// metadata has no signing certificate stops the start.
    pub async fn load(config: &Config, http: reqwest::Client) -> anyhow::Result<Self> {
        let mut oidc = HashMap::new();
        let mut saml = HashMap::new();
        for upstream in &config.upstreams {
            match upstream {
                Upstream::Oidc(o) => {
                    let redirect = config.url(&routes::oidc_callback(&o.id));
                    oidc.insert(
                        o.id.clone(),
                        Arc::new(OidcClient::new(o.clone(), redirect, http.clone())),
                    );
                }
                Upstream::Saml(s) => {
                    let acs = config.url(&routes::saml_acs(&s.id));
                    let slo = config.url(&routes::saml_slo(&s.id));
                    let metadata = config.url(&routes::saml_metadata(&s.id));
                    let idp =
                        SamlIdp::load((**s).clone(), acs, slo, metadata, http.clone()).await?;
                    saml.insert(s.id.clone(), Arc::new(idp));
                }
            }
        }
        Ok(Self { oidc, saml })
    }

    pub fn get(&self, id: &str) -> Option<UpstreamClient<'_>> {
        self.oidc
            .get(id)
            .map(UpstreamClient::Oidc)
            .or_else(|| self.saml.get(id).map(UpstreamClient::Saml))
    }

    pub fn oidc(&self, id: &str) -> Option<&Arc<OidcClient>> {
        self.oidc.get(id)
    }

    pub fn saml(&self, id: &str) -> Option<&Arc<SamlIdp>> {
        self.saml.get(id)
    }

    /// Changes whenever any IdP's metadata changes: what is derived from the
    /// metadata (the picker's `form-action`) is rebuilt only then.
    pub fn generation(&self) -> u64 {
        let oidc: u64 = self.oidc.values().map(|c| c.generation()).sum();
        let saml: u64 = self.saml.values().map(|i| i.generation()).sum();
        oidc.wrapping_add(saml)
    }

    /// The origins of every IdP's login page (see `login_origin`), without fetching.
    pub async fn login_origins(&self) -> Vec<url::Origin> {
        let mut origins = Vec::new();
        for client in self.oidc.values() {
            origins.extend(client.login_origin().await);
        }
        for idp in self.saml.values() {
            origins.extend(idp.login_origin().await);
        }
        origins
    }

    /// Re-reads SAML metadata that is due; failures keep the last good copy.
    pub async fn refresh_saml_metadata(&self) -> Vec<(String, Result<bool, String>)> {
        let mut results = Vec::new();
        for (id, idp) in &self.saml {
            results.push((id.clone(), idp.refresh_if_due().await));
        }
        results
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
