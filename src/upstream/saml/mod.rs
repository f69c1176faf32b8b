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
//! Steps 1 and 2 run on the bounded `pool`.

mod limits;
mod mapping;
mod pool;
mod precheck;
mod profile;
mod xmldsig;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use samael::crypto::CertificateDer;
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use tokio::sync::RwLock;
use url::Url;

use super::UpstreamError;
use crate::config::{MetadataSource, SamlUpstream};
use crate::identity::UpstreamIdentity;
pub use limits::{LIMITS, Limit, ShapeLimits};
use mapping::MappingRules;
pub use precheck::{Envelope, Prechecked};
pub use xmldsig::{SignatureSite, process_is_confined};

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Why a response was refused; `reason()` is the label for logs and metrics.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("the SAMLResponse is not valid base64")]
    NotBase64,
    #[error("the response is not well-formed XML: {0}")]
    NotXml(String),
    #[error("the response contains a DOCTYPE (entities are never accepted)")]
    Doctype,
    #[error("the response is not a SAML protocol Response")]
    NotAResponse,
    #[error("the response carries {0} assertions; exactly one is accepted")]
    AssertionCount(usize),
    #[error("the response contains XML comments")]
    Comment,
    #[error("the response has more {what} than the limit ({limit})")]
    Limit { what: limits::Limit, limit: usize },
    #[error("the signature does not follow the SAML signature profile: {0}")]
    Profile(String),
    #[error("too many SAML responses are being verified; try again shortly")]
    Busy,
    #[error("the response answers no request of ours (unsolicited)")]
    Unsolicited,
    #[error(
        "the signature does not verify with the IdP's metadata key, or uses a refused algorithm"
    )]
    Signature,
    #[error("the response failed validation: {detail}")]
    Rejected {
        reason: &'static str,
        detail: String,
    },
    #[error("the assertion has no AudienceRestriction naming us")]
    Audience,
    #[error("the assertion was already used (replay)")]
    Replay,
    #[error("the assertion has no usable subject: {0}")]
    Subject(String),
}

impl SamlError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotBase64 | Self::NotXml(_) | Self::NotAResponse => "saml_malformed",
            Self::Doctype => "saml_doctype",
            Self::AssertionCount(_) => "saml_assertion_count",
            Self::Comment => "saml_comment",
            Self::Limit { what, .. } => what.reason(),
            Self::Profile(_) => "saml_signature_profile",
            Self::Busy => "saml_busy",
            Self::Unsolicited => "saml_unsolicited",
            Self::Signature => "saml_signature",
            Self::Rejected { reason, .. } => reason,
            Self::Audience => "saml_audience_missing",
            Self::Replay => "saml_replay",
            Self::Subject(_) => "saml_subject",
        }
    }
}

/// A stranger's text as it may appear in a refusal (and so in the log): at most
/// 64 characters.
fn shown(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A verified assertion, ready for mapping and the replay cache.
#[derive(Debug)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    /// Until when the replay cache must remember the assertion.
    pub expires_at: i64,
    pub identity: UpstreamIdentity,
}

struct Loaded {
    /// samael without the IdP's keys: it makes AuthnRequests and checks the
    /// conditions of what `xmldsig` has verified, and never verifies itself.
    sp: ServiceProvider,
    /// The same, accepting IdP-initiated responses; only when configured.
    sp_unsolicited: Option<ServiceProvider>,
    /// The IdP's signing keys, parsed once per metadata load.
    keys: Arc<Vec<xmldsig::VerificationKey>>,
    idp_entity_id: String,
    sso_url: String,
    fetched: Instant,
}

pub struct SamlIdp {
    config: SamlUpstream,
    acs_url: Url,
    metadata_url: Url,
    key: PKey<Private>,
    certificate: CertificateDer,
    http: reqwest::Client,
    loaded: RwLock<Arc<Loaded>>,
}

