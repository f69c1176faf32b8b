//! The SAML signature profile (SAML core §5.4, the XML Signature profile), checked
//! on the parsed document before any cryptography: what a stranger sent decides
//! nothing about which references are followed or which transforms run.
//!
//! Accepted, and nothing else: a `ds:Signature` directly under the Response or
//! its Assertion, at most one per element, holding one `SignedInfo` (exclusive
//! c14n without comments, an allowed signature method, exactly one `Reference`
//! whose URI is `#` + the ID of the signature's parent), the enveloped-signature
//! and exclusive c14n transforms only, an allowed digest, a `SignatureValue`, and
//! an optional `KeyInfo` of `X509Data`/`KeyName` (never read: the key comes from
//! the metadata).

use roxmltree::Node;

use super::xmldsig::SignatureSite;
use super::{SamlError, shown};

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Signature methods accepted: RSA and ECDSA with SHA-2 (no SHA-1, no DSA, no HMAC).
pub const SIGNATURE_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];

/// Digests accepted in a Reference.
pub const DIGEST_METHODS: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

fn refuse(detail: impl Into<String>) -> SamlError {
    SamlError::Profile(detail.into())
}

/// Checks every `ds:Signature` in the document against the profile and says
/// where the accepted ones sit. `assertion` is the Response's direct Assertion child.
pub fn check_signatures(
    document: &roxmltree::Document<'_>,
    assertion: Option<Node<'_, '_>>,
) -> Result<Vec<SignatureSite>, SamlError> {
    let root = document.root_element();
    let mut sites = Vec::new();
    for signature in document.descendants().filter(|n| is_dsig(*n, "Signature")) {
        let parent = signature
            .parent_element()
            .ok_or_else(|| refuse("a Signature without a parent element"))?;
        let site = if parent == root {
            SignatureSite::Response
        } else if Some(parent) == assertion {
            SignatureSite::Assertion
        } else {
            return Err(refuse(format!(
                "a Signature inside <{}>: only the Response and its Assertion may be signed",
                shown(parent.tag_name().name())
            )));
        };
        if sites.contains(&site) {
            return Err(refuse("two Signatures on one element"));
        }
        check_signature(signature, parent)?;
        sites.push(site);
    }
    Ok(sites)
}

/// `Signature` = `SignedInfo`, `SignatureValue`, `KeyInfo`? — no `Object`.
fn check_signature(signature: Node<'_, '_>, parent: Node<'_, '_>) -> Result<(), SamlError> {
    let id = parent
        .attribute("ID")
        .ok_or_else(|| refuse("the signed element has no ID"))?;
    if !is_plain_id(id) {
        return Err(refuse("the signed element's ID is not a plain NCName"));
    }
    let children = elements(signature)?;
    match children.as_slice() {
        [signed_info, value] | [signed_info, value, _] => {
            expect(*signed_info, "SignedInfo")?;
            expect(*value, "SignatureValue")?;
            text_only(*value)?;
        }
        _ => {
            return Err(refuse(
                "a Signature holds SignedInfo, SignatureValue and an optional KeyInfo, nothing else",
            ));
        }
    }
    if let Some(key_info) = children.get(2) {
        expect(*key_info, "KeyInfo")?;
        check_key_info(*key_info)?;
    }
    check_signed_info(children[0], id)
}

/// `SignedInfo` = `CanonicalizationMethod`, `SignatureMethod`, exactly one `Reference`.
fn check_signed_info(signed_info: Node<'_, '_>, id: &str) -> Result<(), SamlError> {
    let children = elements(signed_info)?;
    let [c14n, method, reference] = children.as_slice() else {
        return Err(refuse(
            "SignedInfo holds a CanonicalizationMethod, a SignatureMethod and exactly one Reference",
        ));
    };
    expect(*c14n, "CanonicalizationMethod")?;
    if c14n.attribute("Algorithm") != Some(EXC_C14N) {
        return Err(refuse(
            "the CanonicalizationMethod is not exclusive c14n without comments",
        ));
    }
    check_c14n_parameters(*c14n)?;
    expect(*method, "SignatureMethod")?;
    no_children(*method)?;
    if !method
        .attribute("Algorithm")
        .is_some_and(|a| SIGNATURE_METHODS.contains(&a))
    {
        return Err(SamlError::Signature);
    }
    expect(*reference, "Reference")?;
    check_reference(*reference, id)
}

