//! Typed configuration: read one TOML file, resolve secrets, validate everything,
//! and fail with messages that name the key and say how to fix it.

mod departments;
mod file;
mod introspection;
mod logout;
mod metrics;
mod pages;
mod rate_limits;
mod rules;
mod secret;
mod upstreams;
mod validate;

use std::net::SocketAddr;
use std::path::Path;

use url::Url;

use crate::ids::{DepartmentId, UpstreamId};

pub use file::TokenLoginMode;
pub use introspection::{Introspection, IntrospectionClient};
pub use logout::Logout;
pub use metrics::Metrics;
pub use pages::Pages;
pub use rate_limits::{IpNet, RateLimits, canonical_ip};
pub(crate) use rules::Piece as TemplatePiece;
pub use rules::{ClaimTemplate, MembershipRule, TemplateError};
pub use secret::{Secret, SecretSource};

/// The languages of the pages (`http::i18n::Lang`), by code.
pub const PAGE_LANGUAGES: &[&str] = &["en", "fr"];

/// A small valid config for unit tests.
#[cfg(test)]
pub(crate) const SAMPLE: &str = r#"
public_base_url = "https://matrix.ac.cdl"
[secrets]
encryption_key = "0123456789abcdef0123456789abcdef"
[redirects]
allowed_origins = ["https://app.element.io"]
[[upstreams]]
kind = "oidc"
id = "university"
issuer = "https://idp.ac.cdl"
client_id = "bridge"
client_secret = "s3cret"
[[departments]]
id = "eng"
name = "Engineering"
email_domains = ["eng.ac.cdl"]
client_secret = "0123456789abcdef0123"
upstream = "university"
membership = { claim = "department", any_of = ["eng"] }
homeserver = { base_url = "https://matrix.eng.ac.cdl", server_name = "eng.ac.cdl" }
"#;

#[derive(Debug, Clone)]
pub struct Config {
    /// The bridge's public address, with a trailing slash; also its OpenID Provider issuer.
    pub public_base_url: Url,
    pub listen: SocketAddr,
    pub database_url: String,
    pub demo: bool,
    pub token_login: TokenLoginMode,
    pub encryption_key: Secret,
    pub allowed_redirect_origins: Vec<url::Origin>,
    pub homeserver_provider: HomeserverProvider,
    pub lifetimes: Lifetimes,
    pub upstreams: Vec<Upstream>,
    pub departments: Vec<Department>,
    pub introspection: Introspection,
    pub rate_limits: RateLimits,
    pub pages: Pages,
    pub metrics: Metrics,
    pub logout: Logout,
}

/// How the departments' homeservers name the bridge in their `oidc_providers`.
#[derive(Debug, Clone)]
pub struct HomeserverProvider {
    pub idp_id: String,
    pub idp_name: String,
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub flow: i64,
    pub authorization_code: i64,
    pub access_token: i64,
    pub login_token_route: i64,
}

#[derive(Debug, Clone)]
pub enum Upstream {
    Oidc(OidcUpstream),
    Saml(Box<SamlUpstream>),
}

impl Upstream {
    pub fn id(&self) -> &str {
        match self {
            Self::Oidc(o) => &o.id,
            Self::Saml(s) => &s.id,
        }
    }
}

#[derive(Debug, Clone)]
pub enum MetadataSource {
    File(std::path::PathBuf),
    Url(Url),
}

#[derive(Debug, Clone)]
pub struct SamlUpstream {
    pub id: String,
    pub name: String,
    pub metadata: MetadataSource,
    pub metadata_refresh_seconds: u64,
    pub sp_entity_id: String,
    pub sp_private_key_pem: Secret,
    pub sp_certificate_pem: String,
    pub sign_requests: bool,
    pub clock_skew_seconds: i64,
    /// Full URN of the NameID format asked for.
    pub name_id_format: String,
    pub subject_attribute: Option<String>,
    /// When set, IdP-initiated logins are accepted and land at this client URL.
    pub unsolicited_redirect_url: Option<Url>,
    /// Attributes are also offered under their FriendlyName (off by default).
    pub friendly_names: bool,
}