impl SamlIdp {
    /// Reads the IdP's metadata and refuses an IdP without a signing certificate.
    pub async fn load(
        config: SamlUpstream,
        acs_url: Url,
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
        let xml = fetch_metadata(&config.metadata, &http)
            .await
            .map_err(|e| anyhow::anyhow!("upstream {}: {e}", config.id))?;
        let loaded = build(&config, &acs_url, &metadata_url, &key, &certificate, &xml)
            .map_err(|e| anyhow::anyhow!("upstream {}: {e}", config.id))?;
        Ok(Self {
            config,
            acs_url,
            metadata_url,
            key,
            certificate: certificate.into(),
            http,
            loaded: RwLock::new(Arc::new(loaded)),
        })
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

    /// Re-reads the metadata when it is older than the configured interval; a
    /// failed refresh keeps the last good copy (the caller logs and counts it).
    pub async fn refresh_if_due(&self) -> Result<bool, String> {
        let due = self.loaded.read().await.fetched.elapsed()
            >= Duration::from_secs(self.config.metadata_refresh_seconds);
        if !due {
            return Ok(false);
        }
        self.refresh_now().await.map(|()| true)
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
        *self.loaded.write().await = Arc::new(loaded);
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
    <md:NameIDFormat>{name_id_format}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
            entity_id = xml_escape(&self.config.sp_entity_id),
            signed = self.config.sign_requests,
            name_id_format = xml_escape(&self.config.name_id_format),
            acs = xml_escape(self.acs_url.as_str()),
        ))
    }

    /// The IdP's SSO URL with a (signed, if configured) AuthnRequest whose ID the
    /// caller binds to the flow.
    pub async fn authn_request_url(
        &self,
        request_id: &str,
        relay_state: &str,
    ) -> Result<Url, UpstreamError> {
        let loaded = self.loaded.read().await.clone();
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
        let check = self.check(now).await;
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
        let check = self.check(now).await;
        pool::run(move || check.run(&xml, &prechecked, None)).await
    }

    async fn check(&self, now: DateTime<Utc>) -> Check {
        self.check_with(self.loaded.read().await.clone(), now)
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
        self.check_with(self.loaded.blocking_read().clone(), Utc::now())
            .run(&xml, &prechecked, Some(&request_id))
    }
}

/// The checks before any cryptography, on the bounded pool (see `precheck`).
pub async fn precheck(xml: String) -> Result<(String, Prechecked), SamlError> {
    pool::run(move || precheck::precheck(&xml).map(|checked| (xml, checked))).await
}

/// Everything a verification needs, owned, so it can move to a pool thread.
struct Check {
    loaded: Arc<Loaded>,
    entity_id: String,
    acs: String,
    rules: MappingRules,
    skew: i64,
    now: DateTime<Utc>,
}

impl Check {
    fn run(
        &self,
        xml: &str,
        prechecked: &Prechecked,
        request_id: Option<&str>,
    ) -> Result<VerifiedAssertion, SamlError> {
        let signed = self.signed_text(xml, prechecked)?;
        let sp = match request_id {
            Some(_) => &self.loaded.sp,
            None => self
                .loaded
                .sp_unsolicited
                .as_ref()
                .ok_or(SamlError::Unsolicited)?,
        };
        let ids = request_id.map(|id| [id]);
        let assertion = sp
            .parse_xml_response(&signed, ids.as_ref().map(|ids| &ids[..]))
            .map_err(rejection)?;
        self.check_envelope(&prechecked.envelope)?;
        self.check_issued(assertion.issue_instant, "Assertion")?;
        mapping::check_audience(&assertion, &self.entity_id)?;
        mapping::to_verified(
            &assertion,
            &self.loaded.idp_entity_id,
            &self.rules,
            self.skew,
            self.now,
        )
    }

