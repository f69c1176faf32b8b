//! The one place where failures become responses: an HTML page for people,
//! Matrix JSON (`errcode`, `error`) for Matrix API clients, OAuth JSON for homeservers.
//! Which page (status and words) each failure gets is in `error_pages.rs`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use url::Url;

use super::error_pages::EdgePage;
use super::pages;
use crate::introspection::IntrospectionError;
use crate::provider::ProviderError;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{title}: {message}")]
    Page {
        status: StatusCode,
        title: String,
        message: String,
        /// Shows the hint to go back and choose another department.
        retry: bool,
        /// A button to this address: "Try again" (the flow was kept) or, with
        /// `start_again`, "Start again" (a new login for the same client).
        try_again: Option<String>,
        start_again: bool,
    },
    #[error("{errcode}: {error}")]
    Matrix {
        status: StatusCode,
        errcode: &'static str,
        error: String,
    },
    #[error("{error}: {description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
        /// Seconds, sent as `Retry-After` (rate limits, unavailable dependencies).
        retry_after: Option<u64>,
        /// What a `401` asks for: the client's credentials, or a bearer token.
        challenge: Challenge,
    },
    /// An error the protocol says goes back to the client by redirect.
    #[error("redirect to {0}")]
    Redirect(Url),
}

impl HttpError {
    pub fn matrix(status: StatusCode, errcode: &'static str, error: impl Into<String>) -> Self {
        Self::Matrix {
            status,
            errcode,
            error: error.into(),
        }
    }

    pub fn not_found_page() -> Self {
        EdgePage::NotFound.into()
    }

    pub fn from_provider(error: ProviderError) -> Self {
        let status = match &error {
            ProviderError::InvalidClient(_) | ProviderError::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            ProviderError::Store(_) | ProviderError::Signing(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        if status.is_server_error() {
            tracing::error!(error = %error, "OpenID Provider request failed");
        } else {
            tracing::warn!(error = %error, "OpenID Provider request refused");
        }
        let challenge = match error {
            ProviderError::InvalidToken(_) => Challenge::Bearer,
            _ => Challenge::Basic,
        };
        Self::OAuth {
            status,
            error: error.code(),
            description: error.description(),
            retry_after: None,
            challenge,
        }
    }

    /// A token validation failure, for the calling service (OAuth JSON).
    pub fn from_introspection(error: IntrospectionError) -> Self {
        let (status, code, retry_after) = match &error {
            IntrospectionError::InvalidClient(_) => {
                (StatusCode::UNAUTHORIZED, "invalid_client", None)
            }
            IntrospectionError::InvalidRequest(_) | IntrospectionError::UnknownHomeserver(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request", None)
            }
            IntrospectionError::RateLimited(seconds)
            | IntrospectionError::AddressRateLimited(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                Some(*seconds),
            ),
            IntrospectionError::HomeserverUnavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                Some(5),
            ),
            IntrospectionError::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                Some(5),
            ),
        };
        match &error {
            _ if status.is_server_error() => {
                tracing::error!(error = %error, "token validation failed")
            }
            // Logged where they are decided, at most once a minute per caller.
            IntrospectionError::RateLimited(_) | IntrospectionError::AddressRateLimited(_) => {
                tracing::debug!(error = %error, "token validation refused")
            }
            _ => tracing::warn!(error = %error, "token validation refused"),
        }
        let description = match &error {
            IntrospectionError::HomeserverUnavailable { .. } => format!(
                "{error}. The token could not be checked, so it is neither accepted nor refused: try again shortly"
            ),
            IntrospectionError::Store(_) => "internal error, see the bridge's log".into(),
            _ => error.to_string(),
        };
        Self::OAuth {
            status,
            error: code,
            description,
            retry_after,
            challenge: Challenge::Basic,
        }
    }

    /// On forward-auth, 401 means "the user's token is not valid": a proxy whose own
    /// credentials are wrong gets 403 instead, so the mistake is not blamed on users.
    pub fn for_forward_auth(self) -> Self {
        match self {
            Self::OAuth {
                status: StatusCode::UNAUTHORIZED,
                error,
                description,
                retry_after,
                challenge,
            } => Self::OAuth {
                status: StatusCode::FORBIDDEN,
                error,
                description,
                retry_after,
                challenge,
            },
            other => other,
        }
    }
}

/// The `WWW-Authenticate` challenge of an OAuth `401`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// Client authentication (`/token`, introspection): RFC 6749 §5.2.
    Basic,
    /// A bearer access token (`userinfo`): RFC 6750 §3.
    Bearer,
}

impl Challenge {
    fn header(self) -> HeaderValue {
        match self {
            Self::Basic => HeaderValue::from_static("Basic realm=\"sso-bridge\""),
            Self::Bearer => {
                HeaderValue::from_static("Bearer realm=\"sso-bridge\", error=\"invalid_token\"")
            }
        }
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Page { status, .. }
            | Self::Matrix { status, .. }
            | Self::OAuth { status, .. } => *status,
            Self::Redirect(_) => StatusCode::FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Page {
                status,
                title,
                message,
                retry,
                try_again,
                start_again,
            } => pages::error_page(
                *status,
                title,
                message,
                *retry,
                try_again.as_deref().map(|url| (url, *start_again)),
            ),
            Self::Matrix {
                status,
                errcode,
                error,
            } => HttpResponse::build(*status)
                .json(serde_json::json!({ "errcode": errcode, "error": error })),
            Self::OAuth {
                status,
                error,
                description,
                retry_after,
                challenge,
            } => {
                let mut response = HttpResponse::build(*status);
                if let Some(seconds) = retry_after {
                    response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                }
                if *status == StatusCode::UNAUTHORIZED {
                    response.insert_header((header::WWW_AUTHENTICATE, challenge.header()));
                }
                response
                    .json(serde_json::json!({ "error": error, "error_description": description }))
            }
            Self::Redirect(url) => HttpResponse::Found()
                .insert_header((header::LOCATION, url.as_str()))
                .finish(),
        }
    }
}
