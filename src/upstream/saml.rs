//! The SAML2 service provider for one upstream IdP (samael with xmlsec): IdP
//! metadata (file or URL, refreshed), AuthnRequests over HTTP-Redirect, and
//! fail-closed validation of the responses posted to the ACS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer};
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use tokio::sync::RwLock;
use url::Url;

use super::UpstreamError;
use crate::config::{MetadataSource, SamlUpstream};
use crate::identity::{Claims, UpstreamIdentity};

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Signature algorithms accepted on responses: no SHA-1, no DSA.
const ALLOWED_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Well-known attribute OIDs and the friendly names templates and rules may use.
const FRIENDLY_NAMES: &[(&str, &str)] = &[
    ("urn:oid:0.9.2342.19200300.100.1.1", "uid"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "mail"),
    ("urn:oid:2.5.4.3", "cn"),
    ("urn:oid:2.5.4.4", "sn"),
    ("urn:oid:2.5.4.42", "givenName"),
    ("urn:oid:2.5.4.11", "ou"),
    ("urn:oid:2.16.840.1.113730.3.1.241", "displayName"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "eduPersonAffiliation"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "eduPersonPrincipalName"),
    (
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
        "eduPersonScopedAffiliation",
    ),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.10", "eduPersonTargetedID"),
];

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
            Self::Unsolicited => "saml_unsolicited",
            Self::Signature => "saml_signature",
            Self::Rejected { reason, .. } => reason,
            Self::Audience => "saml_audience_missing",
            Self::Replay => "saml_replay",
            Self::Subject(_) => "saml_subject",
        }
    }
}

/// What the structural pre-check learned before any signature work.
#[derive(Debug)]
pub struct Prechecked {
    pub in_response_to: Option<String>,
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
    sp: ServiceProvider,
    /// The same SP accepting IdP-initiated responses; only when configured.
    sp_unsolicited: Option<ServiceProvider>,
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

    /// Verifies a response to `request_id`: signature with the metadata's keys only
    /// (unsigned parts are discarded), algorithms, InResponseTo, Destination,
    /// Recipient, Issuer, validity window with skew, Status, and a required Audience.
    pub async fn verify(
        &self,
        xml: String,
        request_id: String,
    ) -> Result<VerifiedAssertion, SamlError> {
        self.verify_with(xml, Some(request_id)).await
    }

    /// The same checks for an IdP-initiated response (no InResponseTo anywhere);
    /// refused unless `unsolicited_redirect_url` is configured.
    pub async fn verify_unsolicited(&self, xml: String) -> Result<VerifiedAssertion, SamlError> {
        if self.config.unsolicited_redirect_url.is_none() {
            return Err(SamlError::Unsolicited);
        }
        self.verify_with(xml, None).await
    }

    async fn verify_with(
        &self,
        xml: String,
        request_id: Option<String>,
    ) -> Result<VerifiedAssertion, SamlError> {
        let check = Check {
            loaded: self.loaded.read().await.clone(),
            entity_id: self.config.sp_entity_id.clone(),
            acs: self.acs_url.to_string(),
            subject_attribute: self.config.subject_attribute.clone(),
            skew: self.config.clock_skew_seconds,
        };
        // xmlsec is CPU work and a C library: keep it off the async workers.
        tokio::task::spawn_blocking(move || check.run(&xml, request_id.as_deref()))
            .await
            .unwrap_or_else(|_| Err(unparsable()))
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
        let prechecked = precheck(&xml)?;
        let request_id = prechecked.in_response_to.ok_or(SamlError::Unsolicited)?;
        let check = Check {
            loaded: self.loaded.blocking_read().clone(),
            entity_id: self.config.sp_entity_id.clone(),
            acs: self.acs_url.to_string(),
            subject_attribute: self.config.subject_attribute.clone(),
            skew: self.config.clock_skew_seconds,
        };
        check.run(&xml, Some(&request_id))
    }
}

/// Everything a verification needs, owned, so it can move to a blocking thread.
struct Check {
    loaded: Arc<Loaded>,
    entity_id: String,
    acs: String,
    subject_attribute: Option<String>,
    skew: i64,
}

impl Check {
    /// Never lets a panic in the parser escape as anything but a refusal.
    fn run(&self, xml: &str, request_id: Option<&str>) -> Result<VerifiedAssertion, SamlError> {
        // One parse serves the namespace fix-up and the envelope checks (whose
        // verdict is given only after the signature's, as before).
        let (normalized, envelope) = match parse_response(xml) {
            Ok(document) => (
                declare_dsig_on_encrypted_key_info(xml, &document),
                check_envelope(&document, &self.acs, &self.loaded.idp_entity_id),
            ),
            Err(e) => (None, Err(SamlError::NotXml(e.to_string()))),
        };
        let xml = normalized.as_deref().unwrap_or(xml);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let assertion = match request_id {
                Some(id) => self.loaded.sp.parse_xml_response(xml, Some(&[id])),
                None => self
                    .loaded
                    .sp_unsolicited
                    .as_ref()
                    .ok_or(SamlError::Unsolicited)?
                    .parse_xml_response(xml, None),
            }
            .map_err(rejection)?;
            envelope?;
            check_audience(&assertion, &self.entity_id)?;
            to_verified(
                &assertion,
                &self.loaded.idp_entity_id,
                self.subject_attribute.as_deref(),
                self.skew,
            )
        }))
        .unwrap_or_else(|_| Err(unparsable()))
    }
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

