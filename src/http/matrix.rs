//! The Matrix front door: versions, well-known, login flows, SSO redirect.

use actix_web::ResponseError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::HttpError;
use super::error_pages::EdgePage;
use super::{cookies, picker, respond};
use crate::flow::{self, StartRequest};
use crate::services::Services;

/// What every department shares, and the bridge's own flags (`homeserver_versions`).
pub async fn versions(services: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok().json(&*services.department_versions.central())
}

pub async fn well_known(services: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "m.homeserver": { "base_url": crate::homeserver::client_base_url(&services.config.public_base_url) },
    }))
}

/// `GET /login`: one SSO identity provider per department (MSC2858), and token login.
pub async fn login_flows(services: web::Data<Services>) -> HttpResponse {
    let providers: Vec<serde_json::Value> = services
        .config
        .departments
        .iter()
        .map(|d| {
            let mut idp = serde_json::json!({ "id": d.id, "name": d.name });
            if let Some(icon) = &d.icon {
                idp["icon"] = icon.clone().into();
            }
            idp
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "flows": [
            { "type": "m.login.sso", "identity_providers": providers },
            { "type": "m.login.token" },
        ]
    }))
}

#[derive(Deserialize)]
pub struct RedirectQuery {
    #[serde(rename = "redirectUrl")]
    redirect_url: Option<String>,
    login_hint: Option<String>,
}

pub async fn sso_redirect(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<RedirectQuery>,
    idp: Option<String>,
) -> Result<HttpResponse, HttpError> {
    if let Some(id) = &idp
        && services.config.department(id).is_none()
    {
        return Err(EdgePage::UnknownDepartmentInLink(id.clone()).into());
    }
    let (browser, cookie) = cookies::browser_secret_or_new(&services, &request);
    let next = flow::start(
        &services.flow(),
        &browser,
        StartRequest {
            redirect_url: query.redirect_url.as_deref(),
            department: idp.as_deref(),
            login_hint: query.login_hint.as_deref(),
        },
    )
    .await;
    match next {
        // The picker is this response: a login start is one request.
        Ok(flow::Next::Picker { flow }) => {
            let mut response = picker::page(&services, &request, &flow, "")
                .await
                .unwrap_or_else(|e| e.error_response());
            let _ = response.add_cookie(&cookie);
            Ok(response)
        }
        Ok(next) => Ok(respond::next(&services, next, vec![cookie])),
        // The cookie goes with the error page too: a kept flow ("Try again")
        // belongs to this browser.
        Err(e) => {
            let mut response = HttpError::from_flow(&services, e).error_response();
            let _ = response.add_cookie(&cookie);
            Ok(response)
        }
    }
}

pub async fn sso_redirect_with_idp(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<RedirectQuery>,
    idp: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    sso_redirect(services, request, query, Some(idp.into_inner())).await
}

pub async fn sso_redirect_picker(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<RedirectQuery>,
) -> Result<HttpResponse, HttpError> {
    sso_redirect(services, request, query, None).await
}

/// The client-server API version in the request's path (`r0` or `v3`; routes
/// exist for these two only).
pub fn client_api_version(request: &HttpRequest) -> &'static str {
    if request.path().starts_with(crate::routes::CLIENT_R0_PREFIX) {
        "r0"
    } else {
        "v3"
    }
}

/// Anything else under `/_matrix`: the Matrix way of saying "not here".
pub async fn unrecognized() -> Result<HttpResponse, HttpError> {
    Err(HttpError::matrix(
        StatusCode::NOT_FOUND,
        "M_UNRECOGNIZED",
        "Unrecognized request",
    ))
}
