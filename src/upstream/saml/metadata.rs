//! The IdP's metadata: read from a file or a URL, checked (well-formed, an
//! entityID, an HTTP-Redirect SSO URL, a signing certificate), and turned into
//! what verifications use: the IdP's keys, parsed once, and samael without them.

use std::time::Instant;

use openssl::pkey::{PKey, Private, Public};
use samael::crypto::CertificateDer;
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use std::sync::Arc;
use url::Url;

use super::REDIRECT_BINDING;
use super::xmldsig;
use crate::config::{MetadataSource, SamlUpstream};

/// One load of the IdP's metadata.
pub(super) struct Loaded {
    /// samael without the IdP's keys: it makes AuthnRequests and checks the
    /// conditions of what `xmldsig` has verified, and never verifies itself.
    pub(super) sp: ServiceProvider,
    /// The same, accepting IdP-initiated responses; only when configured.
    pub(super) sp_unsolicited: Option<ServiceProvider>,
    /// The IdP's signing keys, parsed once per metadata load.
    pub(super) keys: Arc<Vec<xmldsig::VerificationKey>>,
    /// The same keys for OpenSSL: the HTTP-Redirect binding's query signatures.
    pub(super) public_keys: Vec<PKey<Public>>,
    /// The IdP's SingleLogoutService for the HTTP-Redirect binding (where our
    /// LogoutResponse goes), if it has one.
    pub(super) slo_url: Option<String>,
    pub(super) idp_entity_id: String,
    pub(super) sso_url: String,
    pub(super) fetched: Instant,
}

/// The IdP's signing keys, as samael finds them in the metadata (keys marked
/// for signing, or else keys marked for no use), each parsed once.
type SigningKeys = (Vec<xmldsig::VerificationKey>, Vec<PKey<Public>>);

fn signing_keys(metadata: &EntityDescriptor) -> Result<SigningKeys, String> {
    let reader = ServiceProviderBuilder::default()
        .idp_metadata(metadata.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let certificates = match reader.idp_signing_certs() {
        Ok(Some(certificates)) if !certificates.is_empty() => certificates,
        _ => {
            return Err(
                "the IdP metadata has no signing certificate; refusing to trust unsigned responses"
                    .into(),
            );
        }
    };
    let xmlsec = certificates
        .iter()
        .map(|certificate| xmldsig::VerificationKey::from_certificate_der(certificate.der_data()))
        .collect::<Result<Vec<_>, _>>()?;
    let openssl = certificates
        .iter()
        .map(|certificate| {
            openssl::x509::X509::from_der(certificate.der_data())
                .and_then(|c| c.public_key())
                .map_err(|e| format!("the IdP signing certificate cannot be read: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((xmlsec, openssl))
}

pub(super) async fn fetch_metadata(
    source: &MetadataSource,
    http: &reqwest::Client,
) -> Result<String, String> {
    match source {
        MetadataSource::File(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read IdP metadata {}: {e}", path.display())),
        MetadataSource::Url(url) => {
            let response = http
                .get(url.as_str())
                .send()
                .await
                .map_err(|e| format!("cannot fetch IdP metadata from {url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!(
                    "IdP metadata at {url} answered {}",
                    response.status()
                ));
            }
            response
                .text()
                .await
                .map_err(|e| format!("cannot read IdP metadata from {url}: {e}"))
        }
    }
}

pub(super) fn build(
    config: &SamlUpstream,
    acs_url: &Url,
    metadata_url: &Url,
    key: &PKey<Private>,
    certificate_der: &[u8],
    xml: &str,
) -> Result<Loaded, String> {
    if roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 200_000,
            ..Default::default()
        },
    )
    .is_err()
    {
        return Err("the IdP metadata is not well-formed XML (or has a DOCTYPE)".into());
    }
    let idp_metadata: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("the IdP metadata cannot be parsed: {e}"))?;
    let idp_entity_id = idp_metadata
        .entity_id
        .clone()
        .ok_or("the IdP metadata has no entityID")?;
    let sso_url = idp_metadata
        .idp_sso_descriptors
        .iter()
        .flatten()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|s| s.binding == REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .ok_or("the IdP metadata has no SingleSignOnService with the HTTP-Redirect binding")?;
    let (keys, public_keys) = signing_keys(&idp_metadata)?;
    let slo_url = idp_metadata
        .idp_sso_descriptors
        .iter()
        .flatten()
        .flat_map(|d| d.single_logout_services.iter())
        .find(|s| s.binding == REDIRECT_BINDING)
        .map(|s| {
            s.response_location
                .clone()
                .unwrap_or_else(|| s.location.clone())
        });
    // samael gets the metadata without keys: it must never verify on its own
    // (xmldsig does, confined); it reads and checks only the verified text.
    let mut keyless = idp_metadata;
    for descriptor in keyless.idp_sso_descriptors.iter_mut().flatten() {
        descriptor.key_descriptors.clear();
    }
    let skew = chrono::Duration::seconds(config.clock_skew_seconds);
    let mut builder = ServiceProviderBuilder::default();
    builder
        .entity_id(Some(config.sp_entity_id.clone()))
        .key(Some(key.clone()))
        .certificate(Some(CertificateDer::from(certificate_der.to_vec())))
        .metadata_url(Some(metadata_url.to_string()))
        .acs_url(Some(acs_url.to_string()))
        .slo_url(None::<String>)
        .idp_metadata(keyless)
        .authn_name_id_format(Some(config.name_id_format.clone()))
        .allow_idp_initiated(false)
        .max_issue_delay(skew + chrono::Duration::seconds(90))
        .max_clock_skew(skew);
    let sp = builder.build().map_err(|e| e.to_string())?;
    let sp_unsolicited = match config.unsolicited_redirect_url {
        Some(_) => Some(
            builder
                .allow_idp_initiated(true)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    Ok(Loaded {
        sp,
        sp_unsolicited,
        keys: Arc::new(keys),
        public_keys,
        slo_url,
        idp_entity_id,
        sso_url,
        fetched: Instant::now(),
    })
}