/// `Reference URI="#<parent ID>"` = `Transforms`?, `DigestMethod`, `DigestValue`.
fn check_reference(reference: Node<'_, '_>, id: &str) -> Result<(), SamlError> {
    let uri = reference
        .attribute("URI")
        .ok_or_else(|| refuse("the Reference has no URI"))?;
    if uri.strip_prefix('#') != Some(id) {
        return Err(refuse(
            "the Reference URI is not # followed by the ID of the signed element",
        ));
    }
    let children = elements(reference)?;
    let (transforms, rest) = match children.split_first() {
        Some((first, rest)) if is_dsig(*first, "Transforms") => (Some(*first), rest),
        _ => (None, children.as_slice()),
    };
    let [digest_method, digest_value] = rest else {
        return Err(refuse(
            "a Reference holds Transforms, DigestMethod and DigestValue, nothing else",
        ));
    };
    if let Some(transforms) = transforms {
        check_transforms(transforms)?;
    }
    expect(*digest_method, "DigestMethod")?;
    no_children(*digest_method)?;
    if !digest_method
        .attribute("Algorithm")
        .is_some_and(|a| DIGEST_METHODS.contains(&a))
    {
        return Err(SamlError::Signature);
    }
    expect(*digest_value, "DigestValue")?;
    text_only(*digest_value)
}

/// At most one enveloped-signature and one exclusive c14n transform.
fn check_transforms(transforms: Node<'_, '_>) -> Result<(), SamlError> {
    let children = elements(transforms)?;
    if children.is_empty() || children.len() > 2 {
        return Err(refuse("Transforms holds one or two Transform elements"));
    }
    let mut seen = Vec::new();
    for transform in children {
        expect(transform, "Transform")?;
        let algorithm = transform.attribute("Algorithm").unwrap_or_default();
        match algorithm {
            ENVELOPED => no_children(transform)?,
            EXC_C14N => check_c14n_parameters(transform)?,
            other => {
                return Err(refuse(format!(
                    "the transform {:?} is not allowed (only enveloped-signature and exclusive c14n)",
                    shown(other)
                )));
            }
        }
        if seen.contains(&algorithm) {
            return Err(refuse("the same transform twice"));
        }
        seen.push(algorithm);
    }
    Ok(())
}

/// Exclusive c14n takes one optional `InclusiveNamespaces PrefixList="…"`.
fn check_c14n_parameters(method: Node<'_, '_>) -> Result<(), SamlError> {
    match elements(method)?.as_slice() {
        [] => Ok(()),
        [inclusive]
            if inclusive.tag_name().namespace() == Some(EXC_C14N)
                && inclusive.tag_name().name() == "InclusiveNamespaces"
                && inclusive
                    .attributes()
                    .all(|a| a.name() == "PrefixList" && a.namespace().is_none()) =>
        {
            no_children(*inclusive)
        }
        _ => Err(refuse(
            "exclusive c14n takes only an InclusiveNamespaces PrefixList",
        )),
    }
}

/// `KeyInfo` may name or carry the certificate, never point elsewhere
/// (`RetrievalMethod`) or carry anything else; it is never read anyway.
fn check_key_info(key_info: Node<'_, '_>) -> Result<(), SamlError> {
    for child in elements(key_info)? {
        if is_dsig(child, "KeyName") {
            text_only(child)?;
        } else if is_dsig(child, "X509Data") {
            for item in elements(child)? {
                let allowed = ["X509Certificate", "X509SubjectName", "X509SKI"]
                    .iter()
                    .any(|name| is_dsig(item, name));
                if allowed {
                    text_only(item)?;
                } else if is_dsig(item, "X509IssuerSerial") {
                    for part in elements(item)? {
                        if !is_dsig(part, "X509IssuerName") && !is_dsig(part, "X509SerialNumber") {
                            return Err(refuse("X509IssuerSerial holds only its name and number"));
                        }
                        text_only(part)?;
                    }
                } else {
                    return Err(refuse(format!(
                        "X509Data may not hold <{}>",
                        shown(item.tag_name().name())
                    )));
                }
            }
        } else {
            return Err(refuse(format!(
                "KeyInfo may hold only X509Data and KeyName, not <{}>",
                shown(child.tag_name().name())
            )));
        }
    }
    Ok(())
}

/// The element children of `node`; text between them must be whitespace, and
/// nothing else (processing instructions) may sit there.
fn elements<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, SamlError> {
    let mut found = Vec::new();
    for child in node.children() {
        if child.is_element() {
            found.push(child);
        } else if !(child.is_text() && child.text().is_some_and(|t| t.trim().is_empty())) {
            return Err(refuse(format!(
                "unexpected content inside <{}>",
                shown(node.tag_name().name())
            )));
        }
    }
    Ok(found)
}

fn no_children(node: Node<'_, '_>) -> Result<(), SamlError> {
    if elements(node)?.is_empty() {
        Ok(())
    } else {
        Err(refuse(format!(
            "<{}> takes no child elements",
            shown(node.tag_name().name())
        )))
    }
}

fn text_only(node: Node<'_, '_>) -> Result<(), SamlError> {
    if node.children().all(|c| c.is_text()) {
        Ok(())
    } else {
        Err(refuse(format!(
            "<{}> holds text only",
            shown(node.tag_name().name())
        )))
    }
}

fn expect(node: Node<'_, '_>, name: &str) -> Result<(), SamlError> {
    if is_dsig(node, name) {
        Ok(())
    } else {
        Err(refuse(format!(
            "<{}> where ds:{name} belongs",
            shown(node.tag_name().name())
        )))
    }
}

