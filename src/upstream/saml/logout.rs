//! IdP-initiated single logout: the IdP's LogoutRequest, verified as fail-closed
//! as a Response at the ACS, and our signed LogoutResponse.
//!
//! - HTTP-Redirect binding: the signature covers the query string, so it is
//!   checked on the raw octets (size-capped, an RSA-SHA2 `SigAlg`, a key from
//!   the metadata) before the message is even inflated; inflating is capped.
//! - HTTP-POST binding: the shape limits, one parse, the signature profile (one
//!   enveloped signature on the LogoutRequest itself), then xmlsec in its
//!   confined context; only the text the signature covers is read.
//!
//! Either way the signed message must be a LogoutRequest from the metadata's
//! entityID, to our SLO URL, issued within the last five minutes, not past its
//! NotOnOrAfter, naming a NameID; its ID is the caller's to remember (replay).

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};

use super::limits::{LIMITS, check_shape};
use super::precheck::{check_unique_ids, child, parse};
use super::profile::check_signatures;
use super::xmldsig::{self, SignatureSite, VerificationKey};
use super::{ASSERTION_NS, PROTOCOL_NS, SamlError, shown, xml_escape};

/// Longer than any IdP's LogoutRequest, deflated and encoded, or posted.
pub const MAX_REDIRECT_QUERY_BYTES: usize = 16 * 1024;
/// What a deflated LogoutRequest may inflate to (a deflate bomb stops here).
const MAX_INFLATED_BYTES: usize = 64 * 1024;
/// How old a LogoutRequest may be (its IssueInstant).
const MAX_AGE_SECONDS: i64 = 300;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";

/// How the LogoutRequest came.
pub enum LogoutBinding {
    /// The request's raw query string, exactly as received (still URL-encoded).
    Redirect(String),
    /// The posted `SAMLRequest` (base64) and `RelayState`.
    Post {
        saml_request: String,
        relay_state: Option<String>,
    },
}

/// What a verified LogoutRequest asks.
#[derive(Debug, Clone)]
pub struct VerifiedLogoutRequest {
    pub id: String,
    pub name_id: String,
    pub session_indexes: Vec<String>,
    pub relay_state: Option<String>,
    /// Until when its ID must be remembered against replays.
    pub remember_until: i64,
}

/// What the checks need from the IdP's metadata and our configuration.
pub(super) struct LogoutCheck<'a> {
    pub idp_entity_id: &'a str,
    pub xmlsec_keys: &'a [VerificationKey],
    pub public_keys: &'a [PKey<Public>],
    pub slo_url: &'a str,
    pub skew: i64,
    pub now: DateTime<Utc>,
}

fn refused(reason: &'static str, detail: impl Into<String>) -> SamlError {
    SamlError::Rejected {
        reason,
        detail: detail.into(),
    }
}

