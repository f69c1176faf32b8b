//! From what an upstream IdP says about a user to who they are at a department:
//! membership, localpart and display name.

mod claims;
mod localpart;
mod membership;
mod resolve;
mod template;

pub use claims::Claims;
pub use localpart::sanitize_localpart;
pub use membership::MembershipRule;
pub use resolve::{MappingError, resolve_identity};
pub use template::{ClaimTemplate, TemplateError};

/// A user as an upstream IdP vouched for them, keyed on (issuer, subject).
#[derive(Debug, Clone)]
pub struct UpstreamIdentity {
    pub issuer: String,
    pub subject: String,
    pub claims: Claims,
}