/// Structural checks before any signature work: no DTD, a protocol Response,
/// exactly one (possibly encrypted) Assertion anywhere in the document, no comments.
pub fn precheck(xml: &str) -> Result<Prechecked, SamlError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 50_000,
        ..Default::default()
    };
    let document = roxmltree::Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => SamlError::Doctype,
        other => SamlError::NotXml(other.to_string()),
    })?;
    let root = document.root_element();
    if root.tag_name().namespace() != Some(PROTOCOL_NS) || root.tag_name().name() != "Response" {
        return Err(SamlError::NotAResponse);
    }
    if document.descendants().any(|n| n.is_comment()) {
        return Err(SamlError::Comment);
    }
    let assertions = document
        .descendants()
        .filter(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(ASSERTION_NS)
                && matches!(n.tag_name().name(), "Assertion" | "EncryptedAssertion")
        })
        .count();
    if assertions != 1 {
        return Err(SamlError::AssertionCount(assertions));
    }
    // RSA PKCS#1 v1.5 key transport is open to padding-oracle attacks (samael would accept it).
    if document.descendants().any(|n| {
        n.tag_name().name() == "EncryptionMethod"
            && n.attribute("Algorithm") == Some("http://www.w3.org/2001/04/xmlenc#rsa-1_5")
    }) {
        return Err(SamlError::Rejected {
            reason: "saml_encryption_algorithm",
            detail: "RSA PKCS#1 v1.5 key transport is refused".into(),
        });
    }
    Ok(Prechecked {
        in_response_to: root.attribute("InResponseTo").map(str::to_owned),
    })
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

/// The Response element around a signed Assertion may itself be unsigned, and
/// samael then looks only at the signed part: check its Status, Destination and
/// Issuer here, so a failed or misdirected response is refused whatever is signed.
fn child<'a, 'i>(
    parent: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    parent.children().find(|n| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
    })
}

/// The response as the checks before and after the signature read it.
fn parse_response(xml: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 50_000,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(xml, options)
}

fn check_envelope(
    document: &roxmltree::Document<'_>,
    acs: &str,
    idp_entity_id: &str,
) -> Result<(), SamlError> {
    let root = document.root_element();
    let reject = |reason, detail: String| Err(SamlError::Rejected { reason, detail });
    let status = child(root, PROTOCOL_NS, "Status")
        .and_then(|s| child(s, PROTOCOL_NS, "StatusCode"))
        .and_then(|c| c.attribute("Value"));
    if status != Some("urn:oasis:names:tc:SAML:2.0:status:Success") {
        return reject("saml_status", format!("status is {status:?}"));
    }
    if let Some(destination) = root.attribute("Destination")
        && destination != acs
    {
        return reject(
            "saml_destination",
            format!("Destination {destination:?} is not our ACS"),
        );
    }
    if let Some(issuer) = child(root, ASSERTION_NS, "Issuer").and_then(|i| i.text())
        && issuer.trim() != idp_entity_id
    {
        return reject(
            "saml_issuer",
            format!("Response Issuer {issuer:?} is not {idp_entity_id:?}"),
        );
    }
    Ok(())
}

fn check_audience(assertion: &Assertion, entity_id: &str) -> Result<(), SamlError> {
    let named = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.audience_restrictions.as_ref())
        .is_some_and(|restrictions| {
            !restrictions.is_empty()
                && restrictions
                    .iter()
                    .all(|r| r.audience.iter().any(|a| a == entity_id))
        });
    if named {
        Ok(())
    } else {
        Err(SamlError::Audience)
    }
}

