//! The department's homeserver comes back here with its `loginToken`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::HttpError;
use super::{cookies, respond};
use crate::flow;
use crate::services::Services;

#[derive(Deserialize)]
pub struct CompleteQuery {
    flow: String,
    #[serde(rename = "loginToken")]
    login_token: Option<String>,
}

pub async fn complete(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<CompleteQuery>,
) -> Result<HttpResponse, HttpError> {
    let browser = cookies::browser_secret(&request);
    let next = flow::complete(
        &services.flow(),
        browser.as_ref(),
        &query.flow,
        query.login_token.as_deref(),
    )
    .await
    .map_err(|e| HttpError::from_flow(&services, e))?;
    Ok(respond::next(&services, next, Vec::new()))
}

#[derive(Deserialize)]
pub struct ConfirmQuery {
    flow: String,
}

/// The confirmation page, at an address without the token (see `flow::confirm`).
pub async fn confirm(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<ConfirmQuery>,
) -> Result<HttpResponse, HttpError> {
    let browser = cookies::browser_secret(&request);
    let next = flow::confirm(&services.flow(), browser.as_ref(), &query.flow)
        .await
        .map_err(|e| HttpError::from_flow(&services, e))?;
    Ok(respond::next(&services, next, Vec::new()))
}
