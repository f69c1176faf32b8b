//! Per-client-address rate limits on the endpoints a flood would hurt: the
//! refusal speaks each endpoint's language (a page for people, Matrix JSON for
//! clients, OAuth JSON for homeservers), always with `Retry-After`.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use super::client_address::{client_address, limit_key};
use super::error::HttpError;
use super::error_pages::EdgePage;
use crate::rate_limit::{Rate, RetryAfter};
use crate::services::Services;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Browser steps of a login: starting it, the picker, upstream callbacks.
    Login,
    /// The bridge's own `POST /login` (MSC1730), answered in Matrix JSON.
    MatrixLogin,
    SamlAcs,
    /// The OpenID Provider's token endpoint.
    Token,
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Self::Login | Self::MatrixLogin => "login",
            Self::SamlAcs => "saml_acs",
            Self::Token => "token",
        }
    }

    fn rate(self, services: &Services) -> Option<Rate> {
        let limits = &services.config.rate_limits;
        match self {
            Self::Login | Self::MatrixLogin => limits.login,
            Self::SamlAcs => limits.saml_acs,
            Self::Token => limits.token,
        }
    }
}

/// The address key of a request, for any per-address limit.
pub fn address_key(services: &Services, request: &actix_web::HttpRequest) -> Option<String> {
    client_address(
        request.peer_addr(),
        request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok()),
        &services.config.rate_limits.trusted_proxies,
    )
    .map(limit_key)
}

/// Takes one from the address's bucket for `limit`, or says how long to wait.
pub fn check(
    services: &Services,
    limit: &str,
    rate: Rate,
    request: &actix_web::HttpRequest,
) -> Result<(), RetryAfter> {
    match address_key(services, request) {
        Some(key) => {
            services
                .address_limits
                .check(services.clock.as_ref(), &format!("{limit} {key}"), rate)
        }
        None => Ok(()),
    }
}

/// The middleware of each limited route (`.wrap(from_fn(address_limit::login))`).
pub async fn login(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    by_address(Limited::Login, request, next).await
}

pub async fn matrix_login(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    by_address(Limited::MatrixLogin, request, next).await
}

pub async fn saml_acs(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    by_address(Limited::SamlAcs, request, next).await
}

pub async fn token(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    by_address(Limited::Token, request, next).await
}

async fn by_address(
    limited: Limited,
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(services) = request.app_data::<web::Data<Services>>().cloned() else {
        return next.call(request).await;
    };
    let Some(rate) = limited.rate(&services) else {
        return next.call(request).await;
    };
    match check(&services, limited.name(), rate, request.request()) {
        Ok(()) => next.call(request).await,
        Err(retry) => {
            services.metrics.rate_limited(limited.name());
            log_refusal(&services, limited.name(), retry);
            Ok(request.into_response(refusal(limited, retry)))
        }
    }
}

/// One warning a minute per limit; every refusal is in `rate_limited_total`.
pub fn log_refusal(services: &Services, limit: &str, retry: RetryAfter) {
    let once = services.address_limits.check(
        services.clock.as_ref(),
        &format!("log {limit}"),
        crate::rate_limit::LOG_ONCE_A_MINUTE,
    );
    if once.is_ok() {
        tracing::warn!(
            limit,
            retry_after = retry.0,
            "client address over its rate limit (logged once a minute; see rate_limited_total)"
        );
    }
}

fn refusal(limited: Limited, retry: RetryAfter) -> HttpResponse {
    let mut response = match limited {
        Limited::Login | Limited::SamlAcs => {
            HttpError::from(EdgePage::TooManyLogins(retry.0)).error_response()
        }
        Limited::MatrixLogin => HttpResponse::TooManyRequests().json(serde_json::json!({
            "errcode": "M_LIMIT_EXCEEDED",
            "error": "Too many requests from this address",
            "retry_after_ms": retry.0 * 1000,
        })),
        Limited::Token => HttpError::OAuth {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "temporarily_unavailable",
            description: "too many requests from this address".into(),
            retry_after: Some(retry.0),
            challenge: crate::http::error::Challenge::Basic,
        }
        .error_response(),
    };
    if let Ok(value) = header::HeaderValue::from_str(&retry.0.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
