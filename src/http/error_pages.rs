//! Which page each failure gets, as two tables: a login's failure
//! ([`login_page`], per `FlowError` and the SAML and upstream cases with a page
//! of their own) and the edge's own pages ([`edge_page`]). Each row is a status,
//! the page's words (`words.rs`), what fills their `{}` and the way on the page
//! offers; the language, the filling, the buttons, the log line and the failure
//! metric are done once, around the tables.

use actix_web::http::StatusCode;

use super::error::HttpError;
use super::i18n::Lang;
use super::words::{self, PageWords};
use crate::config::Config;
use crate::config::TemplateError;
use crate::flow::{FlowError, REDIRECT_MAX_LENGTH, RedirectUrlError};
use crate::identity::MappingError;
use crate::provider::ProviderError;
use crate::services::Services;
use crate::upstream::UpstreamError;
use crate::upstream::saml::SamlError;

/// One row of a table: what a failure's page says and offers.
struct Row<'a> {
    status: StatusCode,
    words: &'static PageWords,
    fill: Fill<'a>,
    way_on: WayOn<'a>,
}

/// What fills the `{}` of a page's title or message.
enum Fill<'a> {
    Nothing,
    Text(String),
    /// A department, by id: its name in the page's language.
    Department(&'a str),
    /// A department, or none: "any department of this login service".
    DepartmentOrAny(Option<&'a str>),
    /// A wait: "1 second", "2 seconds".
    Seconds(u64),
    /// Why, in the page's language: a phrase, filled with the value when it has a `{}`.
    Why(&'static words::Phrase, Option<String>),
}

/// The page's way on, besides the request id every error page shows.
enum WayOn<'a> {
    Nothing,
    /// The hint to go back to the picker and choose another department.
    GoBack,
    /// The login was kept: "Try again" resumes it at this address.
    TryAgain(&'a str),
}

/// A login's failure → its page.
#[rustfmt::skip]
fn login_page(error: &FlowError) -> Row<'_> {
    use FlowError as F;
    use StatusCode as S;
    use WayOn::{GoBack, Nothing, TryAgain};
    let text = |value: &dyn std::fmt::Display| Fill::Text(value.to_string());
    let (status, words, fill, way_on) = match error {
        F::HomeserverUnavailable { department, resume, .. }
                                   => (S::SERVICE_UNAVAILABLE, &words::HOMESERVER_DOWN,          Fill::Department(department),                 TryAgain(resume.as_str())),
        F::IdpUnavailable { department, resume }
                                   => (S::SERVICE_UNAVAILABLE, &words::IDP_UNAVAILABLE,          Fill::Department(department),                 TryAgain(resume.as_str())),
        F::Saml(SamlError::NoMetadata)
                                   => (S::SERVICE_UNAVAILABLE, &words::IDP_METADATA_MISSING,     Fill::Nothing,                                Nothing),
        F::UnknownDepartment(id)   => (S::NOT_FOUND,           &words::UNKNOWN_DEPARTMENT,       text(id),                                     GoBack),
        F::BadRedirect(e)          => (S::BAD_REQUEST,         &words::BAD_REDIRECT_URL,         redirect_why(e),                              Nothing),
        F::NoBrowserSession        => (S::BAD_REQUEST,         &words::NO_COOKIE,                Fill::Nothing,                                Nothing),
        F::Expired                 => (S::BAD_REQUEST,         &words::EXPIRED,                  Fill::Nothing,                                Nothing),
        F::WrongBrowser            => (S::FORBIDDEN,           &words::WRONG_BROWSER,            Fill::Nothing,                                Nothing),
        F::OutOfOrder              => (S::CONFLICT,            &words::OUT_OF_ORDER,             Fill::Nothing,                                Nothing),
        F::NotAMember { department, .. }
                                   => (S::FORBIDDEN,           &words::NOT_A_MEMBER,             Fill::DepartmentOrAny(department.as_deref()), GoBack),
        F::UpstreamDenied(_)       => (S::FORBIDDEN,           &words::IDP_DENIED,               Fill::Nothing,                                Nothing),
        F::Upstream(UpstreamError::Unavailable(_))
                                   => (S::BAD_GATEWAY,         &words::IDP_NOT_ANSWERING,        Fill::Nothing,                                Nothing),
        F::Saml(SamlError::Replay) => (S::BAD_REQUEST,         &words::ANSWER_REPLAYED,          Fill::Nothing,                                Nothing),
        F::Saml(SamlError::Busy)   => (S::SERVICE_UNAVAILABLE, &words::TOO_BUSY,                 Fill::Nothing,                                Nothing),
        F::Upstream(_)             => (S::BAD_GATEWAY,         &words::ANSWER_UNVERIFIED,        Fill::Nothing,                                Nothing),
        F::Saml(_)                 => (S::BAD_REQUEST,         &words::ANSWER_UNVERIFIED,        Fill::Nothing,                                Nothing),
        F::Mapping(MappingError::Store(_)) | F::Store(_) | F::Provider(_)
                                   => (S::SERVICE_UNAVAILABLE, &words::INTERNAL_PROBLEM,         Fill::Nothing,                                Nothing),
        F::Mapping(e)              => (S::FORBIDDEN,           &words::NO_ACCOUNT,               account_why(e),                               Nothing),
        // Unless it goes back to the homeserver by redirect (see `from_flow`).
        F::Authorize(e)            => (S::BAD_REQUEST,         &words::BAD_AUTHORIZE_REQUEST,    text(e),                                      Nothing),
        F::BadLoginToken           => (S::BAD_GATEWAY,         &words::NO_LOGIN_FROM_HOMESERVER, Fill::Nothing,                                Nothing),
        // The page of its cause; `from_flow` adds "Start again".
        F::Ended { cause, .. }     => return login_page(cause),
    };
    Row { status, words, fill, way_on }
}

/// Why a client's return address cannot be used, in words of the page's language.
fn redirect_why(error: &RedirectUrlError) -> Fill<'static> {
    use RedirectUrlError as R;
    match error {
        R::Missing => Fill::Why(&words::REDIRECT_MISSING, None),
        R::Malformed => Fill::Why(&words::REDIRECT_MALFORMED, None),
        R::ForbiddenScheme(scheme) => {
            Fill::Why(&words::REDIRECT_FORBIDDEN_SCHEME, Some(scheme.clone()))
        }
        R::Credentials => Fill::Why(&words::REDIRECT_CREDENTIALS, None),
        R::NoHost => Fill::Why(&words::REDIRECT_NO_HOST, None),
        R::TooLong => Fill::Why(
            &words::REDIRECT_TOO_LONG,
            Some(REDIRECT_MAX_LENGTH.to_string()),
        ),
    }
}

