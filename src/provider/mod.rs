//! The OpenID Provider that each department's homeserver uses: discovery, JWKS,
//! authorize, token, userinfo. One client per department (client_id = department id).

pub mod authorize;
pub mod discovery;
mod keys;
pub mod token;
pub mod userinfo;

pub use keys::{KeyRing, KeyState, SigningKeys, data_at_rest_sealer};

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::random::Random;
use crate::store::{Store, StoreError};

/// What the OpenID Provider works with, lent by the application state: its
/// config, storage, signing keys (and the sealer that keeps them at rest), the
/// clock and randomness. Nothing else reaches it.
#[derive(Clone, Copy)]
pub struct Provider<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub keys: &'a SigningKeys,
    pub sealer: &'a Sealer,
    pub clock: &'a dyn Clock,
    pub random: &'a Random,
}

impl Provider<'_> {
    pub fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// The signing keys as the database says now (re-read every few seconds).
    pub async fn signing_keys(&self) -> Arc<KeyRing> {
        self.keys.ring(self.store, self.sealer, self.now()).await
    }
}

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

impl From<crate::client_auth::ClientAuthError> for ProviderError {
    fn from(error: crate::client_auth::ClientAuthError) -> Self {
        use crate::client_auth::ClientAuthError;
        match error {
            ClientAuthError::InvalidRequest(m) => Self::InvalidRequest(m),
            ClientAuthError::InvalidClient(m) => Self::InvalidClient(m),
        }
    }
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
