//! The login fallback page (`/_matrix/static/client/login/`) for non-web clients.

use crate::routes;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::error::HttpError;
use super::pages::{FallbackPage, html};
use crate::services::Services;

#[derive(Deserialize)]
pub struct FallbackQuery {
    device_id: Option<String>,
    initial_device_display_name: Option<String>,
    /// Skip the picker: go straight to this department.
    idp: Option<String>,
}

pub async fn fallback(
    services: web::Data<Services>,
    query: web::Query<FallbackQuery>,
) -> Result<HttpResponse, HttpError> {
    let config = &services.config;
    // Where the login comes back to: this page, with the device parameters kept.
    let mut here = config.url(routes::FALLBACK);
    {
        let mut pairs = here.query_pairs_mut();
        if let Some(device_id) = &query.device_id {
            pairs.append_pair("device_id", device_id);
        }
        if let Some(name) = &query.initial_device_display_name {
            pairs.append_pair("initial_device_display_name", name);
        }
    }
    if here.query() == Some("") {
        here.set_query(None);
    }
    let path = match query.idp.as_deref() {
        Some(idp) if config.department(idp).is_some() => routes::sso_redirect_to("v3", idp),
        Some(_) => return Err(HttpError::not_found_page()),
        None => routes::login_start(),
    };
    let mut sso = config.url(&path);
    sso.query_pairs_mut()
        .append_pair("redirectUrl", here.as_str());
    Ok(html(
        StatusCode::OK,
        &FallbackPage {
            t: super::i18n::Lang::current().texts(),
            site: super::site::Site::current(),
            sso_url: sso.to_string(),
            device_id: query.device_id.clone().unwrap_or_default(),
            device_name: query
                .initial_device_display_name
                .clone()
                .unwrap_or_default(),
            wait_seconds: config.lifetimes.flow,
            nonce: super::pages::fresh_nonce(),
        },
    ))
}
