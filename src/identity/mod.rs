//! From what an upstream IdP says about a user to who they are at a department:
//! membership, localpart and display name.

mod claims;
mod localpart;
mod membership;
mod resolve;
mod template;

pub use claims::Claims;
pub use localpart::sanitize_localpart;
pub use resolve::{IdentityKey, MappingError, find_or_create_identity, resolve_identity};

/// A user as an upstream IdP vouched for them, keyed on (issuer, subject).
#[derive(Debug, Clone)]
pub struct UpstreamIdentity {
    pub issuer: String,
    pub subject: String,
    pub claims: Claims,
    /// The IdP's own names for this login, for its single logout later.
    pub session: UpstreamSession,
}

/// How an IdP names a login when it ends it: OIDC's `sid`, SAML's SessionIndex
/// (`id`) and NameID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamSession {
    pub id: Option<String>,
    pub name_id: Option<String>,
}
