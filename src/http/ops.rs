//! Operations: liveness, readiness, Prometheus metrics.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::crypto::constant_time_eq;

use crate::services::Services;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when the database answers.
pub async fn ready(services: web::Data<Services>) -> HttpResponse {
    match services.store.ping().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n"),
        Err(e) => {
            tracing::error!(error = %e, "readiness check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unreachable\n")
        }
    }
}

/// `GET /metrics` on the main listener: served only when `[metrics]` puts it
/// there (a bearer token and no listener of its own); otherwise not found, so
/// the public address never shows the bridge's counters.
pub async fn metrics_on_main_listener(
    services: web::Data<Services>,
    request: HttpRequest,
) -> HttpResponse {
    if !services.config.metrics.on_main_listener() {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("not found\n");
    }
    metrics(services, request).await
}

/// `GET /metrics`: Prometheus text, with the bearer token when one is configured.
pub async fn metrics(services: web::Data<Services>, request: HttpRequest) -> HttpResponse {
    if let Some(token) = &services.config.metrics.bearer_token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
            return HttpResponse::Unauthorized()
                .insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"sso-bridge metrics\"",
                ))
                .content_type("text/plain")
                .body("the metrics need the bearer token of [metrics]\n");
        }
    }
    services
        .metrics
        .set_token_cache_entries(services.introspector.cached_entries().await);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(services.metrics.render())
}