#[derive(Debug, Clone)]
pub struct OidcUpstream {
    pub id: String,
    pub name: String,
    /// Exactly as the IdP's discovery document writes it (a trailing slash matters).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Department {
    pub id: DepartmentId,
    /// The name users see, and what the Matrix API's `identity_providers` carry.
    pub name: String,
    /// The name in other page languages, by language code.
    pub names: Vec<(String, String)>,
    pub logo_url: Option<Url>,
    pub icon: Option<String>,
    pub email_domains: Vec<String>,
    pub homeserver: Homeserver,
    pub client_secret: Secret,
    pub upstream: UpstreamId,
    pub upstream_params: Vec<(String, String)>,
    pub membership: MembershipRule,
    pub localpart_template: ClaimTemplate,
    pub display_name_template: ClaimTemplate,
}

impl Department {
    /// The department's name in the page language `lang` (a code such as "fr"),
    /// or its default name.
    pub fn name_in(&self, lang: &str) -> &str {
        self.names
            .iter()
            .find(|(code, _)| code == lang)
            .map_or(&self.name, |(_, name)| name)
    }
}

#[derive(Debug, Clone)]
pub struct Homeserver {
    /// Client-server API base URL, with a trailing slash: what clients get as `homeserver`.
    pub base_url: Url,
    pub server_name: String,
    /// Exact redirect URIs the homeserver may use at the bridge's `authorize`.
    pub oidc_redirect_uris: Vec<String>,
}

/// Every problem found in a config file, each naming its key.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_problems(.0))]
pub struct ConfigError(pub Vec<ConfigProblem>);

#[derive(Debug, Clone)]
pub struct ConfigProblem {
    pub key: String,
    pub problem: String,
    pub fix: String,
}

fn render_problems(problems: &[ConfigProblem]) -> String {
    let mut out = format!("the configuration has {} problem(s):", problems.len());
    for p in problems {
        out.push_str(&format!("\n  - `{}`: {}. Fix: {}", p.key, p.problem, p.fix));
    }
    out
}

/// What an IdP's administrator registers for one upstream: each line a name
/// and a URL of this bridge.
pub fn upstream_endpoints(config: &Config, upstream: &Upstream) -> Vec<(&'static str, url::Url)> {
    match upstream {
        Upstream::Oidc(o) => vec![
            (
                "redirect URI",
                config.url(&crate::routes::oidc_callback(&o.id)),
            ),
            (
                "back-channel logout URI",
                config.url(&crate::routes::oidc_backchannel_logout(&o.id)),
            ),
        ],
        Upstream::Saml(s) => vec![
            (
                "SP metadata",
                config.url(&crate::routes::saml_metadata(&s.id)),
            ),
            (
                "assertion consumer service",
                config.url(&crate::routes::saml_acs(&s.id)),
            ),
            (
                "single logout service",
                config.url(&crate::routes::saml_slo(&s.id)),
            ),
        ],
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(vec![ConfigProblem {
                key: "--config".into(),
                problem: format!("cannot read {}: {e}", path.display()),
                fix: "pass the path of a readable TOML file (see config.example.toml)".into(),
            }])
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let parsed: file::ConfigFile = toml::from_str(text).map_err(|e| {
            ConfigError(vec![ConfigProblem {
                key: "TOML".into(),
                problem: e.to_string().trim_end().to_owned(),
                fix: "correct the syntax or the key name; unknown keys are refused so typos do not go unnoticed".into(),
            }])
        })?;
        validate::validate(parsed)
    }

    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    pub fn upstream(&self, id: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.id() == id)
    }

    /// The department whose e-mail domains include this address's domain.
    pub fn department_for_email(&self, address: &str) -> Option<&Department> {
        let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() {
            return None;
        }
        self.departments
            .iter()
            .find(|d| d.email_domains.contains(&domain))
    }

    /// A URL under the bridge's public base.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.public_base_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{}", path.trim_start_matches('/')));
        url
    }

    /// Cookies get `Secure` unless the bridge is served over plain HTTP (loopback tests, demo).
    pub fn secure_cookies(&self) -> bool {
        self.public_base_url.scheme() == "https"
    }

    /// The OpenID Provider issuer: exactly the public base URL.
    pub fn issuer(&self) -> &str {
        self.public_base_url.as_str()
    }
}