impl LogoutCheck<'_> {
    pub(super) fn verify(
        &self,
        binding: &LogoutBinding,
    ) -> Result<VerifiedLogoutRequest, SamlError> {
        let (signed_xml, relay_state) = match binding {
            LogoutBinding::Redirect(query) => self.redirect(query)?,
            LogoutBinding::Post {
                saml_request,
                relay_state,
            } => (self.post(saml_request)?, relay_state.clone()),
        };
        self.read(&signed_xml, relay_state)
    }

    /// HTTP-Redirect: the query's signature first, then the message.
    fn redirect(&self, query: &str) -> Result<(String, Option<String>), SamlError> {
        if query.len() > MAX_REDIRECT_QUERY_BYTES {
            return Err(refused("saml_malformed", "the query is longer than 16 KiB"));
        }
        let mut request = None;
        let mut relay = None;
        let mut sig_alg = None;
        let mut signature = None;
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "SAMLRequest" => &mut request,
                "RelayState" => &mut relay,
                "SigAlg" => &mut sig_alg,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(refused("saml_malformed", format!("{name} is given twice")));
            }
        }
        let request = request.ok_or_else(|| refused("saml_malformed", "no SAMLRequest"))?;
        let (Some(sig_alg), Some(signature)) = (sig_alg, signature) else {
            return Err(refused(
                "saml_logout_unsigned",
                "the LogoutRequest is not signed",
            ));
        };
        // SAML bindings §3.4.4.1: the signed octets are the parameters as sent.
        let mut signed = format!("SAMLRequest={request}");
        if let Some(relay) = relay {
            signed.push_str("&RelayState=");
            signed.push_str(relay);
        }
        signed.push_str("&SigAlg=");
        signed.push_str(sig_alg);
        let digest = match url_decode(sig_alg)?.as_str() {
            RSA_SHA256 => MessageDigest::sha256(),
            RSA_SHA384 => MessageDigest::sha384(),
            RSA_SHA512 => MessageDigest::sha512(),
            _ => return Err(SamlError::Signature),
        };
        let signature = STANDARD
            .decode(url_decode(signature)?)
            .map_err(|_| refused("saml_malformed", "the Signature is not base64"))?;
        let verified = self.public_keys.iter().any(|key| {
            key.rsa().is_ok()
                && openssl::sign::Verifier::new(digest, key)
                    .and_then(|mut v| v.verify_oneshot(&signature, signed.as_bytes()))
                    .unwrap_or(false)
        });
        if !verified {
            return Err(SamlError::Signature);
        }
        // Authenticated from here on: inflate (capped), then read.
        let deflated = STANDARD
            .decode(url_decode(request)?)
            .map_err(|_| SamlError::NotBase64)?;
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .take(MAX_INFLATED_BYTES as u64 + 1)
            .read_to_string(&mut xml)
            .map_err(|_| {
                refused(
                    "saml_malformed",
                    "the SAMLRequest does not inflate to UTF-8",
                )
            })?;
        if xml.len() > MAX_INFLATED_BYTES {
            return Err(refused(
                "saml_malformed",
                "the SAMLRequest inflates past 64 KiB",
            ));
        }
        let relay = relay.map(url_decode).transpose()?;
        Ok((xml, relay))
    }

    /// HTTP-POST: shape, profile, then the enveloped signature; returns the
    /// exclusive-canonical text the signature covers.
    fn post(&self, saml_request: &str) -> Result<String, SamlError> {
        let xml = STANDARD
            .decode(saml_request.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(SamlError::NotBase64)?;
        check_shape(&xml, &LIMITS)?;
        {
            let document = parse(&xml)?;
            check_envelope(&document)?;
            let sites = check_signatures(&document, None)?;
            if sites != [SignatureSite::Response] {
                return Err(refused(
                    "saml_logout_unsigned",
                    "the LogoutRequest is not signed",
                ));
            }
        }
        let mut signed = xmldsig::verify(&xml, &[SignatureSite::Response], self.xmlsec_keys)
            .map_err(|_| SamlError::Signature)?;
        signed.pop().ok_or(SamlError::Signature)
    }

    /// Reads the authenticated message and checks what it says.
    fn read(
        &self,
        xml: &str,
        relay_state: Option<String>,
    ) -> Result<VerifiedLogoutRequest, SamlError> {
        check_shape(xml, &LIMITS)?;
        let document = parse(xml)?;
        check_envelope(&document)?;
        let root = document.root_element();
        let id = root
            .attribute("ID")
            .filter(|id| !id.is_empty() && id.len() <= 256)
            .ok_or_else(|| refused("saml_malformed", "the LogoutRequest has no usable ID"))?;
        let issuer = child(root, ASSERTION_NS, "Issuer")
            .and_then(|i| i.text())
            .map(str::trim)
            .unwrap_or_default();
        if issuer != self.idp_entity_id {
            return Err(refused(
                "saml_issuer",
                format!("the Issuer is {:?}", shown(issuer)),
            ));
        }
        match root.attribute("Destination") {
            Some(destination) if destination == self.slo_url => {}
            Some(other) => {
                return Err(refused(
                    "saml_destination",
                    format!("the Destination is {:?}", shown(other)),
                ));
            }
            None => {
                return Err(refused(
                    "saml_destination_missing",
                    "a signed LogoutRequest must name its Destination",
                ));
            }
        }
        let now = self.now.timestamp();
        let issued = instant(root.attribute("IssueInstant"))
            .ok_or_else(|| refused("saml_malformed", "no valid IssueInstant"))?;
        if issued > now + self.skew {
            return Err(refused(
                "saml_issued_in_future",
                "the IssueInstant is in the future",
            ));
        }
        if issued < now - MAX_AGE_SECONDS - self.skew {
            return Err(refused(
                "saml_expired",
                "the LogoutRequest is older than five minutes",
            ));
        }
        if let Some(not_on_or_after) = root.attribute("NotOnOrAfter") {
            let until = instant(Some(not_on_or_after))
                .ok_or_else(|| refused("saml_malformed", "NotOnOrAfter is not a time"))?;
            if now >= until + self.skew {
                return Err(refused(
                    "saml_expired",
                    "the LogoutRequest is past its NotOnOrAfter",
                ));
            }
        }
        let name_id = child(root, ASSERTION_NS, "NameID")
            .and_then(|n| n.text())
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                refused(
                    "saml_subject",
                    "the LogoutRequest names no NameID (an encrypted one is not supported)",
                )
            })?;
        let session_indexes = root
            .children()
            .filter(|n| {
                n.is_element()
                    && n.tag_name().namespace() == Some(PROTOCOL_NS)
                    && n.tag_name().name() == "SessionIndex"
            })
            .filter_map(|n| n.text())
            .map(|t| t.trim().to_owned())
            .collect();
        Ok(VerifiedLogoutRequest {
            id: id.to_owned(),
            name_id: name_id.to_owned(),
            session_indexes,
            relay_state,
            remember_until: issued + MAX_AGE_SECONDS + 2 * self.skew,
        })
    }
}