fn to_verified(
    assertion: &Assertion,
    idp_entity_id: &str,
    subject_attribute: Option<&str>,
    skew: i64,
) -> Result<VerifiedAssertion, SamlError> {
    let mut claims = Claims::default();
    for statement in assertion.attribute_statements.iter().flatten() {
        for attribute in &statement.attributes {
            let values: Vec<String> = attribute
                .values
                .iter()
                .filter_map(|v| v.value.clone())
                .collect();
            let mut names: Vec<&str> = Vec::new();
            if let Some(name) = attribute.name.as_deref() {
                names.push(name);
                if let Some((_, friendly)) = FRIENDLY_NAMES.iter().find(|(oid, _)| *oid == name) {
                    names.push(friendly);
                }
            }
            if let Some(friendly) = attribute.friendly_name.as_deref() {
                names.push(friendly);
            }
            for name in names {
                claims.insert(name, values.clone());
            }
        }
    }
    let name_id = assertion.subject.as_ref().and_then(|s| s.name_id.as_ref());
    if let Some(name_id) = name_id {
        claims.insert("name_id", vec![name_id.value.clone()]);
    }
    let subject = match subject_attribute {
        Some(attribute) => claims.first(attribute).map(str::to_owned).ok_or_else(|| {
            SamlError::Subject(format!("the stable attribute {attribute:?} is missing"))
        })?,
        None => {
            let name_id = name_id.ok_or_else(|| SamlError::Subject("no NameID".into()))?;
            if name_id.format.as_deref() != Some(PERSISTENT) {
                return Err(SamlError::Subject(format!(
                    "the NameID is not persistent ({}) and no subject_attribute is configured",
                    name_id.format.as_deref().unwrap_or("no format")
                )));
            }
            name_id.value.trim().to_owned()
        }
    };
    if subject.is_empty() {
        return Err(SamlError::Subject("the subject is empty".into()));
    }
    let mut until = assertion
        .conditions
        .as_ref()
        .and_then(|c| c.not_on_or_after);
    for confirmation in assertion
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
    {
        if let Some(at) = confirmation
            .subject_confirmation_data
            .as_ref()
            .and_then(|d| d.not_on_or_after)
        {
            until = Some(until.map_or(at, |u| u.max(at)));
        }
    }
    let expires_at = until.unwrap_or_else(Utc::now).timestamp() + skew + 300;
    Ok(VerifiedAssertion {
        assertion_id: assertion.id.clone(),
        expires_at,
        identity: UpstreamIdentity {
            issuer: idp_entity_id.to_owned(),
            subject,
            claims,
        },
    })
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
    let skew = chrono::Duration::seconds(config.clock_skew_seconds);
    let mut builder = ServiceProviderBuilder::default();
    builder
        .entity_id(Some(config.sp_entity_id.clone()))
        .key(Some(key.clone()))
        .certificate(Some(CertificateDer::from(certificate_der.to_vec())))
        .metadata_url(Some(metadata_url.to_string()))
        .acs_url(Some(acs_url.to_string()))
        .slo_url(None::<String>)
        .idp_metadata(idp_metadata)
        .authn_name_id_format(Some(config.name_id_format.clone()))
        .allow_idp_initiated(false)
        .max_issue_delay(skew + chrono::Duration::seconds(90))
        .max_clock_skew(skew)
        .allowed_signature_algorithms(Some(ALLOWED_ALGORITHMS.to_vec()));
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
    // samael verifies nothing when the metadata yields no signing certificate.
    match sp.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => {}
        _ => {
            return Err(
                "the IdP metadata has no signing certificate; refusing to trust unsigned responses"
                    .into(),
            );
        }
    }
    Ok(Loaded {
        sp,
        sp_unsolicited,
        idp_entity_id,
        sso_url,
        fetched: Instant::now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE_OPEN: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="_req" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">"#;

    fn declare_dsig_on_encrypted_key_info(xml: &str) -> Option<String> {
        super::declare_dsig_on_encrypted_key_info(xml, &parse_response(xml).unwrap())
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
    fn precheck_refuses_shapes_before_crypto() {
        let one = format!("{RESPONSE_OPEN}<saml:Assertion ID=\"_a\"/></samlp:Response>");
        assert_eq!(
            precheck(&one).unwrap().in_response_to.as_deref(),
            Some("_req")
        );
        let two = format!(
            "{RESPONSE_OPEN}<saml:Assertion ID=\"_a\"/><saml:Assertion ID=\"_b\"/></samlp:Response>"
        );
        assert!(matches!(precheck(&two), Err(SamlError::AssertionCount(2))));
        let none = format!("{RESPONSE_OPEN}</samlp:Response>");
        assert!(matches!(precheck(&none), Err(SamlError::AssertionCount(0))));
        let doctype = format!("<!DOCTYPE x [<!ENTITY e \"boom\">]>{one}");
        assert!(matches!(precheck(&doctype), Err(SamlError::Doctype)));
        let comment = format!(
            "{RESPONSE_OPEN}<saml:Assertion ID=\"_a\"><saml:Subject><saml:NameID>a<!---->b</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"
        );
        assert!(matches!(precheck(&comment), Err(SamlError::Comment)));
        assert!(matches!(precheck("<x/>"), Err(SamlError::NotAResponse)));
        let pkcs1 = format!(
            "{RESPONSE_OPEN}<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"><xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-1_5\"/></xenc:EncryptedData></saml:EncryptedAssertion></samlp:Response>"
        );
        assert!(matches!(
            precheck(&pkcs1),
            Err(SamlError::Rejected {
                reason: "saml_encryption_algorithm",
                ..
            })
        ));
        assert!(matches!(precheck("<unclosed"), Err(SamlError::NotXml(_))));
    }
}
