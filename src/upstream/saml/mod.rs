//! The SAML2 service provider for one upstream IdP: IdP metadata (file or URL,
//! refreshed), AuthnRequests over HTTP-Redirect, and fail-closed validation of
//! the responses posted to the ACS, in this order:
//!
//! 1. `precheck`: shape limits on the raw bytes, one parse, the envelope, and the
//!    signature `profile`, all before any cryptography;
//! 2. `xmldsig`: each signature verified with a key from the metadata, in an
//!    xmlsec context that can follow nothing but the profile's own reference;
//! 3. samael reads only what the signature covers, and checks the conditions;
//! 4. `mapping`: audience, claims, subject.
//!
//! Steps 1 to 4 run on the bounded `pool`; `verify` runs steps 2 to 4, `metadata`
//! reads the IdP's metadata, `error` names every refusal.

mod error;
mod limits;
mod logout;
mod mapping;
mod metadata;
mod pool;
mod precheck;
mod profile;
mod verify;
use sso_bridge_sys::xmldsig;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use samael::crypto::CertificateDer;
use tokio::sync::RwLock;
use url::Url;

use super::UpstreamError;
use crate::config::{MetadataSource, SamlUpstream};
use crate::identity::UpstreamIdentity;
pub use error::SamlError;
use error::{rejection, shown, unparsable};
pub use logout::{LogoutBinding, VerifiedLogoutRequest};
use mapping::MappingRules;
use metadata::{Loaded, build, fetch_metadata};
pub use precheck::Prechecked;
use verify::Check;

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A verified assertion, ready for mapping and the replay cache.
#[derive(Debug)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    /// Until when the replay cache must remember the assertion.
    pub expires_at: i64,
    pub identity: UpstreamIdentity,
}

pub struct SamlIdp {
    config: SamlUpstream,
    acs_url: Url,
    /// Our SingleLogoutService (both bindings).
    slo_url: Url,
    metadata_url: Url,
    key: PKey<Private>,
    certificate: CertificateDer,
    http: reqwest::Client,
    /// The metadata in use; `None` while an IdP whose metadata URL did not
    /// answer at start has not answered since (its departments are refused
    /// with a clear page, every other department works).
    loaded: RwLock<Option<Arc<Loaded>>>,
    /// When the metadata was last tried while missing, and how often in a row.
    retry: std::sync::Mutex<Retry>,
    /// Counts loads of the metadata, so what is derived from it can be cached.
    generation: std::sync::atomic::AtomicU64,
}

/// Retries of missing metadata: 5 s after the first failure, doubling up to a minute.
struct Retry {
    last_try: Instant,
    failures: u32,
}

impl Retry {
    fn due(&self) -> bool {
        let doublings = self.failures.saturating_sub(1).min(4);
        let wait = (5u64 << doublings).min(60);
        self.last_try.elapsed() >= Duration::from_secs(wait)
    }
}

