//! An upstream SAML2 IdP: its metadata can be read and parsed as the bridge
//! does, has the HTTP-Redirect SSO service the bridge uses, and a signing
//! certificate that is not expired (nor about to be).

use openssl::nid::Nid;
use openssl::x509::X509;
use samael::metadata::{EntityDescriptor, KeyDescriptor};

use super::http::describe;
use super::report::Check;
use crate::config::{MetadataSource, SamlUpstream};

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// A certificate expiring sooner than this is a warning: roll it over now.
const EXPIRY_WARNING_DAYS: i32 = 30;

pub async fn check(http: &reqwest::Client, upstream: &SamlUpstream) -> Vec<Check> {
    let subject = format!("upstream {} (SAML): metadata", upstream.id);
    let (xml, source) = match fetch(http, &upstream.metadata).await {
        Ok(found) => found,
        Err((detail, fix)) => return vec![Check::fail(subject, detail, fix)],
    };
    let metadata = match parse(&xml) {
        Ok(m) => m,
        Err(e) => {
            return vec![Check::fail(
                subject,
                format!("{source}: {e}"),
                "ask the IdP's administrator for its current SAML2 metadata",
            )];
        }
    };
    let entity_id = metadata.entity_id.clone().unwrap_or_default();
    let descriptors = metadata.idp_sso_descriptors.as_deref().unwrap_or_default();
    let Some(sso) = descriptors
        .iter()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|s| s.binding == REDIRECT_BINDING)
    else {
        return vec![Check::fail(
            subject,
            format!("{source}: no SingleSignOnService with the HTTP-Redirect binding"),
            "the bridge sends AuthnRequests over HTTP-Redirect: enable that binding at the IdP",
        )];
    };
    let mut checks = vec![Check::ok(
        subject,
        format!("{source}: entityID {entity_id}, SSO at {}", sso.location),
    )];
    let keys: Vec<&KeyDescriptor> = descriptors
        .iter()
        .flat_map(|d| d.key_descriptors.iter())
        .collect();
    checks.push(certificate(&upstream.id, &keys));
    checks
}

async fn fetch(
    http: &reqwest::Client,
    source: &MetadataSource,
) -> Result<(String, String), (String, String)> {
    match source {
        MetadataSource::File(path) => match tokio::fs::read_to_string(path).await {
            Ok(xml) => Ok((xml, format!("file {}", path.display()))),
            Err(e) => Err((
                format!("cannot read {}: {e}", path.display()),
                "correct `metadata_file`, or give the bridge's user read access".into(),
            )),
        },
        MetadataSource::Url(url) => {
            let fix = "correct `metadata_url`, or make it reachable from the bridge's host";
            let response = http
                .get(url.as_str())
                .send()
                .await
                .map_err(|e| (format!("{url}: {}", describe(&e)), fix.to_owned()))?;
            let status = response.status();
            if !status.is_success() {
                return Err((format!("{url} answered HTTP {status}"), fix.to_owned()));
            }
            let xml = response
                .text()
                .await
                .map_err(|e| (format!("{url}: {}", describe(&e)), fix.to_owned()))?;
            Ok((xml, url.to_string()))
        }
    }
}

/// The same gate as the bridge: well-formed, no DOCTYPE, then samael's parser.
fn parse(xml: &str) -> Result<EntityDescriptor, String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 200_000,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(xml, options)
        .map_err(|e| format!("not well-formed XML, or has a DOCTYPE: {e}"))?;
    let metadata: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("not SAML2 metadata: {e}"))?;
    if metadata.entity_id.is_none() {
        return Err("the metadata has no entityID".into());
    }
    Ok(metadata)
}

