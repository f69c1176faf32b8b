//! The one middleware around every route (one layer, as each costs on every
//! request): the request's context (id, path, department, for log lines and
//! error pages; `crate::logging` reads it), its language, CORS preflights, the
//! response headers (`headers`), `X-Request-Id`, and the latency metric.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use super::headers::{self, PageCsp};
use super::i18n::{LANG, Lang};
use super::site::{SITE, Site};
use crate::request_context::RequestContext;
use crate::services::Services;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn edge(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let context = RequestContext::new(
        request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok()),
        request.method().clone(),
        request.uri().clone(),
    );
    let cors = headers::is_cors(request.path());
    let lang = Lang::negotiate(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    // A browser client's CORS preflight: answered here, whatever the route.
    let (response, context) = if cors && request.method() == actix_web::http::Method::OPTIONS {
        (
            Ok(request
                .into_response(actix_web::HttpResponse::NoContent().finish())
                .map_into_boxed_body()),
            context,
        )
    } else {
        let site = request
            .app_data::<web::Data<Arc<Site>>>()
            .map(|s| Arc::clone(s.get_ref()))
            .unwrap_or_default();
        let (response, context) = context
            .scope(LANG.scope(lang, SITE.scope(site, next.call(request))))
            .await;
        (response.map(ServiceResponse::map_into_boxed_body), context)
    };
    let mut response = response?;
    let services = response
        .request()
        .app_data::<web::Data<Services>>()
        .cloned();
    let page_csp = response.request().app_data::<web::Data<PageCsp>>().cloned();
    headers::add(
        &mut response,
        page_csp.as_ref().map(|p| p.get_ref()),
        lang,
        cors,
    );
    if let Ok(id) = HeaderValue::from_str(context.id()) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    }
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
    tracing::debug!(
        request = context.id(),
        method = %context.method(),
        path = context.path(),
        status = response.status().as_u16(),
        "request done"
    );
    Ok(response)
}
