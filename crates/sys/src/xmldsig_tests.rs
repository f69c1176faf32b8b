//! The confinement on its own, with the profile check bypassed: what reaches
//! `verify` here never passed `profile`.
use std::time::{Duration, Instant};

use samael::crypto::{CertificateDer, Crypto, CryptoProvider};

use super::*;

use crate::tripwire::Tripwires;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/saml")
            .join(name),
    )
    .expect("fixture")
}

fn idp_certificate_der() -> Vec<u8> {
    X509::from_pem(&fixture("idp.crt"))
        .and_then(|c| c.to_der())
        .expect("certificate")
}

fn idp_key() -> VerificationKey {
    VerificationKey::from_certificate_der(&idp_certificate_der()).expect("key")
}

fn sign(xml: &str) -> String {
    let der = openssl::pkey::PKey::private_key_from_pem(&fixture("idp.key"))
        .and_then(|k| k.private_key_to_der())
        .expect("private key");
    Crypto::sign_xml(xml, &der).expect("xmlsec signs")
}

/// A Response whose signature has `reference` (a whole `<ds:Reference …>`
/// opening tag) and `transforms`, and values that verify nothing.
fn response(reference: &str, transforms: &str, padding: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>{reference}<ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>{padding}</samlp:Response>"#
    )
}

const ENVELOPED_EXC_C14N: &str = r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;

fn verify_response(xml: &str) -> Result<Vec<String>, DsigError> {
    verify(xml, &[SignatureSite::Response], &[idp_key()])
}

#[test]
fn a_signature_by_the_key_verifies_and_yields_the_signed_text() {
    let signed = sign(&response(
        r##"<ds:Reference URI="#_r">"##,
        ENVELOPED_EXC_C14N,
        "<samlp:Extensions>kept</samlp:Extensions>",
    ));
    let texts = verify_response(&signed).expect("verifies");
    assert_eq!(texts.len(), 1);
    assert!(texts[0].starts_with("<samlp:Response"), "{}", texts[0]);
    assert!(texts[0].contains("kept"), "{}", texts[0]);
    assert!(!texts[0].contains("Signature"), "enveloped: {}", texts[0]);
    let altered = signed.replace(">kept<", ">forged<");
    assert_eq!(verify_response(&altered), Err(DsigError::Invalid));
    let other = VerificationKey::from_certificate_der(
        &X509::from_pem(&fixture("other.crt"))
            .and_then(|c| c.to_der())
            .expect("other"),
    )
    .expect("other key");
    assert_eq!(
        verify(&signed, &[SignatureSite::Response], &[other]),
        Err(DsigError::Invalid)
    );
}

#[test]
fn a_whole_document_reference_is_refused_even_when_correctly_signed() {
    // Valid under plain xmlsec; only the context's same-document-ID rule refuses it.
    let signed = sign(&response(
        r#"<ds:Reference URI="">"#,
        ENVELOPED_EXC_C14N,
        "",
    ));
    assert_eq!(verify_response(&signed), Err(DsigError::Invalid));
}

#[test]
fn external_references_open_no_socket_and_no_file() {
    let wires = Tripwires::set();
    for url in [wires.http_url(), wires.file_url(), wires.fifo_url()] {
        let xml = response(
            &format!(r#"<ds:Reference URI="{url}">"#),
            ENVELOPED_EXC_C14N,
            "",
        );
        let started = Instant::now();
        assert_eq!(verify_response(&xml), Err(DsigError::Invalid), "{url}");
        assert!(started.elapsed() < Duration::from_secs(2), "{url}");
    }
    wires.assert_untouched();
}

/// The process-wide lock alone: samael's own, unconfined context would
/// dereference these; libxml2 and xmlsec have no way left to do it.
#[test]
fn the_process_lock_holds_even_for_an_unconfined_context() {
    let _ = idp_key();
    assert!(process_is_confined());
    let wires = Tripwires::set();
    let der = idp_certificate_der();
    for url in [wires.http_url(), wires.file_url(), wires.fifo_url()] {
        let xml = response(&format!(r#"<ds:Reference URI="{url}">"#), "", "");
        let (done, finished) = std::sync::mpsc::channel();
        let certificate = CertificateDer::from(der.clone());
        std::thread::spawn(move || {
            let _ = done.send(Crypto::verify_signed_xml(xml, &certificate, None).is_err());
        });
        let refused = finished
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("xmlsec hung on {url}"));
        assert!(refused, "{url}");
    }
    wires.assert_untouched();
}

#[test]
fn xpath_and_xslt_transforms_never_run() {
    let padding = "<e><f/></e>".repeat(400);
    let transforms = [
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//*[count(//*) &gt; 0]) &gt; 0</ds:XPath></ds:Transform>"#,
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:for-each select="//*"><xsl:for-each select="//*"><xsl:for-each select="//*"><xsl:value-of select="name()"/></xsl:for-each></xsl:for-each></xsl:for-each></xsl:template></xsl:stylesheet></ds:Transform>"#,
    ];
    for transform in transforms {
        let xml = response(r##"<ds:Reference URI="#_r">"##, transform, &padding);
        let started = Instant::now();
        assert_eq!(verify_response(&xml), Err(DsigError::Invalid));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "took {:?}: the transform ran",
            started.elapsed()
        );
    }
}

#[test]
fn ecdsa_keys_from_the_metadata_verify_too() {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("pkey");
    let mut builder = openssl::x509::X509Builder::new().expect("builder");
    builder.set_pubkey(&key).expect("public key");
    let mut name = openssl::x509::X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "ecdsa-idp.test")
        .expect("CN");
    let name = name.build();
    builder.set_subject_name(&name).expect("subject");
    builder.set_issuer_name(&name).expect("issuer");
    builder
        .set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).expect("now"))
        .expect("not before");
    builder
        .set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).expect("tomorrow"))
        .expect("not after");
    builder
        .sign(&key, openssl::hash::MessageDigest::sha256())
        .expect("self-signed");
    let certificate = builder.build().to_der().expect("DER");
    let verification = VerificationKey::from_certificate_der(&certificate).expect("EC key loads");
    let template = response(r##"<ds:Reference URI="#_r">"##, ENVELOPED_EXC_C14N, "")
        .replace("xmldsig-more#rsa-sha256", "xmldsig-more#ecdsa-sha256");
    let signed = Crypto::sign_xml(template, &key.private_key_to_der().expect("DER"))
        .expect("xmlsec signs with ECDSA");
    assert_eq!(
        verify(&signed, &[SignatureSite::Response], &[verification])
            .expect("verifies")
            .len(),
        1
    );
    // The RSA key of the IdP does not verify an ECDSA signature.
    assert_eq!(verify_response(&signed), Err(DsigError::Invalid));
}

#[test]
fn an_encoding_declaration_cannot_make_libxml2_read_other_text() {
    // The profile check reads the string as UTF-8; so must xmlsec, whatever the
    // declaration says (read as Latin-1, "é" would be two other characters).
    let signed = sign(&response(
        r##"<ds:Reference URI="#_r">"##,
        ENVELOPED_EXC_C14N,
        "<samlp:Extensions>Zoé</samlp:Extensions>",
    ));
    let body = signed
        .trim_start()
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
        .map_or(signed.as_str(), |(_, body)| body);
    let declared = format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{body}");
    let texts = verify_response(&declared).expect("verifies as UTF-8");
    assert!(texts[0].contains("Zoé"), "{}", texts[0]);
}
