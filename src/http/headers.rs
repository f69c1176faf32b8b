//! Headers on every response: no sniffing; on pages also CSP (with the page's
//! script nonce), no framing, no referrer, no caching; CORS on the Matrix API.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderName, HeaderValue};

use super::i18n::Lang;
use super::pages::ScriptNonce;
use crate::services::Services;

static CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

/// Whether a request gets CORS headers: the Matrix API and its well-known files.
pub fn is_cors(path: &str) -> bool {
    path.starts_with("/_matrix/") || path.starts_with("/.well-known/")
}

pub fn add(
    response: &mut ServiceResponse<BoxBody>,
    services: Option<&Services>,
    lang: Lang,
    cors: bool,
) {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // The only scripts a page may run carry its nonce (its template sets it).
    let scripts = is_html.then(|| {
        response
            .response()
            .extensions()
            .get::<ScriptNonce>()
            .map_or_else(|| "'none'".to_owned(), |n| format!("'nonce-{}'", n.0))
    });
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // What only a browser showing a page acts on: API answers (JSON, empty
    // forward-auth answers) go without.
    if let Some(scripts) = scripts {
        let connect = services
            .map(|s| {
                s.config
                    .departments
                    .iter()
                    .map(|d| d.homeserver.base_url.origin().ascii_serialization())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let csp = format!(
            "default-src 'none'; script-src {scripts}; style-src 'self'; img-src 'self' https: data:; \
             connect-src 'self' {connect}; base-uri 'none'; frame-ancestors 'none'"
        );
        if let Ok(value) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
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
    if cors {
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
