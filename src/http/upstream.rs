//! Where upstream IdPs send the user back.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::HttpError;
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
        &services,
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
