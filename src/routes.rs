//! Every path the bridge serves, defined once: `http` registers its routes with
//! these, and every link, redirect and registered URL is built from them.
//! (`tests/house.rs` fails when a path is written out anywhere else in `src/`.)

/// Token validation for university services.
pub const INTROSPECT: &str = "/_sso_bridge/introspect";
pub const FORWARD_AUTH: &str = "/_sso_bridge/forward-auth";

/// The Matrix front door (the client API prefix is per version).
pub const VERSIONS: &str = "/_matrix/client/versions";
pub const MATRIX_WELL_KNOWN: &str = "/.well-known/matrix/client";
pub const API_VERSIONS: [&str; 2] = ["v3", "r0"];
/// Everything under it that no route takes is answered `M_UNRECOGNIZED`.
pub const MATRIX_SCOPE: &str = "/_matrix";
/// The client-server API, and its old version (answers say which was used).
pub const CLIENT_API_PREFIX: &str = "/_matrix/client";
pub const CLIENT_R0_PREFIX: &str = "/_matrix/client/r0/";
/// The Matrix API and the well-known files: what gets CORS.
pub const MATRIX_PREFIX: &str = "/_matrix/";
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/";

/// `/_matrix/client/{version}/login`.
pub fn login(version: &str) -> String {
    format!("/_matrix/client/{version}/login")
}

/// `/_matrix/client/{version}/login/sso/redirect`: a login starts here.
pub fn sso_redirect(version: &str) -> String {
    format!("/_matrix/client/{version}/login/sso/redirect")
}

/// The same with the department given (no picker); `idp` may be `{idp}`.
pub fn sso_redirect_to(version: &str, idp: &str) -> String {
    format!("/_matrix/client/{version}/login/sso/redirect/{idp}")
}

/// Where links start a login: the current API version.
pub fn login_start() -> String {
    sso_redirect("v3")
}

/// The login fallback for apps in a web view.
pub const FALLBACK: &str = "/_matrix/static/client/login/";

/// The login's own pages.
pub const PICK: &str = "/_sso_bridge/pick";
pub const COMPLETE: &str = "/_sso_bridge/complete";
pub const CONFIRM: &str = "/_sso_bridge/confirm";
pub const RESUME: &str = "/_sso_bridge/resume";
pub const DEMO: &str = "/_sso_bridge/demo";
/// Static assets: `{STATIC_PREFIX}{name}` (the pages link them so).
pub const STATIC_PREFIX: &str = "/_sso_bridge/static/";
pub const STATIC: &str = "/_sso_bridge/static/{name:.+}";

/// The OpenID Provider for the departments' homeservers.
pub const OP_DISCOVERY: &str = "/.well-known/openid-configuration";
pub const OP_AUTHORIZE: &str = "/_sso_bridge/op/authorize";
pub const OP_TOKEN: &str = "/_sso_bridge/op/token";
pub const OP_USERINFO: &str = "/_sso_bridge/op/userinfo";
pub const OP_JWKS: &str = "/_sso_bridge/op/jwks.json";

/// Browsers ask for it; answered 204.
pub const FAVICON: &str = "/favicon.ico";

/// Operations.
pub const HEALTH: &str = "/health";
pub const READY: &str = "/ready";
pub const METRICS: &str = "/metrics";

/// The upstream IdPs' endpoints; `upstream` is an id, or `{upstream}` for the route.
pub fn oidc_callback(upstream: &str) -> String {
    format!("/_sso_bridge/upstream/oidc/{upstream}/callback")
}

pub fn oidc_backchannel_logout(upstream: &str) -> String {
    format!("/_sso_bridge/upstream/oidc/{upstream}/backchannel-logout")
}

pub fn saml_acs(upstream: &str) -> String {
    format!("/_sso_bridge/upstream/saml/{upstream}/acs")
}

pub fn saml_slo(upstream: &str) -> String {
    format!("/_sso_bridge/upstream/saml/{upstream}/slo")
}

pub fn saml_metadata(upstream: &str) -> String {
    format!("/_sso_bridge/upstream/saml/{upstream}/metadata")
}

/// The route pattern of an upstream endpoint.
pub const UPSTREAM: &str = "{upstream}";

/// On a department's homeserver (Synapse): where the bridge sends logout
/// tokens, and the OIDC callback it registers.
pub const SYNAPSE_BACKCHANNEL_LOGOUT: &str = "_synapse/client/oidc/backchannel_logout";
pub const SYNAPSE_OIDC_CALLBACK: &str = "_synapse/client/oidc/callback";
