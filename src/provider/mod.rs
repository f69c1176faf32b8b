//! The OpenID Provider that each department's homeserver uses: discovery, JWKS,
//! authorize, token, userinfo. One client per department (client_id = department id).

pub mod authorize;
pub mod discovery;
mod keys;
pub mod token;
pub mod userinfo;

pub use keys::{KeyRing, KeyState, SigningKeys};

use crate::store::StoreError;

/// OAuth 2.0 errors (RFC 6749 §5.2), rendered as JSON by the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    #[error("server_error: {0}")]
    Store(#[from] StoreError),
    #[error("server_error: {0}")]
    Signing(String),
}

impl ProviderError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidToken(_) => "invalid_token",
            Self::Store(_) | Self::Signing(_) => "server_error",
        }
    }

    /// The description sent to the client: never internal details.
    pub fn description(&self) -> String {
        match self {
            Self::Store(_) | Self::Signing(_) => "internal error, see the bridge's log".into(),
            Self::InvalidRequest(m)
            | Self::InvalidClient(m)
            | Self::InvalidGrant(m)
            | Self::UnsupportedGrantType(m)
            | Self::InvalidToken(m) => m.clone(),
        }
    }
}
