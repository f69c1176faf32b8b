//! "Try again" after the department's homeserver did not answer.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::HttpError;
use super::{cookies, respond};
use crate::flow::{self, FlowError};
use crate::services::Services;

#[derive(Deserialize)]
pub struct ResumeQuery {
    flow: String,
    department: Option<String>,
}

pub async fn resume(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<ResumeQuery>,
) -> Result<HttpResponse, HttpError> {
    let browser = cookies::browser_secret(&request)
        .ok_or_else(|| HttpError::from_flow(&services, FlowError::NoBrowserSession))?;
    let next = flow::resume(
        &services.flow(),
        &browser,
        &query.flow,
        query.department.as_deref(),
    )
    .await
    .map_err(|e| HttpError::from_flow(&services, e))?;
    Ok(respond::next(&services, next, Vec::new()))
}
