//! Where upstream IdPs send the user back.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::HttpError;
use super::error_pages::EdgePage;
use super::{cookies, respond};
use crate::flow::{self, CallbackParams};
use crate::services::Services;

#[derive(Deserialize)]
pub struct OidcCallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

pub async fn oidc_callback(
    services: web::Data<Services>,
    request: HttpRequest,
    upstream_id: web::Path<String>,
    query: web::Query<OidcCallbackQuery>,
) -> Result<HttpResponse, HttpError> {
    if services.upstreams.oidc(&upstream_id).is_none() {
        return Err(HttpError::not_found_page());
    }
    let browser = cookies::browser_secret(&request);
    let next = flow::oidc_callback(
        &services.flow(),
        browser.as_ref(),
        &upstream_id,
        CallbackParams {
            code: query.code.as_deref(),
            state: query.state.as_deref(),
            error: query.error.as_deref(),
            error_description: query.error_description.as_deref(),
            iss: query.iss.as_deref(),
        },
    )
    .await
    .map_err(|e| HttpError::from_flow(&services, e))?;
    Ok(respond::next(&services, next, Vec::new()))
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The SAML assertion consumer service (HTTP-POST binding).
pub async fn saml_acs(
    services: web::Data<Services>,
    request: HttpRequest,
    upstream_id: web::Path<String>,
    form: web::Form<AcsForm>,
) -> Result<HttpResponse, HttpError> {
    if services.upstreams.saml(&upstream_id).is_none() {
        return Err(HttpError::not_found_page());
    }
    let browser = cookies::browser_secret(&request);
    let (next, fresh) = flow::saml_acs(
        &services.flow(),
        browser.as_ref(),
        &upstream_id,
        &form.saml_response,
        form.relay_state.as_deref(),
    )
    .await
    .map_err(|e| HttpError::from_flow(&services, e))?;
    let cookies = fresh
        .map(|secret| vec![cookies::browser_cookie(&services, &secret)])
        .unwrap_or_default();
    Ok(respond::next(&services, next, cookies))
}

/// Our SP metadata, for the IdP's administrator.
pub async fn saml_metadata(
    services: web::Data<Services>,
    upstream_id: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let idp = services
        .upstreams
        .saml(&upstream_id)
        .ok_or_else(HttpError::not_found_page)?;
    let xml = idp.sp_metadata().await.map_err(|e| {
        tracing::error!(error = %e, "cannot render SP metadata");
        HttpError::from(EdgePage::SpMetadataUnavailable)
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/samlmetadata+xml"))
        .body(xml))
}

#[derive(Deserialize)]
pub struct BackchannelLogoutForm {
    logout_token: Option<String>,
}

/// OpenID Connect Back-Channel Logout from an upstream IdP: 200 when the token
/// is good (whether or not a session matched), 400 with an OAuth error otherwise.
pub async fn oidc_backchannel_logout(
    services: web::Data<Services>,
    upstream_id: web::Path<String>,
    form: web::Form<BackchannelLogoutForm>,
) -> HttpResponse {
    if services.upstreams.oidc(&upstream_id).is_none() {
        return logout_refused("no such upstream");
    }
    let Some(token) = form.logout_token.as_deref() else {
        return logout_refused("logout_token is missing");
    };
    let services = services.into_inner();
    match crate::logout::upstream::oidc_backchannel_logout(&services.logout(), &upstream_id, token)
        .await
    {
        Ok(_) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(crate::upstream::oidc::LogoutTokenError::Unavailable(_)) => {
            HttpResponse::ServiceUnavailable()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::RETRY_AFTER, "5"))
                .json(serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": "the logout could not be processed now; send it again",
                }))
        }
        Err(e) => logout_refused(e.reason()),
    }
}

/// The spec's refusal: 400 with `invalid_request` and why (a stable label only,
/// never the token's content).
fn logout_refused(why: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": why,
        }))
}

/// IdP-initiated SAML single logout, HTTP-Redirect binding: the raw query
/// string is what the signature covers.
pub async fn saml_slo_redirect(
    services: web::Data<Services>,
    request: HttpRequest,
    upstream_id: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let binding = crate::upstream::saml::LogoutBinding::Redirect(request.query_string().to_owned());
    saml_slo(services, &upstream_id, binding).await
}

#[derive(Deserialize)]
pub struct SloForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// IdP-initiated SAML single logout, HTTP-POST binding.
pub async fn saml_slo_post(
    services: web::Data<Services>,
    upstream_id: web::Path<String>,
    form: web::Form<SloForm>,
) -> Result<HttpResponse, HttpError> {
    let SloForm {
        saml_request,
        relay_state,
    } = form.into_inner();
    let binding = crate::upstream::saml::LogoutBinding::Post {
        saml_request,
        relay_state,
    };
    saml_slo(services, &upstream_id, binding).await
}

async fn saml_slo(
    services: web::Data<Services>,
    upstream_id: &str,
    binding: crate::upstream::saml::LogoutBinding,
) -> Result<HttpResponse, HttpError> {
    if services.upstreams.saml(upstream_id).is_none() {
        return Err(HttpError::not_found_page());
    }
    let services = services.into_inner();
    match crate::logout::upstream::saml_logout(&services.logout(), upstream_id, binding).await {
        Ok(Some(idp)) => Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, idp.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()),
        Ok(None) => Err(EdgePage::SignedOut.into()),
        Err(_) => Err(EdgePage::SignOutRefused.into()),
    }
}
