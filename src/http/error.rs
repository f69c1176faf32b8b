//! The one place where failures become responses: an HTML page for people,
//! Matrix JSON (`errcode`, `error`) for Matrix API clients, OAuth JSON for homeservers.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use url::Url;

use super::pages;
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
            &l.pick("Page not found", "Page introuvable"),
            l.pick(
                "There is nothing at this address. If you followed a link from your Matrix app, start the login again from the app.",
                "Il n’y a rien à cette adresse. Si vous avez suivi un lien depuis votre application Matrix, recommencez la connexion depuis l’application.",
            ),
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
                    l.pick(
                        &format!("The Matrix server of {department} is not answering"),
                        &format!("Le serveur Matrix de {department} ne répond pas"),
                    ),
                    l.pick(
                        "Your login is kept: when the server is back, choose “Try again” to go on from here. If this lasts, your department’s IT support can tell you more.",
                        "Votre connexion est conservée : quand le serveur sera de retour, choisissez « Réessayer » pour continuer d’ici. Si cela dure, le support informatique de votre département pourra vous en dire plus.",
                    ),
                    resume,
                );
            }
            FlowError::IdpUnavailable { department, resume } => {
                let department = department_name(services, &department, l);
                return kept_login(
                    l.pick(
                        &format!("The university login for {department} is not available yet"),
                        &format!("La connexion de l’université pour {department} n’est pas encore disponible"),
                    ),
                    l.pick(
                        "The bridge cannot reach this department's login service at the moment. Your login is kept: wait a minute, then choose “Try again” to go on from here. Other departments are not affected.",
                        "La passerelle ne joint pas le service de connexion de ce département pour le moment. Votre connexion est conservée : attendez une minute, puis choisissez « Réessayer » pour continuer d’ici. Les autres départements ne sont pas concernés.",
                    ),
                    resume,
                );
            }
            FlowError::Saml(SamlError::NoMetadata) => (
                StatusCode::SERVICE_UNAVAILABLE,
                l.pick("The university login cannot be checked yet", "La connexion de l’université ne peut pas encore être vérifiée"),
                l.pick(
                    "The bridge has not yet been able to load what it needs to check this login. Your login is kept: wait a minute, then reload this page.",
                    "La passerelle n’a pas encore pu charger ce qu’il lui faut pour vérifier cette connexion. Votre connexion est conservée : attendez une minute, puis rechargez cette page.",
                ),
                false,
            ),
            FlowError::UnknownDepartment(id) => (
                StatusCode::NOT_FOUND,
                l.pick("Unknown department", "Département inconnu"),
                l.pick(
                    &format!("There is no department called “{id}” here. Pick your department from the list instead."),
                    &format!("Il n’y a pas de département « {id} » ici. Choisissez plutôt votre département dans la liste."),
                ),
                true,
            ),
            FlowError::BadRedirect(e) => (
                StatusCode::BAD_REQUEST,
                l.pick("This login link is not valid", "Ce lien de connexion n’est pas valide"),
                l.pick(
                    &format!("The app that sent you here gave an address to return to that cannot be used ({e}). Start the login again from your Matrix app."),
                    &format!("L’application qui vous a envoyé ici a donné une adresse de retour inutilisable ({e}). Recommencez la connexion depuis votre application Matrix."),
                ),
                false,
            ),
            FlowError::NoBrowserSession => (
                StatusCode::BAD_REQUEST,
                l.pick("Your browser did not keep the login cookie", "Votre navigateur n’a pas gardé le témoin de connexion"),
                l.pick(
                    "Logging in needs a cookie from this site. Allow cookies for this site, then start the login again from your Matrix app.",
                    "La connexion a besoin d’un témoin (cookie) de ce site. Autorisez-les pour ce site, puis recommencez la connexion depuis votre application Matrix.",
                ),
                false,
            ),
            FlowError::Expired => (
                StatusCode::BAD_REQUEST,
                l.pick("This login has expired", "Cette connexion a expiré"),
                l.pick(
                    "The login took too long, or this link was already used. Start the login again from your Matrix app.",
                    "La connexion a pris trop de temps, ou ce lien a déjà servi. Recommencez la connexion depuis votre application Matrix.",
                ),
                false,
            ),
            FlowError::WrongBrowser => (
                StatusCode::FORBIDDEN,
                l.pick("This login was started in another browser", "Cette connexion a commencé dans un autre navigateur"),
                l.pick(
                    "For your safety a login must finish in the browser where it started. Start the login again from your Matrix app in this browser.",
                    "Pour votre sécurité, une connexion doit se terminer dans le navigateur où elle a commencé. Recommencez la connexion depuis votre application Matrix dans ce navigateur.",
                ),
                false,
            ),
            FlowError::OutOfOrder => (
                StatusCode::CONFLICT,
                l.pick("This step was already done", "Cette étape a déjà été faite"),
                l.pick(
                    "This page was opened twice, or the browser went back. Start the login again from your Matrix app.",
                    "Cette page a été ouverte deux fois, ou le navigateur est revenu en arrière. Recommencez la connexion depuis votre application Matrix.",
                ),
                false,
            ),
            FlowError::NotAMember { department, .. } => {
                let department = match department {
                    Some(id) => department_name(services, &id, l),
                    None => l.pick("any department of this login service", "un département de ce service de connexion"),
                };
                (
                StatusCode::FORBIDDEN,
                l.pick("You are not a member of this department", "Vous n’êtes pas membre de ce département"),
                l.pick(
                    &format!("The university login says you do not belong to {department}, so you cannot use its Matrix server. If you chose the wrong department, start again and pick yours. If you think this is a mistake, contact your department's IT support."),
                    &format!("Selon la connexion de l’université, vous n’appartenez pas à {department} : vous ne pouvez donc pas utiliser son serveur Matrix. Si vous vous êtes trompé de département, recommencez et choisissez le vôtre. Si c’est une erreur, contactez le support informatique de votre département."),
                ),
                true,
            )
            }
            FlowError::UpstreamDenied(_) => (
                StatusCode::FORBIDDEN,
                l.pick("The university login was not completed", "La connexion de l’université n’a pas abouti"),
                l.pick(
                    "The university login service did not log you in (perhaps it was cancelled). Start the login again from your Matrix app.",
                    "Le service de connexion de l’université ne vous a pas connecté (peut-être la connexion a-t-elle été annulée). Recommencez depuis votre application Matrix.",
                ),
                false,
            ),
            FlowError::Upstream(UpstreamError::Unavailable(_)) => (
                StatusCode::BAD_GATEWAY,
                l.pick("The university login service is not answering", "Le service de connexion de l’université ne répond pas"),
                l.pick(
                    "The login service could not be reached. Try again in a few minutes.",
                    "Le service de connexion est injoignable. Réessayez dans quelques minutes.",
                ),
                false,
            ),
            FlowError::Saml(SamlError::Replay) => (
                StatusCode::BAD_REQUEST,
                l.pick("This login was already used", "Cette connexion a déjà servi"),
                l.pick(
                    "The answer from the university login service was used before. Start the login again from your Matrix app.",
                    "La réponse du service de connexion de l’université a déjà été utilisée. Recommencez la connexion depuis votre application Matrix.",
                ),
                false,
            ),
            FlowError::Saml(SamlError::Busy) => (
                StatusCode::SERVICE_UNAVAILABLE,
                l.pick("The login service is very busy", "Le service de connexion est très sollicité"),
                l.pick(
                    "Too many university logins are being checked at this moment. Wait a few seconds, then reload this page.",
                    "Trop de connexions de l’université sont en cours de vérification. Attendez quelques secondes, puis rechargez cette page.",
                ),
                false,
            ),
            FlowError::Upstream(_) => unverified(l, StatusCode::BAD_GATEWAY),
            FlowError::Saml(_) => unverified(l, StatusCode::BAD_REQUEST),
            FlowError::Mapping(crate::identity::MappingError::Store(_))
            | FlowError::Store(_)
            | FlowError::Provider(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                l.pick("Something went wrong on our side", "Un problème est survenu de notre côté"),
                l.pick(
                    "The login service had an internal problem. Try again in a few minutes.",
                    "Le service de connexion a eu un problème interne. Réessayez dans quelques minutes.",
                ),
                false,
            ),
            FlowError::Mapping(e) => (
                StatusCode::FORBIDDEN,
                l.pick("Your account cannot be set up", "Votre compte ne peut pas être créé"),
                l.pick(
                    &format!("The university login did not give what is needed to create your Matrix account ({e}). Contact IT support."),
                    &format!("La connexion de l’université n’a pas fourni ce qu’il faut pour créer votre compte Matrix ({e}). Contactez le support informatique."),
                ),
                false,
            ),
            FlowError::Authorize(e) => return Self::from_authorize(e),
            FlowError::BadLoginToken => (
                StatusCode::BAD_GATEWAY,
                l.pick("The homeserver did not log you in", "Le serveur Matrix ne vous a pas connecté"),
                l.pick(
                    "Your department's Matrix server came back without a login. Start the login again from your Matrix app.",
                    "Le serveur Matrix de votre département est revenu sans connexion. Recommencez depuis votre application Matrix.",
                ),
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
        l.pick("The university login could not be verified", "La connexion de l’université n’a pas pu être vérifiée"),
        l.pick(
            "The answer from the university login service failed our security checks, so you were not logged in. Try again; if it keeps happening, contact IT support.",
            "La réponse du service de connexion de l’université n’a pas passé nos contrôles de sécurité : vous n’avez pas été connecté. Réessayez ; si cela se reproduit, contactez le support informatique.",
        ),
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
