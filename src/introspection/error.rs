//! What can go wrong when a service asks who holds a token.

/// Cloned to every request that waited on the same homeserver look-up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IntrospectionError {
    #[error("client authentication failed: {0}")]
    InvalidClient(String),
    #[error("{0}")]
    InvalidRequest(String),
    /// The hint names no homeserver of this bridge; nothing was contacted.
    #[error("{0:?} is not the homeserver or server name of any department of this bridge")]
    UnknownHomeserver(String),
    #[error("too many homeserver look-ups for this client; retry in {0} s")]
    RateLimited(u64),
    #[error("too many failed client authentications from this address; retry in {0} s")]
    AddressRateLimited(u64),
    #[error("the homeserver at {homeserver} is unavailable: {detail}")]
    HomeserverUnavailable { homeserver: String, detail: String },
    #[error("storage: {0}")]
    Store(String),
}

impl IntrospectionError {
    /// A short label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnknownHomeserver(_) => "unknown_homeserver",
            Self::RateLimited(_) => "rate_limited",
            Self::AddressRateLimited(_) => "address_rate_limited",
            Self::HomeserverUnavailable { .. } => "homeserver_unavailable",
            Self::Store(_) => "store",
        }
    }
}
