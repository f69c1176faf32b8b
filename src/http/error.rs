//! The one place where failures become responses: an HTML page for people,
//! Matrix JSON (`errcode`, `error`) for Matrix API clients, OAuth JSON for homeservers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use url::Url;

use super::pages;
use super::words;
use crate::flow::FlowError;
use crate::introspection::IntrospectionError;
use crate::provider::ProviderError;
use crate::provider::authorize::AuthorizeError;
use crate::services::Services;
use crate::upstream::UpstreamError;
use crate::upstream::saml::SamlError;

use super::i18n::Lang;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{title}: {message}")]
    Page {
        status: StatusCode,
        title: String,
        message: String,
        /// Shown when set: a way out (e.g. start again).
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
    pub fn page(status: StatusCode, title: &str, message: impl Into<String>) -> Self {
        Self::Page {
            status,
            title: title.to_owned(),
            message: message.into(),
            retry: false,
            try_again: None,
            start_again: false,
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
        let l = Lang::current();
        Self::page(
            StatusCode::NOT_FOUND,
            &words::PAGE_NOT_FOUND.in_lang(l),
            words::THERE_IS_NOTHING_AT_THIS_ADDRESS.in_lang(l),
        )
    }

    /// A login failure: logged with its precise reason, counted, and shown in plain words.
    pub fn from_flow(services: &Services, error: FlowError) -> Self {
        // A login that ended: its page, with a way to begin a new one for the
        // same client instead of the browser's Back button (which leads to the
        // IdP's spent page).
        let error = match error {
            FlowError::Ended { cause, restart } => {
                return match Self::from_flow(services, *cause) {
                    Self::Page {
                        status,
                        title,
                        message,
                        try_again: None,
                        ..
                    } => Self::Page {
                        status,
                        title,
                        message,
                        retry: false,
                        try_again: Some(restart),
                        start_again: true,
                    },
                    other => other,
                };
            }
            other => other,
        };
        let reason = error.reason();
        let department = crate::request_context::department();
        services
            .metrics
            .login_failed(reason, department.as_deref().unwrap_or("none"));
        match &error {
            FlowError::Store(_)
            | FlowError::Provider(ProviderError::Store(_))
            | FlowError::HomeserverUnavailable { .. }
            | FlowError::IdpUnavailable { .. } => {
                tracing::error!(reason, error = %error, "login failed")
            }
            _ => tracing::warn!(reason, error = %error, "login failed"),
        }
        let l = Lang::current();
        let (status, title, message, retry) = match error {
            FlowError::Ended { .. } => unreachable!("handled above"),
            FlowError::HomeserverUnavailable {
                department, resume, ..
            } => {
                let department = department_name(services, &department, l);
                return kept_login(
                    words::THE_MATRIX_SERVER_OF_IS_NOT.fill(l, &department),
                    words::YOUR_LOGIN_IS_KEPT_WHEN_THE.in_lang(l),
                    resume,
                );
            }
            FlowError::IdpUnavailable { department, resume } => {
                let department = department_name(services, &department, l);
                return kept_login(
                    words::THE_UNIVERSITY_LOGIN_FOR_IS_NOT.fill(l, &department),
                    words::THE_BRIDGE_CANNOT_REACH_THIS_DEPARTMENT.in_lang(l),
                    resume,
                );
            }
            FlowError::Saml(SamlError::NoMetadata) => (
                StatusCode::SERVICE_UNAVAILABLE,
                words::THE_UNIVERSITY_LOGIN_CANNOT_BE_CHECKED.in_lang(l),
                words::THE_BRIDGE_HAS_NOT_YET_BEEN.in_lang(l),
                false,
            ),
            FlowError::UnknownDepartment(id) => (
                StatusCode::NOT_FOUND,
                words::UNKNOWN_DEPARTMENT.in_lang(l),
                words::THERE_IS_NO_DEPARTMENT_CALLED_HERE.fill(l, &id),
                true,
            ),
            FlowError::BadRedirect(e) => (
                StatusCode::BAD_REQUEST,
                words::THIS_LOGIN_LINK_IS_NOT_VALID.in_lang(l),
                words::THE_APP_THAT_SENT_YOU_HERE.fill(l, &e),
                false,
            ),
            FlowError::NoBrowserSession => (
                StatusCode::BAD_REQUEST,
                words::YOUR_BROWSER_DID_NOT_KEEP_THE.in_lang(l),
                words::LOGGING_IN_NEEDS_A_COOKIE_FROM.in_lang(l),
                false,
            ),
            FlowError::Expired => (
                StatusCode::BAD_REQUEST,
                words::THIS_LOGIN_HAS_EXPIRED.in_lang(l),
                words::THE_LOGIN_TOOK_TOO_LONG_OR.in_lang(l),
                false,
            ),
            FlowError::WrongBrowser => (
                StatusCode::FORBIDDEN,
                words::THIS_LOGIN_WAS_STARTED_IN_ANOTHER.in_lang(l),
                words::FOR_YOUR_SAFETY_A_LOGIN_MUST.in_lang(l),
                false,
            ),
            FlowError::OutOfOrder => (
                StatusCode::CONFLICT,
                words::THIS_STEP_WAS_ALREADY_DONE.in_lang(l),
                words::THIS_PAGE_WAS_OPENED_TWICE_OR.in_lang(l),
                false,
            ),
            FlowError::NotAMember { department, .. } => {
                let department = match department {
                    Some(id) => department_name(services, &id, l),
                    None => words::ANY_DEPARTMENT_OF_THIS_LOGIN_SERVICE.in_lang(l),
                };
                (
                    StatusCode::FORBIDDEN,
                    words::YOU_ARE_NOT_A_MEMBER_OF.in_lang(l),
                    words::THE_UNIVERSITY_LOGIN_SAYS_YOU_DO.fill(l, &department),
                    true,
                )
            }
            FlowError::UpstreamDenied(_) => (
                StatusCode::FORBIDDEN,
                words::THE_UNIVERSITY_LOGIN_WAS_NOT_COMPLETED.in_lang(l),
                words::THE_UNIVERSITY_LOGIN_SERVICE_DID_NOT.in_lang(l),
                false,
            ),
            FlowError::Upstream(UpstreamError::Unavailable(_)) => (
                StatusCode::BAD_GATEWAY,
                words::THE_UNIVERSITY_LOGIN_SERVICE_IS_NOT.in_lang(l),
                words::THE_LOGIN_SERVICE_COULD_NOT_BE.in_lang(l),
                false,
            ),
            FlowError::Saml(SamlError::Replay) => (
                StatusCode::BAD_REQUEST,
                words::THIS_LOGIN_WAS_ALREADY_USED.in_lang(l),
                words::THE_ANSWER_FROM_THE_UNIVERSITY_LOGIN.in_lang(l),
                false,
            ),
            FlowError::Saml(SamlError::Busy) => (
                StatusCode::SERVICE_UNAVAILABLE,
                words::THE_LOGIN_SERVICE_IS_VERY_BUSY.in_lang(l),
                words::TOO_MANY_UNIVERSITY_LOGINS_ARE_BEING.in_lang(l),
                false,
            ),
            FlowError::Upstream(_) => unverified(l, StatusCode::BAD_GATEWAY),
            FlowError::Saml(_) => unverified(l, StatusCode::BAD_REQUEST),
            FlowError::Mapping(crate::identity::MappingError::Store(_))
            | FlowError::Store(_)
            | FlowError::Provider(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                words::SOMETHING_WENT_WRONG_ON_OUR_SIDE.in_lang(l),
                words::THE_LOGIN_SERVICE_HAD_AN_INTERNAL.in_lang(l),
                false,
            ),
            FlowError::Mapping(e) => (
                StatusCode::FORBIDDEN,
                words::YOUR_ACCOUNT_CANNOT_BE_SET_UP.in_lang(l),
                words::THE_UNIVERSITY_LOGIN_DID_NOT_GIVE.fill(l, &e),
                false,
            ),
            FlowError::Authorize(e) => return Self::from_authorize(e),
            FlowError::BadLoginToken => (
                StatusCode::BAD_GATEWAY,
                words::THE_HOMESERVER_DID_NOT_LOG_YOU.in_lang(l),
                words::YOUR_DEPARTMENT_S_MATRIX_SERVER_CAME.in_lang(l),
                false,
            ),
        };
        Self::Page {
            status,
            title,
            message,
            retry,
            try_again: None,
            start_again: false,
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

/// An upstream answer that failed the security checks.
fn unverified(l: Lang, status: StatusCode) -> (StatusCode, String, String, bool) {
    (
        status,
        words::THE_UNIVERSITY_LOGIN_COULD_NOT_BE.in_lang(l),
        words::THE_ANSWER_FROM_THE_UNIVERSITY_LOGIN_2.in_lang(l),
        false,
    )
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

/// A 503 page for a login that is kept: "Try again" goes on from `resume`.
fn kept_login(title: String, message: String, resume: String) -> HttpError {
    HttpError::Page {
        status: StatusCode::SERVICE_UNAVAILABLE,
        title,
        message,
        retry: false,
        try_again: Some(resume),
        start_again: false,
    }
}

/// A department's name in the page's language, found by its id.
fn department_name(services: &Services, id: &str, l: Lang) -> String {
    services
        .config
        .department(id)
        .map_or(id, |d| d.name_in(l.code()))
        .to_owned()
}
