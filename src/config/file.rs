//! The config file as written: plain serde structs, checked by `validate.rs`.

use serde::Deserialize;

use super::secret::SecretSource;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub public_base_url: String,
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_database_url")]
    pub database_url: String,
    #[serde(default)]
    pub demo: bool,
    /// MSC1730: what `POST /login` with `m.login.token` at the bridge does.
    #[serde(default)]
    pub token_login: TokenLoginMode,
    pub secrets: SecretsFile,
    #[serde(default)]
    pub redirects: RedirectsFile,
    #[serde(default)]
    pub homeserver_provider: HomeserverProviderFile,
    #[serde(default)]
    pub lifetimes: LifetimesFile,
    #[serde(default)]
    pub upstreams: Vec<UpstreamFile>,
    #[serde(default)]
    pub departments: Vec<DepartmentFile>,
    #[serde(default)]
    pub introspection: super::introspection::IntrospectionFile,
    #[serde(default)]
    pub rate_limits: super::rate_limits::RateLimitsFile,
    #[serde(default)]
    pub pages: super::pages::PagesFile,
    #[serde(default)]
    pub metrics: super::metrics::MetricsFile,
    #[serde(default)]
    pub logout: super::logout::LogoutFile,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenLoginMode {
    /// Forward the login to the token's homeserver and add `well_known` (default).
    #[default]
    Proxy,
    /// Answer 307 to the token's homeserver's login URL.
    Redirect,
}

fn default_listen() -> String {
    "127.0.0.1:8008".to_owned()
}

fn default_database_url() -> String {
    "sqlite:sso-bridge.db".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsFile {
    pub encryption_key: SecretSource,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectsFile {
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HomeserverProviderFile {
    pub idp_id: String,
    pub idp_name: String,
}

impl Default for HomeserverProviderFile {
    fn default() -> Self {
        Self {
            idp_id: "university".to_owned(),
            idp_name: "University login".to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifetimesFile {
    pub flow_seconds: i64,
    pub authorization_code_seconds: i64,
    pub access_token_seconds: i64,
    pub login_token_route_seconds: i64,
}

impl Default for LifetimesFile {
    fn default() -> Self {
        Self {
            flow_seconds: 30 * 60,
            authorization_code_seconds: 60,
            access_token_seconds: 5 * 60,
            login_token_route_seconds: 5 * 60,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum UpstreamFile {
    Oidc(OidcUpstreamFile),
    Saml(SamlUpstreamFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlUpstreamFile {
    pub id: String,
    pub name: Option<String>,
    /// The IdP's metadata, from a file or a URL (one of the two).
    pub metadata_file: Option<String>,
    pub metadata_url: Option<String>,
    #[serde(default = "default_metadata_refresh")]
    pub metadata_refresh_seconds: u64,
    /// Our entityID; default: the SP metadata URL.
    pub sp_entity_id: Option<String>,
    /// The SP's key (PEM) and certificate (PEM file): published in our metadata,
    /// used to sign AuthnRequests and to decrypt encrypted assertions.
    pub sp_private_key: SecretSource,
    pub sp_certificate_file: String,
    #[serde(default)]
    pub sign_requests: bool,
    #[serde(default = "default_clock_skew")]
    pub clock_skew_seconds: i64,
    /// The NameID format to ask for: persistent (default), transient, email, unspecified.
    #[serde(default = "default_name_id_format")]
    pub name_id_format: String,
    /// A stable attribute to key identities on instead of the NameID (e.g. eduPersonPrincipalName).
    pub subject_attribute: Option<String>,
    /// Accept IdP-initiated (unsolicited) logins, and send them to this Matrix client.
    pub unsolicited_redirect_url: Option<String>,
    /// Also offer attributes under their FriendlyName (a display hint in SAML,
    /// chosen by whoever writes the attribute): only for IdPs that use it as a key.
    #[serde(default)]
    pub friendly_names: bool,
}

fn default_metadata_refresh() -> u64 {
    3600
}

fn default_clock_skew() -> i64 {
    60
}

fn default_name_id_format() -> String {
    "persistent".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcUpstreamFile {
    pub id: String,
    pub name: Option<String>,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretSource,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
}

fn default_scopes() -> Vec<String> {
    vec![
        "openid".to_owned(),
        "profile".to_owned(),
        "email".to_owned(),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentFile {
    pub id: String,
    pub name: String,
    /// The name in other languages, by language code (`{ fr = "…" }`).
    #[serde(default)]
    pub names: std::collections::BTreeMap<String, String>,
    pub logo_url: Option<String>,
    pub icon: Option<String>,
    #[serde(default)]
    pub email_domains: Vec<String>,
    pub homeserver: HomeserverFile,
    pub client_secret: SecretSource,
    pub upstream: String,
    /// Extra query parameters for the upstream request, so one central IdP can be
    /// told the department (e.g. `{ department = "eng" }`).
    #[serde(default)]
    pub upstream_params: std::collections::BTreeMap<String, String>,
    pub membership: MembershipFile,
    #[serde(default = "default_localpart_template")]
    pub localpart_template: String,
    #[serde(default = "default_display_name_template")]
    pub display_name_template: String,
}

fn default_localpart_template() -> String {
    "{preferred_username}".to_owned()
}

fn default_display_name_template() -> String {
    "{name}".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeserverFile {
    pub base_url: String,
    pub server_name: String,
    /// Where the homeserver's OIDC callback lives; default: `{base_url}_synapse/client/oidc/callback`.
    pub oidc_redirect_uris: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipFile {
    pub claim: String,
    #[serde(default)]
    pub any_of: Vec<String>,
    /// For scoped attributes (`member@eng.ac.cdl`): accepted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}
