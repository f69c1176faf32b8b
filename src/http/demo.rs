//! A tiny MSC1731-aware client page, served only when `demo = true`.

use crate::routes;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::error::HttpError;
use super::pages::{DemoPage, html};
use crate::services::Services;

#[derive(serde::Deserialize)]
pub struct DemoQuery {
    /// `msc1730`: behave like a client that ignores `homeserver`.
    mode: Option<String>,
}

pub async fn demo(
    services: web::Data<Services>,
    query: web::Query<DemoQuery>,
) -> Result<HttpResponse, HttpError> {
    if !services.config.demo {
        return Err(HttpError::not_found_page());
    }
    let config = &services.config;
    let mut here = config.url(routes::DEMO);
    if query.mode.as_deref() == Some("msc1730") {
        here.query_pairs_mut().append_pair("mode", "msc1730");
    }
    let login = |path: &str| {
        let mut url = config.url(path);
        url.query_pairs_mut()
            .append_pair("redirectUrl", here.as_str());
        url.to_string()
    };
    Ok(html(
        StatusCode::OK,
        &DemoPage {
            t: super::i18n::Lang::current().texts(),
            site: super::site::Site::current(),
            login_url: login(&routes::login_start()),
            departments: config
                .departments
                .iter()
                .map(|d| (d.name.clone(), login(&routes::sso_redirect_to("v3", &d.id))))
                .collect(),
            nonce: super::pages::fresh_nonce(),
        },
    ))
}