impl SamlIdp {
    /// Reads the IdP's metadata and refuses an IdP without a signing
    /// certificate. Metadata from a file must be good now (it is the operator's
    /// to fix); metadata from a URL that fails is logged and tried again, so
    /// one IdP being down at start does not stop the other departments.
    pub async fn load(
        config: SamlUpstream,
        acs_url: Url,
        slo_url: Url,
        metadata_url: Url,
        http: reqwest::Client,
    ) -> anyhow::Result<Self> {
        let key = PKey::private_key_from_pem(config.sp_private_key_pem.expose().as_bytes())
            .map_err(|e| {
                anyhow::anyhow!(
                    "upstream {}: sp_private_key is not a usable PEM key: {e}",
                    config.id
                )
            })?;
        let certificate = X509::from_pem(config.sp_certificate_pem.as_bytes())
            .and_then(|c| c.to_der())
            .map_err(|e| {
                anyhow::anyhow!(
                    "upstream {}: sp_certificate_file is not a usable PEM certificate: {e}",
                    config.id
                )
            })?;
        let loaded = match fetch_metadata(&config.metadata, &http)
            .await
            .and_then(|xml| build(&config, &acs_url, &metadata_url, &key, &certificate, &xml))
        {
            Ok(loaded) => Some(Arc::new(loaded)),
            Err(error) if matches!(config.metadata, MetadataSource::Url(_)) => {
                tracing::error!(
                    upstream = %config.id,
                    %error,
                    "SAML IdP metadata unavailable at start; its departments are refused until it loads (retried every few seconds)"
                );
                None
            }
            Err(error) => return Err(anyhow::anyhow!("upstream {}: {error}", config.id)),
        };
        let failures = u32::from(loaded.is_none());
        Ok(Self {
            config,
            acs_url,
            slo_url,
            metadata_url,
            key,
            certificate: certificate.into(),
            http,
            loaded: RwLock::new(loaded),
            retry: std::sync::Mutex::new(Retry {
                last_try: Instant::now(),
                failures,
            }),
            generation: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many times the metadata loaded here (see `Upstreams::generation`).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the metadata is loaded, so logins can be sent to this IdP.
    pub async fn is_available(&self) -> bool {
        self.loaded.read().await.is_some()
    }

    /// The origin of the IdP's SSO URL (its login page), for the picker's CSP
    /// `form-action`; none while the metadata has not loaded.
    pub async fn login_origin(&self) -> Option<url::Origin> {
        let loaded = self.current().await?;
        Url::parse(&loaded.sso_url).ok().map(|u| u.origin())
    }

    async fn current(&self) -> Option<Arc<Loaded>> {
        self.loaded.read().await.clone()
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn entity_id(&self) -> &str {
        &self.config.sp_entity_id
    }

    pub fn clock_skew(&self) -> i64 {
        self.config.clock_skew_seconds
    }

    /// Where IdP-initiated logins land; `None` means they are refused.
    pub fn unsolicited_redirect_url(&self) -> Option<&Url> {
        self.config.unsolicited_redirect_url.as_ref()
    }

    /// Re-reads the metadata when it is older than the configured interval, or
    /// when it is missing and the next retry is due; a failed refresh keeps the
    /// last good copy (the caller logs and counts it).
    pub async fn refresh_if_due(&self) -> Result<bool, String> {
        let due = match self.current().await {
            Some(loaded) => {
                loaded.fetched.elapsed()
                    >= Duration::from_secs(self.config.metadata_refresh_seconds)
            }
            None => self.retry.lock().is_ok_and(|retry| retry.due()),
        };
        if !due {
            return Ok(false);
        }
        let result = self.refresh_now().await;
        if let Ok(mut retry) = self.retry.lock() {
            retry.last_try = Instant::now();
            retry.failures = if result.is_ok() {
                0
            } else {
                retry.failures.saturating_add(1)
            };
        }
        result.map(|()| true)
    }

    /// Re-reads the metadata now; on failure the last good copy stays in use.
    pub async fn refresh_now(&self) -> Result<(), String> {
        let xml = fetch_metadata(&self.config.metadata, &self.http).await?;
        let der = self.certificate.der_data().to_vec();
        let loaded = build(
            &self.config,
            &self.acs_url,
            &self.metadata_url,
            &self.key,
            &der,
            &xml,
        )?;
        *self.loaded.write().await = Some(Arc::new(loaded));
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Our SP metadata, for the IdP's administrator: entityID, the ACS (HTTP-POST),
    /// the certificate for signing and encryption, the NameID format we ask for.
    pub async fn sp_metadata(&self) -> Result<String, UpstreamError> {
        let certificate = STANDARD.encode(self.certificate.der_data());
        Ok(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{slo}"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{slo}"/>
    <md:NameIDFormat>{name_id_format}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
            entity_id = xml_escape(&self.config.sp_entity_id),
            signed = self.config.sign_requests,
            name_id_format = xml_escape(&self.config.name_id_format),
            acs = xml_escape(self.acs_url.as_str()),
            slo = xml_escape(self.slo_url.as_str()),
        ))
    }

    /// The IdP's SSO URL with a (signed, if configured) AuthnRequest whose ID the
    /// caller binds to the flow.
    pub async fn authn_request_url(
        &self,
        request_id: &str,
        relay_state: &str,
    ) -> Result<Url, UpstreamError> {
        let loaded = self.current().await.ok_or_else(|| {
            UpstreamError::Unavailable("the IdP's metadata has not loaded yet".into())
        })?;
        let mut request = loaded
            .sp
            .make_authentication_request(&loaded.sso_url)
            .map_err(|e| UpstreamError::Discovery(e.to_string()))?;
        // samael's own IDs carry 32 random bits; ours carry 128.
        request.id = request_id.to_owned();
        let url = if self.config.sign_requests {
            request.signed_redirect(relay_state, &self.key)
        } else {
            request.redirect(relay_state)
        };
        url.map_err(|e| UpstreamError::Discovery(e.to_string()))?
            .ok_or_else(|| UpstreamError::Discovery("the IdP metadata has no SSO URL".into()))
    }

    /// Verifies a pre-checked response to `request_id`: the signatures with the
    /// metadata's keys only (unsigned parts are never read), InResponseTo,
    /// Destination, Recipient, Issuer, IssueInstant and the validity window with
    /// skew, Status, and a required Audience.
    pub async fn verify(
        &self,
        xml: String,
        prechecked: Prechecked,
        request_id: String,
        now: DateTime<Utc>,
    ) -> Result<VerifiedAssertion, SamlError> {
        let check = self.check(now).await?;
        pool::run(move || check.run(&xml, &prechecked, Some(&request_id))).await
    }

    /// The same checks for an IdP-initiated response (no InResponseTo anywhere);
    /// refused unless `unsolicited_redirect_url` is configured.
    pub async fn verify_unsolicited(
        &self,
        xml: String,
        prechecked: Prechecked,
        now: DateTime<Utc>,
    ) -> Result<VerifiedAssertion, SamlError> {
        if self.config.unsolicited_redirect_url.is_none() {
            return Err(SamlError::Unsolicited);
        }
        let check = self.check(now).await?;
        pool::run(move || check.run(&xml, &prechecked, None)).await
    }

    /// The checks with the metadata in use; none yet is `NoMetadata` (the flow is kept).
    async fn check(&self, now: DateTime<Utc>) -> Result<Check, SamlError> {
        let loaded = self.current().await.ok_or(SamlError::NoMetadata)?;
        Ok(self.check_with(loaded, now))
    }

    fn check_with(&self, loaded: Arc<Loaded>, now: DateTime<Utc>) -> Check {
        Check {
            loaded,
            entity_id: self.config.sp_entity_id.clone(),
            acs: self.acs_url.to_string(),
            rules: MappingRules {
                subject_attribute: self.config.subject_attribute.clone(),
                friendly_names: self.config.friendly_names,
            },
            skew: self.config.clock_skew_seconds,
            now,
        }
    }

    /// Verifies an IdP-initiated LogoutRequest (see `logout`), on the pool.
    pub async fn verify_logout_request(
        &self,
        binding: LogoutBinding,
        now: DateTime<Utc>,
    ) -> Result<VerifiedLogoutRequest, SamlError> {
        let loaded = self.current().await.ok_or(SamlError::NoMetadata)?;
        let slo_url = self.slo_url.to_string();
        let skew = self.config.clock_skew_seconds;
        pool::run(move || {
            logout::LogoutCheck {
                idp_entity_id: &loaded.idp_entity_id,
                xmlsec_keys: &loaded.keys,
                public_keys: &loaded.public_keys,
                slo_url: &slo_url,
                skew,
                now,
            }
            .verify(&binding)
        })
        .await
    }

    /// Where the browser goes after a LogoutRequest: the IdP's SingleLogoutService
    /// with our signed LogoutResponse; `None` when the IdP has no HTTP-Redirect
    /// SingleLogoutService in its metadata.
    pub async fn logout_response_url(
        &self,
        request: &VerifiedLogoutRequest,
        response_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Url>, SamlError> {
        let loaded = self.current().await.ok_or(SamlError::NoMetadata)?;
        let Some(idp_slo) = loaded.slo_url.as_deref() else {
            return Ok(None);
        };
        logout::logout_response_url(
            idp_slo,
            &self.config.sp_entity_id,
            &request.id,
            response_id,
            request.relay_state.as_deref(),
            &self.key,
            now,
        )
        .map(Some)
        .map_err(|detail| SamlError::Rejected {
            reason: "saml_logout_response",
            detail,
        })
    }

    /// The whole ACS path on one thread, from base64 to a verified assertion: for
    /// the fuzz target, which feeds it arbitrary bytes.
    #[doc(hidden)]
    pub fn verify_for_fuzzing(&self, saml_response: &[u8]) -> Result<VerifiedAssertion, SamlError> {
        let xml = STANDARD
            .decode(saml_response)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(SamlError::NotBase64)?;
        let prechecked = precheck::precheck(&xml)?;
        let request_id = prechecked
            .in_response_to
            .clone()
            .ok_or(SamlError::Unsolicited)?;
        let loaded = self
            .loaded
            .blocking_read()
            .clone()
            .ok_or(SamlError::NoMetadata)?;
        self.check_with(loaded, Utc::now())
            .run(&xml, &prechecked, Some(&request_id))
    }
}

/// The checks before any cryptography, on the bounded pool (see `precheck`).
pub async fn precheck(xml: String) -> Result<(String, Prechecked), SamlError> {
    pool::run(move || precheck::precheck(&xml).map(|checked| (xml, checked))).await
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