fn is_dsig(node: Node<'_, '_>, name: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(DSIG_NS)
        && node.tag_name().name() == name
}

/// IDs as real IdPs write them (`_` + hex, `id-` + random, `ID_` + UUID): an
/// ASCII NCName. xmlsec turns `#id` into `xpointer(id('id'))`, so nothing that
/// could close that expression may pass.
fn is_plain_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && id.len() <= 256
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_r">"#;

    fn signature(reference: &str, transforms: &str, key_info: &str) -> String {
        format!(
            r#"<ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>{reference}<ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>x</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>y</ds:SignatureValue>{key_info}</ds:Signature>"#
        )
    }

    const GOOD_TRANSFORMS: &str = r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform>"#;

    fn check(
        response_signature: &str,
        assertion_signature: &str,
    ) -> Result<Vec<SignatureSite>, SamlError> {
        let xml = format!(
            "{OPEN}{response_signature}<saml:Assertion ID=\"_a\">{assertion_signature}</saml:Assertion></samlp:Response>"
        );
        let document = roxmltree::Document::parse(&xml).unwrap();
        let assertion = document
            .root_element()
            .children()
            .find(|n| n.has_tag_name("Assertion"));
        check_signatures(&document, assertion)
    }

    fn profile_refusal(result: Result<Vec<SignatureSite>, SamlError>) -> String {
        match result {
            Err(SamlError::Profile(detail)) => detail,
            other => panic!("expected a profile refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_profile_itself_passes_at_both_sites() {
        let response = signature(
            r##"<ds:Reference URI="#_r">"##,
            GOOD_TRANSFORMS,
            "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>AA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
        );
        let assertion = signature(r##"<ds:Reference URI="#_a">"##, GOOD_TRANSFORMS, "");
        assert_eq!(
            check(&response, &assertion).unwrap(),
            vec![SignatureSite::Response, SignatureSite::Assertion]
        );
        assert_eq!(check("", "").unwrap(), vec![]);
    }

    #[test]
    fn references_other_than_the_parent_are_refused() {
        for uri in [
            "",
            "#_a",
            "#xpointer(id('_r'))",
            "#xpointer(/)",
            "http://127.0.0.1:9/x",
            "file:///etc/hostname",
        ] {
            let sig = signature(
                &format!(r#"<ds:Reference URI="{uri}">"#),
                GOOD_TRANSFORMS,
                "",
            );
            profile_refusal(check(&sig, ""));
        }
        let no_uri = signature("<ds:Reference>", GOOD_TRANSFORMS, "");
        profile_refusal(check(&no_uri, ""));
    }

    #[test]
    fn other_transforms_are_refused() {
        for transform in [
            r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>1</ds:XPath></ds:Transform>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#WithComments"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#base64"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
        ] {
            let sig = signature(r##"<ds:Reference URI="#_r">"##, transform, "");
            profile_refusal(check(&sig, ""));
        }
    }

    #[test]
    fn retrieval_method_objects_and_extra_parts_are_refused() {
        let retrieval = signature(
            r##"<ds:Reference URI="#_r">"##,
            GOOD_TRANSFORMS,
            r#"<ds:KeyInfo><ds:RetrievalMethod URI="http://127.0.0.1:9/k"/></ds:KeyInfo>"#,
        );
        profile_refusal(check(&retrieval, ""));
        let two_references = signature(
            r##"<ds:Reference URI="#_r"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>x</ds:DigestValue></ds:Reference><ds:Reference URI="#_r">"##,
            GOOD_TRANSFORMS,
            "",
        );
        profile_refusal(check(&two_references, ""));
        let good = signature(r##"<ds:Reference URI="#_r">"##, GOOD_TRANSFORMS, "");
        let with_object = good.replace("</ds:Signature>", "<ds:Object/></ds:Signature>");
        profile_refusal(check(&with_object, ""));
        let two_signed_infos = good.replacen(
            "</ds:SignedInfo>",
            &format!(
                "</ds:SignedInfo>{}",
                &good[good.find("<ds:SignedInfo>").unwrap()
                    ..good.find("<ds:SignatureValue>").unwrap()]
            ),
            1,
        );
        profile_refusal(check(&two_signed_infos, ""));
        profile_refusal(check(&format!("{good}{good}"), ""));
    }

    #[test]
    fn weak_algorithms_are_signature_refusals() {
        let sha1 = signature(r##"<ds:Reference URI="#_r">"##, GOOD_TRANSFORMS, "")
            .replace("xmldsig-more#rsa-sha256", "xmldsig#rsa-sha1");
        assert!(matches!(check(&sha1, ""), Err(SamlError::Signature)));
    }

    #[test]
    fn ids_that_could_escape_an_xpointer_are_refused() {
        assert!(is_plain_id("_8f3a"));
        assert!(is_plain_id("id-Xy.z_1"));
        assert!(!is_plain_id("1abc"));
        assert!(!is_plain_id("a')or('1"));
        assert!(!is_plain_id(""));
    }
}