    /// Verifies every signature the profile accepted and returns the only text
    /// samael may read: the signed Response, or, when only the Assertion is
    /// signed, that Assertion in a Response shell rebuilt from the envelope (whose
    /// fields are then checked as unauthenticated: they can only refuse).
    fn signed_text(&self, xml: &str, prechecked: &Prechecked) -> Result<String, SamlError> {
        if prechecked.signatures.is_empty() {
            return Err(SamlError::Signature);
        }
        let signed = xmldsig::verify(xml, &prechecked.signatures, &self.loaded.keys)
            .map_err(|_| SamlError::Signature)?;
        let at = |site| {
            prechecked
                .signatures
                .iter()
                .position(|s| *s == site)
                .map(|i| signed[i].as_str())
        };
        let text = match (at(SignatureSite::Response), at(SignatureSite::Assertion)) {
            (Some(response), _) => response.to_owned(),
            (None, Some(assertion)) => response_shell(
                &prechecked.envelope,
                prechecked.in_response_to.as_deref(),
                assertion,
            ),
            (None, None) => return Err(SamlError::Signature),
        };
        if text.contains("EncryptedData") {
            let document = precheck::parse(&text)?;
            if let Some(fixed) = declare_dsig_on_encrypted_key_info(&text, &document) {
                return Ok(fixed);
            }
        }
        Ok(text)
    }

    /// The Response element around a signed Assertion may itself be unsigned:
    /// its Status, Destination, Issuer and IssueInstant are checked here, so a
    /// failed or misdirected response is refused whatever is signed.
    fn check_envelope(&self, envelope: &Envelope) -> Result<(), SamlError> {
        let reject = |reason, detail: String| Err(SamlError::Rejected { reason, detail });
        if envelope.status.as_deref() != Some(SUCCESS) {
            return reject("saml_status", format!("status is {:?}", envelope.status));
        }
        if let Some(destination) = &envelope.destination
            && *destination != self.acs
        {
            return reject(
                "saml_destination",
                format!("Destination {:?} is not our ACS", shown(destination)),
            );
        }
        if let Some(issuer) = &envelope.issuer
            && *issuer != self.loaded.idp_entity_id
        {
            return reject(
                "saml_issuer",
                format!(
                    "Response Issuer {:?} is not {:?}",
                    shown(issuer),
                    self.loaded.idp_entity_id
                ),
            );
        }
        let issued = envelope
            .issue_instant
            .as_deref()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc))
            .ok_or_else(|| SamlError::Rejected {
                reason: "saml_invalid",
                detail: "the Response has no valid IssueInstant".into(),
            })?;
        self.check_issued(issued, "Response")
    }

    /// An IssueInstant is never later than now, give or take the skew.
    fn check_issued(&self, issued: DateTime<Utc>, what: &str) -> Result<(), SamlError> {
        if issued > self.now + chrono::Duration::seconds(self.skew) {
            return Err(SamlError::Rejected {
                reason: "saml_issued_in_future",
                detail: format!("the {what} is issued at {issued}, in the future"),
            });
        }
        Ok(())
    }
}

