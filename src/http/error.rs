//! The one place where failures become responses: an HTML page for people,
//! Matrix JSON (`errcode`, `error`) for Matrix API clients, OAuth JSON for homeservers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use url::Url;

use super::pages;
use crate::flow::FlowError;
use crate::provider::ProviderError;
use crate::provider::authorize::AuthorizeError;
use crate::services::Services;
use crate::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{title}: {message}")]
    Page {
        status: StatusCode,
        title: String,
        message: String,
        /// Shown when set: a way out (e.g. start again).
        retry: bool,
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
    },
    /// An error the protocol says goes back to the client by redirect.
    #[error("redirect to {0}")]
    Redirect(Url),
}

impl HttpError {
    pub fn page(status: StatusCode, title: &str, message: impl Into<String>) -> Self {
        Self::Page {
            status,
            title: title.to_owned(),
            message: message.into(),
            retry: false,
        }
    }

    pub fn matrix(status: StatusCode, errcode: &'static str, error: impl Into<String>) -> Self {
        Self::Matrix {
            status,
            errcode,
            error: error.into(),
        }
    }

    pub fn not_found_page() -> Self {
        Self::page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address. If you followed a link from your Matrix app, start the login again from the app.",
        )
    }

    /// A login failure: logged with its precise reason, counted, and shown in plain words.
    pub fn from_flow(services: &Services, error: FlowError) -> Self {
        let reason = error.reason();
        services.metrics.login_failed(reason);
        match &error {
            FlowError::Store(_) | FlowError::Provider(ProviderError::Store(_)) => {
                tracing::error!(reason, error = %error, "login failed")
            }
            _ => tracing::warn!(reason, error = %error, "login failed"),
        }
        let (status, title, message, retry) = match error {
            FlowError::UnknownDepartment(id) => (
                StatusCode::NOT_FOUND,
                "Unknown department",
                format!("There is no department called “{id}” here. Pick your department from the list instead."),
                true,
            ),
            FlowError::BadRedirect(e) => (
                StatusCode::BAD_REQUEST,
                "This login link is not valid",
                format!("The app that sent you here gave an address to return to that cannot be used ({e}). Start the login again from your Matrix app."),
                false,
            ),
            FlowError::NoBrowserSession => (
                StatusCode::BAD_REQUEST,
                "Your browser did not keep the login cookie",
                "Logging in needs a cookie from this site. Allow cookies for this site, then start the login again from your Matrix app.".into(),
                false,
            ),
            FlowError::Expired => (
                StatusCode::BAD_REQUEST,
                "This login has expired",
                "The login took too long, or this link was already used. Start the login again from your Matrix app.".into(),
                false,
            ),
            FlowError::WrongBrowser => (
                StatusCode::FORBIDDEN,
                "This login was started in another browser",
                "For your safety a login must finish in the browser where it started. Start the login again from your Matrix app in this browser.".into(),
                false,
            ),
            FlowError::OutOfOrder => (
                StatusCode::CONFLICT,
                "This step was already done",
                "This page was opened twice, or the browser went back. Start the login again from your Matrix app.".into(),
                false,
            ),
            FlowError::NotAMember { department, .. } => (
                StatusCode::FORBIDDEN,
                "You are not a member of this department",
                format!("The university login says you do not belong to {department}, so you cannot use its Matrix server. If you chose the wrong department, start again and pick yours. If you think this is a mistake, contact your department's IT support."),
                true,
            ),
            FlowError::UpstreamDenied(_) => (
                StatusCode::FORBIDDEN,
                "The university login was not completed",
                "The university login service did not log you in (perhaps it was cancelled). Start the login again from your Matrix app.".into(),
                false,
            ),
            FlowError::Upstream(UpstreamError::Unavailable(_)) => (
                StatusCode::BAD_GATEWAY,
                "The university login service is not answering",
                "The login service could not be reached. Try again in a few minutes.".into(),
                false,
            ),
            FlowError::Upstream(_) => (
                StatusCode::BAD_GATEWAY,
                "The university login could not be verified",
                "The answer from the university login service failed our security checks, so you were not logged in. Try again; if it keeps happening, contact IT support.".into(),
                false,
            ),
            FlowError::Mapping(crate::identity::MappingError::Store(_)) | FlowError::Store(_) | FlowError::Provider(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong on our side",
                "The login service had an internal problem. Try again in a few minutes.".into(),
                false,
            ),
            FlowError::Mapping(e) => (
                StatusCode::FORBIDDEN,
                "Your account cannot be set up",
                format!("The university login did not give what is needed to create your Matrix account ({e}). Contact IT support."),
                false,
            ),
            FlowError::Authorize(e) => return Self::from_authorize(e),
            FlowError::Saml(crate::upstream::saml::SamlError::Replay) => (
                StatusCode::BAD_REQUEST,
                "This login was already used",
                "The answer from the university login service was used before. Start the login again from your Matrix app.".into(),
                false,
            ),
            FlowError::Saml(_) => (
                StatusCode::BAD_REQUEST,
                "The university login could not be verified",
                "The answer from the university login service failed our security checks, so you were not logged in. Try again; if it keeps happening, contact IT support.".into(),
                false,
            ),
            FlowError::BadLoginToken => (
                StatusCode::BAD_GATEWAY,
                "The homeserver did not log you in",
                "Your department's Matrix server came back without a login. Start the login again from your Matrix app.".into(),
                false,
            ),
        };
        Self::Page {
            status,
            title: title.to_owned(),
            message,
            retry,
        }
    }

    fn from_authorize(error: AuthorizeError) -> Self {
        match error.redirect_url() {
            Some(url) => Self::Redirect(url),
            None => Self::page(
                StatusCode::BAD_REQUEST,
                "This login request is not valid",
                format!(
                    "A Matrix server sent an authorization request the bridge cannot accept: {error}. Its administrator should check its configuration (`sso-bridge homeserver-config`)."
                ),
            ),
        }
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
        Self::OAuth {
            status,
            error: error.code(),
            description: error.description(),
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
            } => pages::error_page(*status, title, message, *retry),
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
            } => {
                let mut response = HttpResponse::build(*status);
                if *status == StatusCode::UNAUTHORIZED {
                    response.insert_header((
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"sso-bridge\""),
                    ));
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
