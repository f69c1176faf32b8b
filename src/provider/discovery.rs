//! The discovery document (OpenID Connect Discovery 1.0).

use crate::config::Config;
use crate::routes;

pub fn document(config: &Config, signing_algorithm: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": config.issuer(),
        "authorization_endpoint": config.url(routes::OP_AUTHORIZE),
        "token_endpoint": config.url(routes::OP_TOKEN),
        "userinfo_endpoint": config.url(routes::OP_USERINFO),
        "jwks_uri": config.url(routes::OP_JWKS),
        "introspection_endpoint": config.url(routes::INTROSPECT),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [signing_algorithm],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "preferred_username", "name"],
        // Logout tokens go to each homeserver's back-channel logout endpoint,
        // with the `sid` of the id_token it received.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}
