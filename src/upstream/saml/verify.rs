//! A verification on a pool thread: the signatures (`xmldsig`), then samael
//! reading only the signed text and checking the conditions, the envelope the
//! signature may not cover, and the mapping.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::mapping::{self, MappingRules};
use super::metadata::Loaded;
use super::precheck::{self, Envelope, Prechecked};
use super::xmldsig::{self, SignatureSite};
use super::{
    ASSERTION_NS, PROTOCOL_NS, SUCCESS, SamlError, VerifiedAssertion, rejection, shown, xml_escape,
};

/// Everything a verification needs, owned, so it can move to a pool thread.
pub(super) struct Check {
    pub(super) loaded: Arc<Loaded>,
    pub(super) entity_id: String,
    pub(super) acs: String,
    pub(super) rules: MappingRules,
    pub(super) skew: i64,
    pub(super) now: DateTime<Utc>,
}

impl Check {
    pub(super) fn run(
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
