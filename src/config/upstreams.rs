//! `[[upstreams]]`: the university's OIDC and SAML2 identity providers, checked.

use url::Url;

use super::file::{OidcUpstreamFile, SamlUpstreamFile};
use super::validate::{Problems, placeholder_url, valid_id};
use super::{MetadataSource, OidcUpstream, SamlUpstream};

pub(super) fn oidc_upstream(p: &mut Problems, i: usize, o: OidcUpstreamFile) -> OidcUpstream {
    let key = |k: &str| format!("upstreams[{i}].{k}");
    if !valid_id(&o.id) {
        p.add(
            key("id"),
            format!("{:?} is not a valid id", o.id),
            "use 1–64 characters of a-z, 0-9, - and _",
        );
    }
    if !matches!(Url::parse(&o.issuer), Ok(url) if matches!(url.scheme(), "http" | "https")) {
        p.add(
            key("issuer"),
            format!("{:?} is not an http(s) URL", o.issuer),
            "give the IdP's issuer exactly as its discovery document says",
        );
    }
    if !o.scopes.iter().any(|s| s == "openid") {
        p.add(
            key("scopes"),
            "the `openid` scope is missing",
            "add \"openid\" to scopes",
        );
    }
    if o.client_id.is_empty() {
        p.add(
            key("client_id"),
            "is empty",
            "give the client id the IdP registered for the bridge",
        );
    }
    let client_secret = p.secret(&key("client_secret"), &o.client_secret, 1);
    OidcUpstream {
        name: o.name.unwrap_or_else(|| o.id.clone()),
        id: o.id,
        issuer: o.issuer,
        client_id: o.client_id,
        client_secret,
        scopes: o.scopes,
    }
}

const NAME_ID_FORMATS: &[(&str, &str)] = &[
    (
        "persistent",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    ),
    (
        "transient",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    ),
    (
        "email",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    ),
    (
        "unspecified",
        "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    ),
];

pub(super) fn saml_upstream(
    p: &mut Problems,
    i: usize,
    f: SamlUpstreamFile,
    base: &Url,
    allowed_origins: &[url::Origin],
) -> SamlUpstream {
    let key = |k: &str| format!("upstreams[{i}].{k}");
    if !valid_id(&f.id) {
        p.add(
            key("id"),
            format!("{:?} is not a valid id", f.id),
            "use 1–64 characters of a-z, 0-9, - and _",
        );
    }
    let metadata = match (&f.metadata_file, &f.metadata_url) {
        (Some(file), None) => MetadataSource::File(file.into()),
        (None, Some(url)) => match Url::parse(url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => MetadataSource::Url(url),
            _ => {
                p.add(
                    key("metadata_url"),
                    format!("{url:?} is not an http(s) URL"),
                    "give the URL the IdP publishes its metadata at",
                );
                MetadataSource::Url(placeholder_url())
            }
        },
        _ => {
            p.add(
                key("metadata_file"),
                "give exactly one of metadata_file and metadata_url",
                "point to the IdP's SAML metadata, as a file or a URL",
            );
            MetadataSource::File("".into())
        }
    };
    let sp_private_key_pem = p.secret(&key("sp_private_key"), &f.sp_private_key, 1);
    if !sp_private_key_pem.expose().is_empty()
        && !sp_private_key_pem.expose().contains("PRIVATE KEY-----")
    {
        p.add(key("sp_private_key"), "is not a PEM private key", "give the SP key as PEM, e.g. { file = \"/etc/sso-bridge/saml-sp.key\" } (openssl req -x509 -newkey rsa:2048 -nodes …)");
    }
    let sp_certificate_pem = match std::fs::read_to_string(&f.sp_certificate_file) {
        Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => pem,
        Ok(_) => {
            p.add(
                key("sp_certificate_file"),
                "is not a PEM certificate",
                "give the path of the SP certificate in PEM",
            );
            String::new()
        }
        Err(e) => {
            p.add(
                key("sp_certificate_file"),
                format!("cannot read {}: {e}", f.sp_certificate_file),
                "give the path of the SP certificate in PEM",
            );
            String::new()
        }
    };
    let name_id_format = NAME_ID_FORMATS
        .iter()
        .find(|(short, urn)| *short == f.name_id_format || *urn == f.name_id_format)
        .map(|(_, urn)| (*urn).to_owned())
        .unwrap_or_else(|| {
            p.add(
                key("name_id_format"),
                format!("{:?} is not a known NameID format", f.name_id_format),
                "use persistent, transient, email or unspecified",
            );
            String::new()
        });
    if !name_id_format.ends_with(":persistent") && f.subject_attribute.is_none() {
        p.add(
            key("subject_attribute"),
            "only a persistent NameID is stable; with another format every login could be a new account",
            "set subject_attribute to a stable attribute (e.g. \"eduPersonPrincipalName\"), or ask for persistent NameIDs",
        );
    }
    if !(0..=600).contains(&f.clock_skew_seconds) {
        p.add(
            key("clock_skew_seconds"),
            format!("{} is out of range", f.clock_skew_seconds),
            "use 0 to 600 seconds (60 is usual)",
        );
    }
    if f.metadata_refresh_seconds < 60 {
        p.add(
            key("metadata_refresh_seconds"),
            "is below 60",
            "refresh at most once a minute; hourly is usual",
        );
    }
    let unsolicited_redirect_url = f.unsolicited_redirect_url.as_deref().map(|raw| match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && (allowed_origins.contains(&url.origin()) || url.origin() == base.origin()) => url,
        _ => {
            p.add(
                key("unsolicited_redirect_url"),
                format!("{raw:?} is not an http(s) URL on redirects.allowed_origins"),
                "give the Matrix client URL IdP-initiated logins should land at, and list its origin in redirects.allowed_origins",
            );
            placeholder_url()
        }
    });
    let default_entity_id = {
        let mut url = base.clone();
        let path = format!("{}_sso_bridge/upstream/saml/{}/metadata", base.path(), f.id);
        url.set_path(&path);
        url.to_string()
    };
    SamlUpstream {
        name: f.name.unwrap_or_else(|| f.id.clone()),
        sp_entity_id: f.sp_entity_id.unwrap_or(default_entity_id),
        id: f.id,
        metadata,
        metadata_refresh_seconds: f.metadata_refresh_seconds,
        sp_private_key_pem,
        sp_certificate_pem,
        sign_requests: f.sign_requests,
        clock_skew_seconds: f.clock_skew_seconds,
        name_id_format,
        subject_attribute: f.subject_attribute,
        unsolicited_redirect_url,
        friendly_names: f.friendly_names,
    }
}