/// Why no account can be made from what the IdP sent, in words of the page's language.
fn account_why(error: &MappingError) -> Fill<'static> {
    match error {
        MappingError::Localpart(TemplateError::MissingClaim(claim)) => {
            Fill::Why(&words::ACCOUNT_CLAIM_MISSING, Some(claim.clone()))
        }
        MappingError::Localpart(_) => Fill::Why(&words::ACCOUNT_TEMPLATE_UNUSABLE, None),
        MappingError::EmptyLocalpart(name) => {
            Fill::Why(&words::ACCOUNT_NAME_UNUSABLE, Some(name.clone()))
        }
        MappingError::Exhausted(name) => Fill::Why(&words::ACCOUNT_NAMES_TAKEN, Some(name.clone())),
        // Shown as the internal problem it is (see `login_page`).
        MappingError::Store(_) => Fill::Nothing,
    }
}

/// The pages the edge shows for its own reasons, not a login's failure.
pub enum EdgePage {
    NotFound,
    /// A Matrix client's link names no department; the name it gave.
    UnknownDepartmentInLink(String),
    /// The picker's e-mail domain belongs to no department; the domain.
    NoDepartmentForEmail(String),
    /// The per-address limit on logins; the wait, in seconds.
    TooManyLogins(u64),
    /// An IdP-started sign-out that ended here: a notice, not a failure.
    SignedOut,
    SignOutRefused,
    /// A form body that cannot be read: why, and whether for its size.
    UnreadableForm {
        why: String,
        too_large: bool,
    },
    /// A query string that cannot be read; why.
    InvalidAddress(String),
    SpMetadataUnavailable,
}