/// samael's rule: keys marked `signing`, else keys with no `use`. The best
/// (latest-expiring) certificate decides, since IdPs publish old and new
/// together during a roll-over.
fn certificate(upstream: &str, keys: &[&KeyDescriptor]) -> Check {
    let subject = format!("upstream {upstream} (SAML): signing certificate");
    let marked: Vec<&KeyDescriptor> = keys
        .iter()
        .copied()
        .filter(|k| k.key_use.as_deref() == Some("signing"))
        .collect();
    let chosen = if marked.is_empty() {
        keys.iter()
            .copied()
            .filter(|k| k.key_use.as_deref().is_none_or(str::is_empty))
            .collect()
    } else {
        marked
    };
    let certificates: Vec<X509> = chosen
        .iter()
        .filter_map(|k| k.key_info.x509_data.as_ref())
        .flat_map(|d| d.certificates.iter())
        .filter_map(|b64| decode(b64))
        .collect();
    let best = certificates
        .iter()
        .filter_map(|c| days_left(c).map(|days| (c, days)))
        .max_by_key(|(_, days)| *days);
    let Some((cert, days)) = best else {
        return Check::fail(
            subject,
            "the metadata has no usable signing certificate; the bridge refuses to start without one",
            "ask the IdP's administrator for metadata with a KeyDescriptor use=\"signing\"",
        );
    };
    let name = common_name(cert);
    let until = cert.not_after().to_string();
    if days < 0 {
        Check::fail(
            subject,
            format!("{name} expired on {until}"),
            "the IdP must roll over its key; then refresh its metadata here",
        )
    } else if days < EXPIRY_WARNING_DAYS {
        Check::warn(
            subject,
            format!("{name} expires on {until}, in {days} day(s)"),
            "ask the IdP's administrator to publish its next certificate in the metadata now",
        )
    } else {
        Check::ok(subject, format!("{name}, valid until {until}"))
    }
}

fn decode(b64: &str) -> Option<X509> {
    use base64::Engine;
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    X509::from_der(&der).ok()
}

/// Whole days until the certificate's notAfter; negative once it has passed.
fn days_left(cert: &X509) -> Option<i32> {
    let now = openssl::asn1::Asn1Time::days_from_now(0).ok()?;
    let diff = now.diff(cert.not_after()).ok()?;
    Some(if diff.days == 0 && diff.secs < 0 {
        -1
    } else {
        diff.days
    })
}

fn common_name(cert: &X509) -> String {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .map_or_else(|| "certificate".to_owned(), |cn| format!("CN={cn}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn cert(valid_days: i64) -> X509 {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, "idp.test")
            .unwrap();
        let name = name.build();
        let mut builder = X509Builder::new().unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let not_before = Asn1Time::from_unix(now - 400 * 86_400).unwrap();
        let not_after = Asn1Time::from_unix(now + valid_days * 86_400).unwrap();
        builder.set_not_before(&not_before).unwrap();
        builder.set_not_after(&not_after).unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        builder.build()
    }

    fn descriptor(certs: &[X509], key_use: Option<&str>) -> KeyDescriptor {
        use base64::Engine;
        let encoded: Vec<String> = certs
            .iter()
            .map(|c| base64::engine::general_purpose::STANDARD.encode(c.to_der().unwrap()))
            .collect();
        KeyDescriptor {
            key_use: key_use.map(str::to_owned),
            key_info: samael::key_info::KeyInfo {
                id: None,
                x509_data: Some(samael::key_info::X509Data {
                    certificates: encoded,
                }),
            },
            encryption_methods: None,
        }
    }

    #[test]
    fn expiry_is_graded() {
        let ok = descriptor(&[cert(365)], Some("signing"));
        assert_eq!(
            certificate("u", &[&ok]).status,
            super::super::report::Status::Ok
        );
        let soon = descriptor(&[cert(10)], None);
        let check = certificate("u", &[&soon]);
        assert_eq!(check.status, super::super::report::Status::Warn);
        assert!(check.detail.contains("CN=idp.test"), "{}", check.detail);
        let expired = descriptor(&[cert(-2)], Some("signing"));
        assert_eq!(
            certificate("u", &[&expired]).status,
            super::super::report::Status::Fail
        );
        // During a roll-over the newer certificate decides.
        let both = descriptor(&[cert(-2), cert(365)], Some("signing"));
        assert_eq!(
            certificate("u", &[&both]).status,
            super::super::report::Status::Ok
        );
        // An encryption-only key is no signing key.
        let encryption = descriptor(&[cert(365)], Some("encryption"));
        assert_eq!(
            certificate("u", &[&encryption]).status,
            super::super::report::Status::Fail
        );
    }
}
