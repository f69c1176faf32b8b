//! Headers on every response (CSP, no framing, no referrer, no caching of pages),
//! CORS on the Matrix API, and request latency metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::i18n::{LANG, Lang};
use super::pages::ScriptNonce;
use crate::services::Services;

pub async fn security_headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let cors = {
        let path = request.path();
        path.starts_with("/_matrix/") || path.starts_with("/.well-known/")
    };
    let lang = Lang::negotiate(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    // A browser client's CORS preflight: answered here, whatever the route.
    let mut response = if cors && request.method() == actix_web::http::Method::OPTIONS {
        request
            .into_response(actix_web::HttpResponse::NoContent().finish())
            .map_into_boxed_body()
    } else {
        LANG.scope(lang, next.call(request))
            .await?
            .map_into_boxed_body()
    };
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let services = response
        .request()
        .app_data::<web::Data<Services>>()
        .cloned();
    // The only scripts a page may run carry its nonce (pages::html sets it).
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
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Some(scripts) = scripts {
        let connect = services
            .as_ref()
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
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Some(services) = services {
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        services.metrics.request(
            &route,
            response.status().as_str(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(response)
}