/// The edge's own page → its status and words.
#[rustfmt::skip]
fn edge_page(page: &EdgePage) -> Row<'_> {
    use EdgePage as E;
    use StatusCode as S;
    let (status, words, fill) = match page {
        E::NotFound                      => (S::NOT_FOUND,             &words::NOT_FOUND,                  Fill::Nothing),
        E::UnknownDepartmentInLink(name) => (S::NOT_FOUND,             &words::UNKNOWN_DEPARTMENT_IN_LINK, Fill::Text(name.clone())),
        E::NoDepartmentForEmail(domain)  => (S::NOT_FOUND,             &words::NO_DEPARTMENT_FOR_EMAIL,    Fill::Text(domain.clone())),
        E::TooManyLogins(wait)           => (S::TOO_MANY_REQUESTS,     &words::TOO_MANY_LOGINS,            Fill::Seconds(*wait)),
        E::SignedOut                     => (S::OK,                    &words::SIGNED_OUT,                 Fill::Nothing),
        E::SignOutRefused                => (S::BAD_REQUEST,           &words::SIGN_OUT_REFUSED,           Fill::Nothing),
        E::UnreadableForm { why, too_large: true }
                                         => (S::PAYLOAD_TOO_LARGE,     &words::UNREADABLE_FORM,            Fill::Text(why.clone())),
        E::UnreadableForm { why, .. }    => (S::BAD_REQUEST,           &words::UNREADABLE_FORM,            Fill::Text(why.clone())),
        E::InvalidAddress(why)           => (S::BAD_REQUEST,           &words::INVALID_ADDRESS,            Fill::Text(why.clone())),
        E::SpMetadataUnavailable         => (S::INTERNAL_SERVER_ERROR, &words::SP_METADATA_UNAVAILABLE,    Fill::Nothing),
    };
    Row { status, words, fill, way_on: WayOn::Nothing }
}

impl From<EdgePage> for HttpError {
    fn from(page: EdgePage) -> Self {
        edge_page(&page).into_page(Lang::current(), None, None)
    }
}

impl HttpError {
    /// A login's failure: logged with its precise reason, counted, and shown in plain words.
    pub fn from_flow(services: &Services, error: FlowError) -> Self {
        // A login that ended: its cause's page, with a way to begin a new one
        // for the same client instead of the browser's Back button (which
        // leads to the IdP's spent page).
        let mut error = error;
        let mut restart = None;
        while let FlowError::Ended { cause, restart: to } = error {
            restart = Some(to);
            error = *cause;
        }
        log_and_count(services, &error);
        if let FlowError::Authorize(e) = &error
            && let Some(url) = e.redirect_url()
        {
            return Self::Redirect(url);
        }
        login_page(&error).into_page(Lang::current(), Some(&services.config), restart)
    }
}

/// The failure metric, by reason and department, and the log line: an error
/// for what the operator must look at, a warning for the rest.
fn log_and_count(services: &Services, error: &FlowError) {
    let reason = error.reason();
    let department = crate::request_context::department();
    services
        .metrics
        .login_failed(reason, department.as_deref().unwrap_or("none"));
    match error {
        FlowError::Store(_)
        | FlowError::Provider(ProviderError::Store(_))
        | FlowError::HomeserverUnavailable { .. }
        | FlowError::IdpUnavailable { .. } => {
            tracing::error!(reason, error = %error, "login failed")
        }
        _ => tracing::warn!(reason, error = %error, "login failed"),
    }
}

impl Row<'_> {
    /// The page in `lang`; `restart` (a login that ended) adds "Start again"
    /// unless the login was kept.
    fn into_page(self, lang: Lang, config: Option<&Config>, restart: Option<String>) -> HttpError {
        let value = match self.fill {
            Fill::Nothing => None,
            Fill::Text(text) => Some(text),
            Fill::Department(id) => Some(department_name(config, id, lang)),
            Fill::DepartmentOrAny(Some(id)) => Some(department_name(config, id, lang)),
            Fill::DepartmentOrAny(None) => Some(words::ANY_DEPARTMENT.in_lang(lang)),
            Fill::Seconds(count) => Some(seconds(count, lang)),
            Fill::Why(phrase, None) => Some(phrase.in_lang(lang)),
            Fill::Why(phrase, Some(value)) => Some(phrase.fill(lang, &value)),
        };
        let say = |phrase: &words::Phrase| match &value {
            Some(value) => phrase.fill(lang, value),
            None => phrase.in_lang(lang),
        };
        let (retry, try_again, start_again) = match (self.way_on, restart) {
            (WayOn::TryAgain(resume), _) => (false, Some(resume.to_owned()), false),
            (_, Some(restart)) => (false, Some(restart), true),
            (WayOn::GoBack, None) => (true, None, false),
            (WayOn::Nothing, None) => (false, None, false),
        };
        HttpError::Page {
            status: self.status,
            title: say(&self.words.title),
            message: say(&self.words.message),
            retry,
            try_again,
            start_again,
        }
    }
}

