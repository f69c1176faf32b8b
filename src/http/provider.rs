//! The OpenID Provider's HTTP endpoints, for the departments' homeservers.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::HttpError;
use super::{cookies, respond};
use crate::flow;
use crate::provider::authorize::AuthorizeQuery;
use crate::provider::token::TokenForm;
use crate::provider::{discovery, token, userinfo};
use crate::services::Services;

pub async fn discovery(services: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok().json(discovery::document(
        &services.config,
        services.keys.algorithm(),
    ))
}

pub async fn jwks(services: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok().json(services.signing_keys().await.jwks(services.now()))
}

pub async fn authorize(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, HttpError> {
    let (browser, cookie) = cookies::browser_secret_or_new(&services, &request);
    let next = flow::authorize(&services.flow(), &browser, query.into_inner())
        .await
        .map_err(|e| HttpError::from_flow(&services, e))?;
    Ok(respond::next(&services, next, vec![cookie]))
}

fn authorization(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

pub async fn token(
    services: web::Data<Services>,
    request: HttpRequest,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, HttpError> {
    let response = token::exchange(
        &services.provider(),
        authorization(&request),
        form.into_inner(),
    )
    .await
    .map_err(HttpError::from_provider)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

pub async fn userinfo(
    services: web::Data<Services>,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let claims = userinfo::userinfo(&services.provider(), authorization(&request))
        .await
        .map_err(HttpError::from_provider)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(claims))
}
