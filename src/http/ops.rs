//! Operations: liveness, readiness, Prometheus metrics.

use actix_web::{HttpResponse, web};

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

pub async fn metrics(services: web::Data<Services>) -> HttpResponse {
    services
        .metrics
        .set_token_cache_entries(services.introspector.cached_entries().await);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(services.metrics.render())
}