/// A department's name in the page's language, found by its id.
fn department_name(config: Option<&Config>, id: &str, lang: Lang) -> String {
    config
        .and_then(|config| config.department(id))
        .map_or(id, |d| d.name_in(lang.code()))
        .to_owned()
}

/// "1 second", "2 seconds".
fn seconds(count: u64, lang: Lang) -> String {
    let unit = if count == 1 {
        &words::SECOND
    } else {
        &words::SECONDS
    };
    format!("{count} {}", unit.in_lang(lang))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::RedirectUrlError;
    use crate::provider::authorize::AuthorizeError;
    use crate::store::StoreError;

    /// A failure of every kind `login_page` tells apart.
    fn every_login_failure() -> Vec<FlowError> {
        let store = || StoreError::Database(sqlx::Error::PoolTimedOut);
        vec![
            FlowError::HomeserverUnavailable {
                department: "eng".into(),
                detail: "timeout".into(),
                resume: "/resume".into(),
            },
            FlowError::IdpUnavailable {
                department: "eng".into(),
                resume: "/resume".into(),
            },
            FlowError::Saml(SamlError::NoMetadata),
            FlowError::UnknownDepartment("nowhere".into()),
            FlowError::BadRedirect(RedirectUrlError::Missing),
            FlowError::NoBrowserSession,
            FlowError::Expired,
            FlowError::WrongBrowser,
            FlowError::OutOfOrder,
            FlowError::NotAMember {
                department: Some("eng".into()),
                rule: "rule".into(),
            },
            FlowError::NotAMember {
                department: None,
                rule: "rule".into(),
            },
            FlowError::UpstreamDenied("access_denied".into()),
            FlowError::Upstream(UpstreamError::Unavailable("timeout".into())),
            FlowError::Saml(SamlError::Replay),
            FlowError::Saml(SamlError::Busy),
            FlowError::Upstream(UpstreamError::Invalid("bad signature".into())),
            FlowError::Saml(SamlError::Signature),
            FlowError::Mapping(MappingError::Store(store())),
            FlowError::Store(store()),
            FlowError::Provider(ProviderError::Signing("no key".into())),
            FlowError::Mapping(MappingError::EmptyLocalpart("..".into())),
            FlowError::Authorize(AuthorizeError::NotRedirectable("unknown client".into())),
            FlowError::BadLoginToken,
            FlowError::Ended {
                cause: Box::new(FlowError::Expired),
                restart: "/restart".into(),
            },
        ]
    }

    fn every_edge_page() -> Vec<EdgePage> {
        vec![
            EdgePage::NotFound,
            EdgePage::UnknownDepartmentInLink("nowhere".into()),
            EdgePage::NoDepartmentForEmail("example.org".into()),
            EdgePage::TooManyLogins(1),
            EdgePage::TooManyLogins(30),
            EdgePage::SignedOut,
            EdgePage::SignOutRefused,
            EdgePage::UnreadableForm {
                why: "too big".into(),
                too_large: true,
            },
            EdgePage::UnreadableForm {
                why: "not a form".into(),
                too_large: false,
            },
            EdgePage::InvalidAddress("missing field".into()),
            EdgePage::SpMetadataUnavailable,
        ]
    }

    /// A row's page in every language: a title and a message, each with
    /// every `{}` filled, and a placeholder exactly where the row has a value.
    fn check<'a>(row: impl Fn() -> Row<'a>, what: &str) -> StatusCode {
        let sample = row();
        let has_value = !matches!(sample.fill, Fill::Nothing);
        let placeholders = sample.words.title.en.matches("{}").count()
            + sample.words.message.en.matches("{}").count();
        assert_eq!(has_value, placeholders > 0, "{what}: value and placeholder");
        for lang in [Lang::En, Lang::Fr] {
            let HttpError::Page { title, message, .. } = row().into_page(lang, None, None) else {
                panic!("{what}: not a page");
            };
            for text in [&title, &message] {
                assert!(!text.trim().is_empty(), "{what} in {lang:?}");
                assert!(!text.contains("{}"), "{what} in {lang:?}: {text}");
            }
        }
        sample.status
    }

    #[test]
    fn every_login_failure_has_an_error_status_and_its_words_in_every_language() {
        for error in every_login_failure() {
            let status = check(|| login_page(&error), &format!("{error:?}"));
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{error:?}"
            );
        }
    }

    /// Why a return address or an account cannot be used is said in the
    /// page's language, every reason of the lower layers' errors included.
    #[test]
    fn the_reason_on_a_page_is_in_the_pages_language() {
        let failures = [
            RedirectUrlError::Missing,
            RedirectUrlError::Malformed,
            RedirectUrlError::ForbiddenScheme("javascript".into()),
            RedirectUrlError::Credentials,
            RedirectUrlError::NoHost,
            RedirectUrlError::TooLong,
        ]
        .map(FlowError::BadRedirect)
        .into_iter()
        .chain(
            [
                MappingError::Localpart(TemplateError::MissingClaim("preferred_username".into())),
                MappingError::Localpart(TemplateError::NoClaim("x".into())),
                MappingError::EmptyLocalpart("...".into()),
                MappingError::Exhausted("alice".into()),
            ]
            .map(FlowError::Mapping),
        );
        for error in failures {
            // What the lower layer says (the log's words), without the flow's prefix.
            let english = match &error {
                FlowError::BadRedirect(e) => e.to_string(),
                FlowError::Mapping(e) => e.to_string(),
                _ => unreachable!(),
            };
            let page = |lang| match login_page(&error).into_page(lang, None, None) {
                HttpError::Page { message, .. } => message,
                other => panic!("{other:?}"),
            };
            let (en, fr) = (page(Lang::En), page(Lang::Fr));
            assert_ne!(en, fr);
            for (lang, text) in [("en", &en), ("fr", &fr)] {
                // The technical sentence is for the log, never the page.
                assert!(!text.contains(&english), "{lang}: {text}");
            }
        }
        let page = login_page(&FlowError::BadRedirect(RedirectUrlError::TooLong)).into_page(
            Lang::Fr,
            None,
            None,
        );
        let HttpError::Page { message, .. } = page else {
            panic!()
        };
        assert!(message.contains("dépasse 2048 caractères"), "{message}");
    }

    #[test]
    fn every_edge_page_has_its_status_and_its_words_in_every_language() {
        for page in every_edge_page() {
            let status = check(|| edge_page(&page), "edge page");
            // Signed out is a notice shown with the error page's layout.
            let notice = matches!(page, EdgePage::SignedOut);
            assert!(
                notice == (status == StatusCode::OK)
                    && (notice || status.is_client_error() || status.is_server_error()),
                "{status}"
            );
        }
    }

    #[test]
    fn a_kept_login_offers_try_again_and_an_ended_one_start_again() {
        let kept = FlowError::IdpUnavailable {
            department: "eng".into(),
            resume: "/resume".into(),
        };
        let HttpError::Page {
            try_again,
            start_again,
            ..
        } = login_page(&kept).into_page(Lang::En, None, Some("/restart".into()))
        else {
            panic!("not a page");
        };
        assert_eq!(
            (try_again.as_deref(), start_again),
            (Some("/resume"), false)
        );

        let refused = FlowError::NotAMember {
            department: None,
            rule: "rule".into(),
        };
        let page = |restart| login_page(&refused).into_page(Lang::En, None, restart);
        let HttpError::Page {
            retry: true,
            try_again: None,
            message,
            ..
        } = page(None)
        else {
            panic!("a refusal outside an ended login hints at going back");
        };
        assert!(message.contains("any department of this login service"));
        let HttpError::Page {
            retry: false,
            try_again: Some(restart),
            start_again: true,
            ..
        } = page(Some("/restart".into()))
        else {
            panic!("an ended login offers Start again instead");
        };
        assert_eq!(restart, "/restart");
    }

    #[test]
    fn waits_are_counted_in_the_page_language() {
        assert_eq!(seconds(1, Lang::En), "1 second");
        assert_eq!(seconds(2, Lang::En), "2 seconds");
        assert_eq!(seconds(2, Lang::Fr), "2 secondes");
    }
}
