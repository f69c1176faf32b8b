//! Why a SAML response was refused, each refusal with a stable reason for logs
//! and metrics; and how a stranger's text may appear in one.

use super::limits;

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
    #[error("the IdP's metadata has not loaded yet; try again shortly")]
    NoMetadata,
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
            Self::NoMetadata => "saml_metadata_unavailable",
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
pub(super) fn shown(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

pub(super) fn unparsable() -> SamlError {
    SamlError::Rejected {
        reason: "saml_malformed",
        detail: "the response could not be parsed".into(),
    }
}

/// samael's refusals, each with a stable reason for logs and metrics.
pub(super) fn rejection(error: samael::service_provider::Error) -> SamlError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::saml::{ASSERTION_NS, PROTOCOL_NS, precheck};

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
}
