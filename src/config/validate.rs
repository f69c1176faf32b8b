//! Turns the file as written into a `Config`, collecting every problem with its key.

use std::collections::HashSet;

use url::Url;

use super::file::{ConfigFile, DepartmentFile, OidcUpstreamFile, SamlUpstreamFile, UpstreamFile};
use super::{
    Config, ConfigError, ConfigProblem, Department, Homeserver, HomeserverProvider, Lifetimes,
    MetadataSource, OidcUpstream, SamlUpstream, Secret, SecretSource, Upstream,
};
use crate::identity::{ClaimTemplate, MembershipRule};

#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<ConfigProblem>);

impl Problems {
    pub(super) fn add(
        &mut self,
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(ConfigProblem {
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    pub(super) fn secret(&mut self, key: &str, source: &SecretSource, min_len: usize) -> Secret {
        match source.resolve() {
            Ok(secret) if secret.expose().len() >= min_len => secret,
            Ok(_) => {
                self.add(
                    key,
                    format!("the secret is shorter than {min_len} characters"),
                    "use a long random value, e.g. `openssl rand -hex 32`",
                );
                Secret::new("")
            }
            Err(e) => {
                self.add(
                    key,
                    e,
                    "give the secret inline (\"...\"), as { file = \"/path\" } or as { env = \"VAR\" }",
                );
                Secret::new("")
            }
        }
    }

    fn http_url(&mut self, key: &str, value: &str) -> Url {
        match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if !url.username().is_empty() || url.password().is_some() {
                    self.add(
                        key,
                        "the URL contains credentials",
                        "remove `user:password@`",
                    );
                }
                if url.query().is_some() || url.fragment().is_some() {
                    self.add(
                        key,
                        "the URL has a query or fragment",
                        "give a plain base URL",
                    );
                }
                with_trailing_slash(url)
            }
            Ok(_) => {
                self.add(
                    key,
                    format!("{value:?} is not an http(s) URL"),
                    "write it as https://host/",
                );
                placeholder_url()
            }
            Err(e) => {
                self.add(
                    key,
                    format!("{value:?} is not a URL: {e}"),
                    "write it as https://host/",
                );
                placeholder_url()
            }
        }
    }
}

fn placeholder_url() -> Url {
    Url::parse("http://invalid.invalid/").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

pub(super) fn validate(file: ConfigFile) -> Result<Config, ConfigError> {
    let mut p = Problems::default();

    let public_base_url = p.http_url("public_base_url", &file.public_base_url);
    let listen = file.listen.parse().unwrap_or_else(|_| {
        p.add(
            "listen",
            format!("{:?} is not an address:port", file.listen),
            "write e.g. \"127.0.0.1:8008\" or \"[::]:8008\"",
        );
        std::net::SocketAddr::from(([127, 0, 0, 1], 8008))
    });
    if !(file.database_url.starts_with("sqlite:") || file.database_url.starts_with("postgres")) {
        p.add(
            "database_url",
            "only SQLite and PostgreSQL are supported",
            "write sqlite:/path/to/sso-bridge.db or postgres://user@host/db",
        );
    }
    let encryption_key = p.secret("secrets.encryption_key", &file.secrets.encryption_key, 32);

    let mut allowed_redirect_origins = Vec::new();
    for (i, origin) in file.redirects.allowed_origins.iter().enumerate() {
        let key = format!("redirects.allowed_origins[{i}]");
        match Url::parse(origin) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.path() == "/"
                    && url.query().is_none()
                    && url.username().is_empty() =>
            {
                allowed_redirect_origins.push(url.origin());
            }
            _ => p.add(
                key,
                format!("{origin:?} is not an origin"),
                "write scheme, host and optional port only, e.g. \"https://app.element.io\"",
            ),
        }
    }

    let provider = file.homeserver_provider;
    if !valid_id(&provider.idp_id) {
        p.add(
            "homeserver_provider.idp_id",
            "must be 1–64 characters of a-z, 0-9, - and _",
            "e.g. \"university\"",
        );
    }

    let l = file.lifetimes;
    for (key, value, max) in [
        ("lifetimes.flow_seconds", l.flow_seconds, 24 * 3600),
        (
            "lifetimes.authorization_code_seconds",
            l.authorization_code_seconds,
            600,
        ),
        (
            "lifetimes.access_token_seconds",
            l.access_token_seconds,
            24 * 3600,
        ),
        (
            "lifetimes.login_token_route_seconds",
            l.login_token_route_seconds,
            3600,
        ),
    ] {
        if value <= 0 || value > max {
            p.add(
                key,
                format!("{value} is out of range"),
                format!("use 1 to {max} seconds"),
            );
        }
    }

    let mut upstreams = Vec::new();
    let mut upstream_ids = HashSet::new();
    for (i, upstream) in file.upstreams.into_iter().enumerate() {
        match upstream {
            UpstreamFile::Oidc(o) => {
                let u = oidc_upstream(&mut p, i, o);
                if !upstream_ids.insert(u.id.clone()) {
                    p.add(
                        format!("upstreams[{i}].id"),
                        format!("{:?} is used twice", u.id),
                        "give each upstream its own id",
                    );
                }
                upstreams.push(Upstream::Oidc(u));
            }
            UpstreamFile::Saml(f) => {
                let u = saml_upstream(&mut p, i, f, &public_base_url, &allowed_redirect_origins);
                if !upstream_ids.insert(u.id.clone()) {
                    p.add(
                        format!("upstreams[{i}].id"),
                        format!("{:?} is used twice", u.id),
                        "give each upstream its own id",
                    );
                }
                upstreams.push(Upstream::Saml(Box::new(u)));
            }
        }
    }
    if upstreams.is_empty() {
        p.add(
            "upstreams",
            "no upstream identity provider is configured",
            "add an [[upstreams]] table (see config.example.toml)",
        );
    }

    let mut departments = Vec::new();
    let mut department_ids = HashSet::new();
    let mut domains = HashSet::new();
    for (i, d) in file.departments.into_iter().enumerate() {
        let dept = department(&mut p, i, d, &upstream_ids);
        if !department_ids.insert(dept.id.clone()) {
            p.add(
                format!("departments[{i}].id"),
                format!("{:?} is used twice", dept.id),
                "give each department its own id",
            );
        }
        for domain in &dept.email_domains {
            if !domains.insert(domain.clone()) {
                p.add(
                    format!("departments[{i}].email_domains"),
                    format!("{domain:?} already routes to another department"),
                    "an e-mail domain may route to one department only",
                );
            }
        }
        departments.push(dept);
    }
    if departments.is_empty() {
        p.add(
            "departments",
            "no department is configured",
            "add a [[departments]] table (see config.example.toml)",
        );
    }

    let introspection = super::introspection::validate(&mut p, file.introspection);
    let rate_limits = super::rate_limits::validate(&mut p, file.rate_limits);
    let pages = super::pages::validate(&mut p, file.pages);
    let metrics = super::metrics::validate(&mut p, file.metrics, listen);
    let logout = super::logout::validate(&mut p, file.logout);

    if !p.0.is_empty() {
        return Err(ConfigError(p.0));
    }
    Ok(Config {
        introspection,
        rate_limits,
        pages,
        metrics,
        logout,
        public_base_url,
        listen,
        database_url: file.database_url,
        demo: file.demo,
        token_login: file.token_login,
        encryption_key,
        allowed_redirect_origins,
        homeserver_provider: HomeserverProvider {
            idp_id: provider.idp_id,
            idp_name: provider.idp_name,
        },
        lifetimes: Lifetimes {
            flow: l.flow_seconds,
            authorization_code: l.authorization_code_seconds,
            access_token: l.access_token_seconds,
            login_token_route: l.login_token_route_seconds,
        },
        upstreams,
        departments,
    })
}

fn oidc_upstream(p: &mut Problems, i: usize, o: OidcUpstreamFile) -> OidcUpstream {
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

fn saml_upstream(
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

fn department(
    p: &mut Problems,
    i: usize,
    d: DepartmentFile,
    upstreams: &HashSet<String>,
) -> Department {
    let key = |k: &str| format!("departments[{i}].{k}");
    if !valid_id(&d.id) {
        p.add(key("id"), format!("{:?} is not a valid id", d.id), "use 1–64 characters of a-z, 0-9, - and _ (it is also the department homeserver's client_id)");
    }
    if d.name.trim().is_empty() {
        p.add(
            key("name"),
            "is empty",
            "give the name users see in the picker",
        );
    }
    let mut names = Vec::new();
    for (lang, name) in &d.names {
        if !super::PAGE_LANGUAGES.contains(&lang.as_str()) {
            p.add(
                key(&format!("names.{lang}")),
                format!("{lang:?} is not a language of the pages"),
                format!("use one of {}", super::PAGE_LANGUAGES.join(", ")),
            );
        } else if name.trim().is_empty() {
            p.add(
                key(&format!("names.{lang}")),
                "is empty",
                "give the name, or remove the key",
            );
        } else {
            names.push((lang.clone(), name.trim().to_owned()));
        }
    }
    let logo_url = d.logo_url.as_deref().map(|logo| match Url::parse(logo) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => {
            p.add(
                key("logo_url"),
                format!("{logo:?} is not an http(s) URL"),
                "give an absolute URL of an image",
            );
            placeholder_url()
        }
    });
    if let Some(icon) = &d.icon
        && !icon.starts_with("mxc://")
    {
        p.add(
            key("icon"),
            format!("{icon:?} is not an mxc:// URI"),
            "upload the icon to a homeserver and give its mxc:// URI, or remove the key",
        );
    }
    let mut email_domains = Vec::new();
    for domain in &d.email_domains {
        let normalized = domain.trim().trim_start_matches('@').to_ascii_lowercase();
        if normalized.is_empty()
            || normalized.contains(['@', '/', ' '])
            || !normalized.contains('.')
        {
            p.add(
                key("email_domains"),
                format!("{domain:?} is not a domain"),
                "write domains like \"eng.ac.cdl\"",
            );
        } else {
            email_domains.push(normalized);
        }
    }
    let base_url = p.http_url(&key("homeserver.base_url"), &d.homeserver.base_url);
    if d.homeserver.server_name.trim().is_empty() {
        p.add(
            key("homeserver.server_name"),
            "is empty",
            "give the server name in the department's user ids, e.g. \"eng.ac.cdl\"",
        );
    }
    let oidc_redirect_uris = match d.homeserver.oidc_redirect_uris {
        Some(uris) if !uris.is_empty() => {
            for uri in &uris {
                if !matches!(Url::parse(uri), Ok(u) if matches!(u.scheme(), "http" | "https")) {
                    p.add(
                        key("homeserver.oidc_redirect_uris"),
                        format!("{uri:?} is not an http(s) URL"),
                        "give the homeserver's full OIDC callback URL",
                    );
                }
            }
            uris
        }
        Some(_) => {
            p.add(
                key("homeserver.oidc_redirect_uris"),
                "is empty",
                "remove the key to use the Synapse default, or list the callback URLs",
            );
            Vec::new()
        }
        None => vec![format!("{base_url}_synapse/client/oidc/callback")],
    };
    let client_secret = p.secret(&key("client_secret"), &d.client_secret, 16);
    if !upstreams.contains(&d.upstream) {
        p.add(
            key("upstream"),
            format!("{:?} names no configured upstream", d.upstream),
            "use the id of one of the [[upstreams]]",
        );
    }
    if d.membership.claim.trim().is_empty()
        || (d.membership.any_of.is_empty() && d.membership.scopes.is_empty())
    {
        p.add(key("membership"), "the rule is empty", "name a claim and accepted values or scopes, e.g. { claim = \"department\", any_of = [\"eng\"] } or { claim = \"eduPersonScopedAffiliation\", scopes = [\"eng.ac.cdl\"] }");
    }
    const RESERVED: &[&str] = &[
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "login_hint",
        "SAMLRequest",
        "RelayState",
        "SigAlg",
        "Signature",
    ];
    for name in d.upstream_params.keys() {
        if name.is_empty() || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            p.add(
                key("upstream_params"),
                format!("{name:?} cannot be set here"),
                "use a parameter name the IdP understands that is not part of the protocol itself",
            );
        }
    }
    let upstream_params: Vec<(String, String)> = d.upstream_params.into_iter().collect();
    let mut template = |k: &str, source: &str| {
        ClaimTemplate::parse(source).unwrap_or_else(|e| {
            p.add(
                key(k),
                e.to_string(),
                "write claim names in braces, e.g. \"{preferred_username}\"",
            );
            ClaimTemplate::parse("{sub}")
                .unwrap_or_else(|_| unreachable!("constant template parses"))
        })
    };
    let localpart_template = template("localpart_template", &d.localpart_template);
    let display_name_template = template("display_name_template", &d.display_name_template);
    Department {
        id: d.id,
        name: d.name,
        names,
        logo_url,
        icon: d.icon,
        email_domains,
        homeserver: Homeserver {
            base_url,
            server_name: d.homeserver.server_name,
            oidc_redirect_uris,
        },
        client_secret,
        upstream: d.upstream,
        upstream_params,
        membership: MembershipRule {
            claim: d.membership.claim,
            any_of: d.membership.any_of,
            scopes: d.membership.scopes,
        },
        localpart_template,
        display_name_template,
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    use super::super::SAMPLE as GOOD;

    #[test]
    fn good_config_loads_with_defaults() {
        let config = Config::parse(GOOD).unwrap();
        assert_eq!(config.public_base_url.as_str(), "https://matrix.ac.cdl/");
        assert_eq!(
            config.departments[0].homeserver.base_url.as_str(),
            "https://matrix.eng.ac.cdl/"
        );
        assert_eq!(config.database_url, "sqlite:sso-bridge.db");
        assert_eq!(
            config
                .department_for_email("Alice@ENG.ac.cdl")
                .map(|d| d.id.as_str()),
            Some("eng")
        );
        assert!(config.department_for_email("alice@hist.ac.cdl").is_none());
        assert_eq!(
            config.url("/_sso_bridge/x").as_str(),
            "https://matrix.ac.cdl/_sso_bridge/x"
        );
    }

    #[test]
    fn problems_name_their_key_and_fix() {
        let bad = GOOD
            .replace("\"https://idp.ac.cdl\"", "\"not a url\"")
            .replace("upstream = \"university\"", "upstream = \"nope\"")
            .replace("\"0123456789abcdef0123\"", "\"short\"")
            .replace(
                "\"https://app.element.io\"",
                "\"https://app.element.io/path\"",
            );
        let err = Config::parse(&bad).unwrap_err().to_string();
        for needle in [
            "`upstreams[0].issuer`",
            "`departments[0].upstream`",
            "`departments[0].client_secret`",
            "`redirects.allowed_origins[0]`",
            "Fix:",
        ] {
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
    }

    #[test]
    fn unknown_keys_and_missing_secrets_are_refused() {
        let err = Config::parse(&GOOD.replace("[redirects]", "[redirects]\nallowed_orgins = []"))
            .unwrap_err();
        assert!(err.to_string().contains("allowed_orgins"), "{err}");
        let err = Config::parse(&GOOD.replace(
            "encryption_key = \"0123456789abcdef0123456789abcdef\"",
            "encryption_key = { env = \"SSO_BRIDGE_TEST_SURELY_UNSET\" }",
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("SSO_BRIDGE_TEST_SURELY_UNSET is not set"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let example = include_str!("../../config.example.toml")
            .replace(
                "{ file = \"/etc/sso-bridge/encryption.key\" }",
                "\"0123456789abcdef0123456789abcdef\"",
            )
            .replace(
                "{ env = \"SSO_BRIDGE_UPSTREAM_SECRET\" }",
                "\"upstream-secret\"",
            )
            .replace(
                "{ env = \"SSO_BRIDGE_ENG_SECRET\" }",
                "\"eng-secret-0123456789\"",
            )
            .replace(
                "{ env = \"SSO_BRIDGE_HIST_SECRET\" }",
                "\"hist-secret-0123456789\"",
            )
            .replace(
                "{ env = \"COURSE_PORTAL_SECRET\" }",
                "\"course-portal-secret-0123456789\"",
            );
        let config = Config::parse(&example).unwrap();
        assert_eq!(config.departments.len(), 2);
        assert_eq!(config.introspection.clients.len(), 1);
        assert_eq!(
            config.departments[0].homeserver.oidc_redirect_uris,
            ["https://matrix.eng.ac.cdl/_synapse/client/oidc/callback"]
        );
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = Config::parse("public_base_url = \"x\"\n[secrets\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let config = Config::parse(GOOD).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("0123456789abcdef0123"), "{debug}");
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
