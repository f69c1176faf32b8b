//! Turns the file as written into a `Config`, collecting every problem with its key.

use std::collections::HashSet;

use url::Url;

use super::file::{ConfigFile, UpstreamFile};
use super::{
    Config, ConfigError, ConfigProblem, HomeserverProvider, Lifetimes, Secret, SecretSource,
    Upstream,
};

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

    pub(super) fn http_url(&mut self, key: &str, value: &str) -> Url {
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

pub(super) fn placeholder_url() -> Url {
    Url::parse("http://invalid.invalid/").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

pub(super) fn with_trailing_slash(mut url: Url) -> Url {
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
                let u = super::upstreams::oidc_upstream(&mut p, i, o);
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
                let u = super::upstreams::saml_upstream(
                    &mut p,
                    i,
                    f,
                    &public_base_url,
                    &allowed_redirect_origins,
                );
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
        let dept = super::departments::department(&mut p, i, d, &upstream_ids);
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
