//! Everything checked before any cryptography, cheapest first: the shape limits
//! on the raw bytes, then one parse (no DTD), the protocol envelope, exactly one
//! Assertion in its place, no comments, no PKCS#1 v1.5 key transport, and the
//! signature profile. What it learns is kept, owned, for the verification.

use roxmltree::Node;

use super::limits::{LIMITS, check_shape};
use super::profile::check_signatures;
use super::xmldsig::SignatureSite;
use super::{ASSERTION_NS, PROTOCOL_NS, SamlError};

/// What the pre-check learned: the request answered, where the signatures are,
/// and the Response's own fields (unauthenticated unless the Response is signed;
/// they are only ever used to refuse more).
#[derive(Debug, Clone)]
pub struct Prechecked {
    pub in_response_to: Option<String>,
    pub signatures: Vec<SignatureSite>,
    pub envelope: Envelope,
}

/// The Response element's fields, as sent.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub id: String,
    pub issue_instant: Option<String>,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    pub status: Option<String>,
}

/// The parse every step after the shape limits uses (they keep the node count low).
pub fn parse(xml: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 50_000,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => SamlError::Doctype,
        other => SamlError::NotXml(other.to_string()),
    })
}

/// Structural checks before any signature work.
pub fn precheck(xml: &str) -> Result<Prechecked, SamlError> {
    check_shape(xml, &LIMITS)?;
    let document = parse(xml)?;
    let root = document.root_element();
    if root.tag_name().namespace() != Some(PROTOCOL_NS) || root.tag_name().name() != "Response" {
        return Err(SamlError::NotAResponse);
    }
    if document.descendants().any(|n| n.is_comment()) {
        return Err(SamlError::Comment);
    }
    let assertions: Vec<Node<'_, '_>> = document
        .descendants()
        .filter(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(ASSERTION_NS)
                && matches!(n.tag_name().name(), "Assertion" | "EncryptedAssertion")
        })
        .collect();
    let [assertion] = assertions.as_slice() else {
        return Err(SamlError::AssertionCount(assertions.len()));
    };
    if assertion.parent_element() != Some(root) {
        return Err(SamlError::Rejected {
            reason: "saml_assertion_count",
            detail: "the Assertion is not a direct child of the Response".into(),
        });
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
    check_unique_ids(&document)?;
    let plain_assertion = (assertion.tag_name().name() == "Assertion").then_some(*assertion);
    let signatures = check_signatures(&document, plain_assertion)?;
    let envelope = Envelope {
        id: root.attribute("ID").unwrap_or_default().to_owned(),
        issue_instant: root.attribute("IssueInstant").map(str::to_owned),
        destination: root.attribute("Destination").map(str::to_owned),
        issuer: child(root, ASSERTION_NS, "Issuer")
            .and_then(|i| i.text())
            .map(|t| t.trim().to_owned()),
        status: child(root, PROTOCOL_NS, "Status")
            .and_then(|s| child(s, PROTOCOL_NS, "StatusCode"))
            .and_then(|c| c.attribute("Value"))
            .map(str::to_owned),
    };
    // SAML core §3.2.2: a Response signed for the HTTP-POST binding names its Destination.
    if signatures.contains(&SignatureSite::Response) && envelope.destination.is_none() {
        return Err(SamlError::Rejected {
            reason: "saml_destination_missing",
            detail: "a signed Response must name its Destination".into(),
        });
    }
    Ok(Prechecked {
        in_response_to: root.attribute("InResponseTo").map(str::to_owned),
        signatures,
        envelope,
    })
}

/// A reference resolves by ID: two elements with one ID would let a signature
/// cover one and the reader read the other.
pub(super) fn check_unique_ids(document: &roxmltree::Document<'_>) -> Result<(), SamlError> {
    let mut ids: Vec<&str> = document
        .descendants()
        .filter_map(|n| n.attribute("ID"))
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(SamlError::Profile("two elements share one ID".into()));
    }
    Ok(())
}

pub(super) fn child<'a, 'i>(parent: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    parent.children().find(|n| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE_OPEN: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" InResponseTo="_req" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">"#;

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
        let nested = format!(
            "{RESPONSE_OPEN}<samlp:Extensions><saml:Assertion ID=\"_a\"/></samlp:Extensions></samlp:Response>"
        );
        assert!(matches!(
            precheck(&nested),
            Err(SamlError::Rejected {
                reason: "saml_assertion_count",
                ..
            })
        ));
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
        let same_id = format!("{RESPONSE_OPEN}<saml:Assertion ID=\"_r\"/></samlp:Response>");
        assert!(matches!(precheck(&same_id), Err(SamlError::Profile(_))));
    }
}