/// A Response around a verified Assertion, for samael's reader: the envelope's
/// values escaped, the Assertion exactly as its signature covers it.
fn response_shell(envelope: &Envelope, in_response_to: Option<&str>, assertion: &str) -> String {
    let mut shell = format!(
        r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" ID="{}" Version="2.0" IssueInstant="{}""#,
        xml_escape(&envelope.id),
        xml_escape(envelope.issue_instant.as_deref().unwrap_or_default()),
    );
    if let Some(destination) = &envelope.destination {
        shell.push_str(&format!(r#" Destination="{}""#, xml_escape(destination)));
    }
    if let Some(in_response_to) = in_response_to {
        shell.push_str(&format!(
            r#" InResponseTo="{}""#,
            xml_escape(in_response_to)
        ));
    }
    shell.push('>');
    if let Some(issuer) = &envelope.issuer {
        shell.push_str(&format!(
            r#"<saml:Issuer xmlns:saml="{ASSERTION_NS}">{}</saml:Issuer>"#,
            xml_escape(issuer)
        ));
    }
    shell.push_str(&format!(
        r#"<samlp:Status><samlp:StatusCode Value="{}"/></samlp:Status>"#,
        xml_escape(envelope.status.as_deref().unwrap_or_default())
    ));
    shell.push_str(assertion);
    shell.push_str("</samlp:Response>");
    shell
}

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";

/// samael reads the KeyInfo of an EncryptedData only when that element itself
/// declares `xmlns:ds` (as Shibboleth writes it); others, pysaml2 among them,
/// declare the namespace higher up. Adding the (unused) declaration leaves every
/// signature intact under exclusive canonicalization, which drops unused
/// declarations; under any other canonicalization the signature check fails, so
/// this can only ever refuse more. Returns `None` when nothing needs adding.
fn declare_dsig_on_encrypted_key_info(
    xml: &str,
    document: &roxmltree::Document<'_>,
) -> Option<String> {
    let mut insert_at = Vec::new();
    for node in document.descendants() {
        let is_target = node.is_element()
            && node.tag_name().namespace() == Some(DSIG_NS)
            && node.tag_name().name() == "KeyInfo"
            && node.parent_element().is_some_and(|p| {
                p.tag_name().namespace() == Some(XENC_NS) && p.tag_name().name() == "EncryptedData"
            });
        if !is_target {
            continue;
        }
        // A `ds` prefix bound to something else in scope would be changed for the
        // children: leave the document alone (samael will then refuse it).
        if node
            .lookup_namespace_uri(Some("ds"))
            .is_some_and(|uri| uri != DSIG_NS)
        {
            return None;
        }
        let start = node.range().start;
        let tag = &xml[start..];
        let tag_end = tag.find('>')?;
        if tag[..tag_end].contains("xmlns:ds=") || tag[..tag_end].contains("xmlns:dsig=") {
            continue;
        }
        let name_end =
            tag[1..].find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')? + 1;
        insert_at.push(start + name_end);
    }
    if insert_at.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(xml.len() + insert_at.len() * 48);
    let mut last = 0;
    for at in insert_at {
        out.push_str(&xml[last..at]);
        out.push_str(" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"");
        last = at;
    }
    out.push_str(&xml[last..]);
    Some(out)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn unparsable() -> SamlError {
    SamlError::Rejected {
        reason: "saml_malformed",
        detail: "the response could not be parsed".into(),
    }
}

/// samael's refusals, each with a stable reason for logs and metrics.
fn rejection(error: samael::service_provider::Error) -> SamlError {
    use samael::service_provider::Error as E;
    let reason = match &error {
        E::FailedToValidateSignature => return SamlError::Signature,
        E::DestinationValidationError { .. } => "saml_destination",
        E::AssertionRecipientMismatch { .. } => "saml_recipient",
        E::AssertionIssuerMismatch { .. } | E::ResponseIssuerMismatch { .. } => "saml_issuer",
        E::AssertionExpired { .. }
        | E::ResponseExpired { .. }
        | E::AssertionConditionExpired { .. }
        | E::AssertionSubjectConfirmationExpired { .. } => "saml_expired",
        E::AssertionConditionExpiredBefore { .. }
        | E::AssertionSubjectConfirmationExpiredBefore { .. } => "saml_not_yet_valid",
        E::AssertionConditionAudienceRestrictionFailed { .. } => "saml_audience",
        E::AssertionInResponseToInvalid { .. } | E::ResponseInResponseToInvalid { .. } => {
            "saml_in_response_to"
        }
        E::ResponseBadStatusCode { .. } => "saml_status",
        E::AssertionBearerSubjectConfirmationMissing | E::AssertionSubjectConfirmationMissing => {
            "saml_subject_confirmation"
        }
        E::EncryptedAssertionKeyMethodUnsupported { .. }
        | E::EncryptedAssertionValueMethodUnsupported { .. } => "saml_encryption_algorithm",
        E::MissingEncryptedKeyInfo
        | E::MissingEncryptedValueInfo
        | E::EncryptedAssertionInvalid
        | E::FailedToDecryptAssertion => "saml_decryption",
        _ => "saml_invalid",
    };
    SamlError::Rejected {
        reason,
        detail: error.to_string(),
    }
}

/// The IdP's signing keys, as samael finds them in the metadata (keys marked
/// for signing, or else keys marked for no use), each parsed once.
fn signing_keys(metadata: &EntityDescriptor) -> Result<Vec<xmldsig::VerificationKey>, String> {
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
    certificates
        .iter()
        .map(|certificate| xmldsig::VerificationKey::from_certificate_der(certificate.der_data()))
        .collect()
}

async fn fetch_metadata(source: &MetadataSource, http: &reqwest::Client) -> Result<String, String> {
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

fn build(
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
    let keys = signing_keys(&idp_metadata)?;
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
        idp_entity_id,
        sso_url,
        fetched: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declare_dsig_on_encrypted_key_info(xml: &str) -> Option<String> {
        super::declare_dsig_on_encrypted_key_info(xml, &precheck::parse(xml).unwrap())
    }

    #[test]
    fn dsig_declaration_is_added_only_where_samael_needs_it() {
        let xml = r#"<r xmlns:x="http://www.w3.org/2001/04/xmlenc#" xmlns:n="http://www.w3.org/2000/09/xmldsig#"><x:EncryptedData><n:KeyInfo Id="k"><n:X/></n:KeyInfo></x:EncryptedData><n:KeyInfo/></r>"#;
        let out = declare_dsig_on_encrypted_key_info(xml).unwrap();
        assert_eq!(out.matches("xmlns:ds=").count(), 1, "{out}");
        assert!(
            out.contains(r#"<n:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="k">"#),
            "{out}"
        );
        assert!(
            declare_dsig_on_encrypted_key_info(&out).is_none(),
            "idempotent"
        );
        let clash = xml.replace("<r ", r#"<r xmlns:ds="urn:other" "#);
        assert!(
            declare_dsig_on_encrypted_key_info(&clash).is_none(),
            "a ds prefix bound elsewhere is left alone"
        );
    }

    #[test]
    fn a_strangers_text_in_a_refusal_is_cut_short() {
        assert_eq!(shown("short"), "short");
        let long = "é".repeat(1000);
        assert_eq!(shown(&long), format!("{}…", "é".repeat(64)));
        let refusal = profile_refusal_for_a_long_transform();
        assert!(refusal.len() < 250, "{refusal}");
    }

    fn profile_refusal_for_a_long_transform() -> String {
        let xml = format!(
            r##"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="_r"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_r"><ds:Transforms><ds:Transform Algorithm="{}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>A</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>A</ds:SignatureValue></ds:Signature><saml:Assertion ID="_a"/></samlp:Response>"##,
            "x".repeat(10_000)
        );
        match precheck::precheck(&xml) {
            Err(e @ SamlError::Profile(_)) => e.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_shell_escapes_what_it_copies_from_the_unsigned_envelope() {
        let envelope = Envelope {
            id: "_r".into(),
            issue_instant: Some("2026-01-01T00:00:00Z".into()),
            destination: Some("https://x/acs?a=1&b=\"2\"".into()),
            issuer: Some("<evil/>".into()),
            status: Some(SUCCESS.into()),
        };
        let shell = response_shell(&envelope, Some("_q"), "<saml:Assertion/>");
        assert!(
            shell.contains(r#"Destination="https://x/acs?a=1&amp;b=&quot;2&quot;""#),
            "{shell}"
        );
        assert!(shell.contains("&lt;evil/&gt;</saml:Issuer>"), "{shell}");
        assert!(
            shell.ends_with("<saml:Assertion/></samlp:Response>"),
            "{shell}"
        );
    }
}
