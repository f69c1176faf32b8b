//! Headers on every response: no sniffing; on pages also CSP (with the page's
//! script nonce), no framing, no referrer, no caching; CORS on the Matrix API.

use crate::routes;
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderName, HeaderValue};

use super::i18n::Lang;
use super::pages::{FormTargets, ScriptNonce};
use crate::config::Config;

static CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

/// Whether a request gets CORS headers: the Matrix API and its well-known files.
pub fn is_cors(path: &str) -> bool {
    path.starts_with(routes::MATRIX_PREFIX) || path.starts_with(routes::WELL_KNOWN_PREFIX)
}

/// A page's Content-Security-Policy around its script sources, assembled once
/// at start: the departments' homeservers (which the demo and fallback pages
/// call) do not change while the bridge runs.
pub struct PageCsp {
    head: String,
    tail: String,
}

impl PageCsp {
    pub fn new(config: &Config) -> Self {
        let connect: Vec<String> = config
            .departments
            .iter()
            .map(|d| d.homeserver.base_url.origin().ascii_serialization())
            .collect();
        Self::connecting_to(&connect)
    }

    /// Pages that may call only the bridge and `origins`.
    pub fn connecting_to(origins: &[String]) -> Self {
        let connect: String = origins.iter().map(|o| format!(" {o}")).collect();
        Self {
            head: "default-src 'none'; script-src ".to_owned(),
            tail: format!(
                "; style-src 'self'; img-src 'self' https: data:; connect-src 'self'{connect}; \
                 base-uri 'none'; frame-ancestors 'none'; form-action "
            ),
        }
    }

    /// The policy for a page whose scripts carry `nonce` (none may run without
    /// one) and whose forms may lead only to `form_targets` (a page without
    /// forms gives none: `form-action 'none'`).
    fn value(&self, nonce: Option<&str>, form_targets: Option<&str>) -> Option<HeaderValue> {
        let form_targets = form_targets.unwrap_or("'none'");
        let mut csp =
            String::with_capacity(self.head.len() + self.tail.len() + form_targets.len() + 40);
        csp.push_str(&self.head);
        match nonce {
            Some(nonce) => {
                csp.push_str("'nonce-");
                csp.push_str(nonce);
                csp.push('\'');
            }
            None => csp.push_str("'none'"),
        }
        csp.push_str(&self.tail);
        csp.push_str(form_targets);
        HeaderValue::from_str(&csp).ok()
    }
}

pub fn add(
    response: &mut ServiceResponse<BoxBody>,
    page_csp: Option<&PageCsp>,
    lang: Lang,
    cors: bool,
) {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // The only scripts a page may run carry its nonce (its template sets it).
    let csp = is_html.then(|| {
        let extensions = response.response().extensions();
        let nonce = extensions.get::<ScriptNonce>().map(|n| n.0.as_str());
        let form_targets = extensions.get::<FormTargets>().map(|f| &*f.0);
        match page_csp {
            Some(policy) => policy.value(nonce, form_targets),
            None => PageCsp::connecting_to(&[]).value(nonce, form_targets),
        }
    });
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // What only a browser showing a page acts on: API answers (JSON, empty
    // forward-auth answers) go without.
    if is_html {
        if let Some(csp) = csp.flatten() {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            CROSS_ORIGIN_OPENER_POLICY.clone(),
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.code()),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    }
    // The Matrix API is for any web client; pages (the picker, the fallback) are
    // for the browser that opened them, never for another origin's scripts.
    if cors && !is_html {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("X-Requested-With, Content-Type, Authorization"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_policy_allows_the_departments_homeservers_and_only_the_pages_own_scripts() {
        let config = Config::parse(crate::config::SAMPLE).unwrap();
        let policy = PageCsp::new(&config);
        let origins: Vec<String> = config
            .departments
            .iter()
            .map(|d| d.homeserver.base_url.origin().ascii_serialization())
            .collect();
        assert!(!origins.is_empty());
        let with_nonce = policy.value(Some("abc"), None).unwrap();
        let with_nonce = with_nonce.to_str().unwrap();
        assert!(
            with_nonce.starts_with("default-src 'none'; script-src 'nonce-abc'; "),
            "{with_nonce}"
        );
        assert!(
            with_nonce.contains(&format!("connect-src 'self' {};", origins.join(" "))),
            "{with_nonce}"
        );
        assert!(
            with_nonce.ends_with("base-uri 'none'; frame-ancestors 'none'; form-action 'none'"),
            "a page without forms may submit none: {with_nonce}"
        );
        let without = policy.value(None, None).unwrap();
        assert!(without.to_str().unwrap().contains("script-src 'none';"));
        let picker = policy
            .value(Some("abc"), Some("'self' https://idp.ac.cdl"))
            .unwrap();
        assert!(
            picker
                .to_str()
                .unwrap()
                .ends_with("; form-action 'self' https://idp.ac.cdl")
        );
        let bare = PageCsp::connecting_to(&[]).value(None, None).unwrap();
        assert!(bare.to_str().unwrap().contains("connect-src 'self';"));
    }
}
