//! Everything that can stop a login, with a stable reason for logs and metrics.

use super::RedirectUrlError;
use crate::identity::MappingError;
use crate::ids::DepartmentId;
use crate::provider::ProviderError;
use crate::provider::authorize::AuthorizeError;
use crate::store::StoreError;
use crate::upstream::UpstreamError;
use crate::upstream::saml::SamlError;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("unknown department {0:?}")]
    UnknownDepartment(String),
    #[error("invalid redirect URL: {0}")]
    BadRedirect(#[from] RedirectUrlError),
    #[error("the browser did not send the login cookie")]
    NoBrowserSession,
    #[error("the login is unknown or has expired")]
    Expired,
    #[error("the login belongs to another browser")]
    WrongBrowser,
    #[error("this step of the login was already done, or done out of order")]
    OutOfOrder,
    /// `department`: the id of the department refused, or `None` when no
    /// department behind the IdP admits the user (an IdP-initiated login).
    #[error("the user is not a member of department {} ({rule})", department.as_deref().unwrap_or("any"))]
    NotAMember {
        department: Option<DepartmentId>,
        rule: String,
    },
    #[error("the identity provider refused the login: {0}")]
    UpstreamDenied(String),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Authorize(#[from] AuthorizeError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the homeserver of {department} is unavailable: {detail}")]
    HomeserverUnavailable {
        /// The department's id.
        department: DepartmentId,
        detail: String,
        /// Where "Try again" goes: this flow, resumed.
        resume: String,
    },
    /// The department's IdP cannot take logins yet (its SAML metadata has not
    /// loaded); the flow is kept.
    #[error("the identity provider of {department} is unavailable")]
    IdpUnavailable {
        /// The department's id.
        department: DepartmentId,
        /// Where "Try again" goes: this flow, resumed.
        resume: String,
    },
    #[error("the homeserver returned no usable login token")]
    BadLoginToken,
    #[error("SAML response refused: {0}")]
    Saml(#[from] SamlError),
    /// A login that ended at `cause`; `restart` begins a new one for the same
    /// client, at the picker (the page's "Start again").
    #[error("{cause}")]
    Ended {
        cause: Box<FlowError>,
        restart: String,
    },
}

impl FlowError {
    /// A short stable label for metrics and log lines.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownDepartment(_) => "unknown_department",
            Self::BadRedirect(_) => "bad_redirect_url",
            Self::NoBrowserSession => "no_cookie",
            Self::Expired => "expired",
            Self::WrongBrowser => "wrong_browser",
            Self::OutOfOrder => "out_of_order",
            Self::NotAMember { .. } => "not_a_member",
            Self::UpstreamDenied(_) => "upstream_denied",
            Self::Upstream(UpstreamError::Unavailable(_)) => "upstream_unavailable",
            Self::Upstream(_) => "upstream_invalid",
            Self::Mapping(MappingError::Store(_)) => "database",
            Self::Mapping(_) => "mapping",
            Self::Authorize(_) => "bad_authorize_request",
            Self::Provider(_) => "provider",
            Self::Store(_) => "database",
            Self::BadLoginToken => "bad_login_token",
            Self::HomeserverUnavailable { .. } => "homeserver_unavailable",
            Self::IdpUnavailable { .. } => "upstream_unavailable",
            Self::Saml(e) => e.reason(),
            Self::Ended { cause, .. } => cause.reason(),
        }
    }

    /// This error, ending a login whose client can begin a new one at `restart`.
    pub fn ended(self, restart: Option<String>) -> Self {
        match restart {
            Some(restart) => Self::Ended {
                cause: Box::new(self),
                restart,
            },
            None => self,
        }
    }
}