/// A protocol LogoutRequest, without comments, with unique IDs.
fn check_envelope(document: &roxmltree::Document<'_>) -> Result<(), SamlError> {
    let root = document.root_element();
    if root.tag_name().namespace() != Some(PROTOCOL_NS) || root.tag_name().name() != "LogoutRequest"
    {
        return Err(refused(
            "saml_malformed",
            "not a SAML protocol LogoutRequest",
        ));
    }
    if document.descendants().any(|n| n.is_comment()) {
        return Err(SamlError::Comment);
    }
    check_unique_ids(document)
}

fn instant(value: Option<&str>) -> Option<i64> {
    DateTime::parse_from_rfc3339(value?)
        .ok()
        .map(|t| t.timestamp())
}

fn url_decode(value: &str) -> Result<String, SamlError> {
    let plus_as_space = value.replace('+', " ");
    percent_decode(&plus_as_space).ok_or_else(|| refused("saml_malformed", "bad URL encoding"))
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Our answer: a LogoutResponse with Success, by the HTTP-Redirect binding,
/// signed (RSA-SHA256) with the SP key.
pub(super) fn logout_response_url(
    idp_slo_url: &str,
    sp_entity_id: &str,
    in_response_to: &str,
    response_id: &str,
    relay_state: Option<&str>,
    key: &PKey<Private>,
    now: DateTime<Utc>,
) -> Result<url::Url, String> {
    let xml = format!(
        r#"<samlp:LogoutResponse xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" InResponseTo="{in_response_to}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status></samlp:LogoutResponse>"#,
        id = xml_escape(response_id),
        instant = now.format("%Y-%m-%dT%H:%M:%SZ"),
        destination = xml_escape(idp_slo_url),
        in_response_to = xml_escape(in_response_to),
        issuer = xml_escape(sp_entity_id),
    );
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut deflater, xml.as_bytes()).map_err(|e| e.to_string())?;
    let deflated = deflater.finish().map_err(|e| e.to_string())?;
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let mut query = format!("SAMLResponse={}", encode(&STANDARD.encode(deflated)));
    if let Some(relay) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&encode(relay));
    }
    query.push_str("&SigAlg=");
    query.push_str(&encode(RSA_SHA256));
    let signature = openssl::sign::Signer::new(MessageDigest::sha256(), key)
        .and_then(|mut signer| signer.sign_oneshot_to_vec(query.as_bytes()))
        .map_err(|e| e.to_string())?;
    query.push_str("&Signature=");
    query.push_str(&encode(&STANDARD.encode(signature)));
    let mut url = url::Url::parse(idp_slo_url).map_err(|e| e.to_string())?;
    let joined = match url.query() {
        Some(existing) => format!("{existing}&{query}"),
        None => query,
    };
    url.set_query(Some(&joined));
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLO: &str = "https://bridge.example/_sso_bridge/upstream/saml/campus/slo";
    const IDP: &str = "https://idp.example/metadata";

    fn key() -> PKey<Private> {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
    }

    fn public(key: &PKey<Private>) -> PKey<Public> {
        PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap()
    }

    fn request(now: DateTime<Utc>, name_id: &str) -> String {
        format!(
            r#"<samlp:LogoutRequest xmlns:samlp="{PROTOCOL_NS}" xmlns:saml="{ASSERTION_NS}" ID="_lr1" Version="2.0" IssueInstant="{}" Destination="{SLO}"><saml:Issuer>{IDP}</saml:Issuer><saml:NameID>{name_id}</saml:NameID><samlp:SessionIndex>s-1</samlp:SessionIndex></samlp:LogoutRequest>"#,
            now.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }

    fn encode(v: &str) -> String {
        url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
    }

    /// A query as an IdP sends it: the deflated message, RelayState, SigAlg, Signature.
    fn signed_query(xml: &[u8], key: &PKey<Private>) -> String {
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut deflater, xml).unwrap();
        let deflated = deflater.finish().unwrap();
        let query = format!(
            "SAMLRequest={}&RelayState=r&SigAlg={}",
            encode(&STANDARD.encode(deflated)),
            encode(RSA_SHA256)
        );
        let signature = openssl::sign::Signer::new(MessageDigest::sha256(), key)
            .unwrap()
            .sign_oneshot_to_vec(query.as_bytes())
            .unwrap();
        format!("{query}&Signature={}", encode(&STANDARD.encode(signature)))
    }

    fn check(
        keys: &[PKey<Public>],
        now: DateTime<Utc>,
        query: &str,
    ) -> Result<VerifiedLogoutRequest, SamlError> {
        LogoutCheck {
            idp_entity_id: IDP,
            xmlsec_keys: &[],
            public_keys: keys,
            slo_url: SLO,
            skew: 60,
            now,
        }
        .verify(&LogoutBinding::Redirect(query.to_owned()))
    }

    #[test]
    fn a_signed_redirect_request_is_read_and_anything_else_refused_before_inflating() {
        let now = Utc::now();
        let idp = key();
        let keys = [public(&idp)];
        let good = signed_query(request(now, "alice-nameid").as_bytes(), &idp);
        let verified = check(&keys, now, &good).unwrap();
        assert_eq!(verified.name_id, "alice-nameid");
        assert_eq!(verified.session_indexes, ["s-1"]);
        assert_eq!(verified.relay_state.as_deref(), Some("r"));

        let reason = |query: &str| check(&keys, now, query).map(|_| ()).unwrap_err().reason();
        // Another key, a changed parameter, no signature, a second SAMLRequest.
        assert_eq!(
            reason(&signed_query(request(now, "a").as_bytes(), &key())),
            "saml_signature"
        );
        assert_eq!(
            reason(&good.replace("RelayState=r", "RelayState=x")),
            "saml_signature"
        );
        let unsigned = good.split("&SigAlg").next().unwrap();
        assert_eq!(reason(unsigned), "saml_logout_unsigned");
        assert_eq!(reason(&format!("SAMLRequest=x&{good}")), "saml_malformed");
        // SHA-1 is no accepted SigAlg.
        let sha1 = good.replace(
            &encode(RSA_SHA256),
            &encode("http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
        );
        assert_eq!(reason(&sha1), "saml_signature");
        assert_eq!(
            reason(&"a".repeat(MAX_REDIRECT_QUERY_BYTES + 1)),
            "saml_malformed"
        );
        // A deflate bomb, even correctly signed, stops at 64 KiB.
        let bomb = vec![b' '; 10 * 1024 * 1024];
        assert_eq!(reason(&signed_query(&bomb, &idp)), "saml_malformed");
        // Too old, and for another SP.
        let old = now - chrono::Duration::minutes(30);
        assert_eq!(
            reason(&signed_query(request(old, "a").as_bytes(), &idp)),
            "saml_expired"
        );
        let elsewhere = request(now, "a").replace(SLO, "https://other.example/slo");
        assert_eq!(
            reason(&signed_query(elsewhere.as_bytes(), &idp)),
            "saml_destination"
        );
    }

    #[test]
    fn the_logout_response_is_a_signed_redirect_to_the_idp() {
        let sp = key();
        let url = logout_response_url(
            "https://idp.example/slo?x=1",
            "https://bridge.example/sp",
            "_lr1",
            "_resp",
            Some("r"),
            &sp,
            Utc::now(),
        )
        .unwrap();
        let query = url.query().unwrap();
        assert!(query.starts_with("x=1&SAMLResponse="), "{query}");
        let (signed, signature) = query
            .trim_start_matches("x=1&")
            .rsplit_once("&Signature=")
            .unwrap();
        let signature = STANDARD.decode(url_decode(signature).unwrap()).unwrap();
        let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &sp).unwrap();
        assert!(
            verifier
                .verify_oneshot(&signature, signed.as_bytes())
                .unwrap()
        );
    }
}
