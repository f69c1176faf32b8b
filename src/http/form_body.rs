//! A small `application/x-www-form-urlencoded` body read by hand, for the
//! hottest POST (token introspection): actix's `Form` extractor parses the
//! content type's charset and goes through serde on every request, a quarter
//! of a cached introspection's cost. Errors are OAuth JSON, as `Form`'s are.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use super::error::HttpError;

/// The body's fields. Wrong content type, a body over `limit` bytes, or a
/// field given twice (RFC 6749 §3.2) is refused.
pub async fn read(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    fields: &[&str],
) -> Result<Vec<Option<String>>, HttpError> {
    let form_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(invalid(
            StatusCode::BAD_REQUEST,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let too_large = || invalid(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(256));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| invalid(StatusCode::BAD_REQUEST, &e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let mut values = vec![None; fields.len()];
    for (name, value) in url::form_urlencoded::parse(&body) {
        if let Some(i) = fields.iter().position(|f| *f == name) {
            if values[i].is_some() {
                return Err(invalid(
                    StatusCode::BAD_REQUEST,
                    &format!("`{name}` is given more than once"),
                ));
            }
            values[i] = Some(value.into_owned());
        }
    }
    Ok(values)
}

fn invalid(status: StatusCode, description: &str) -> HttpError {
    HttpError::OAuth {
        status,
        error: "invalid_request",
        description: description.to_owned(),
        retry_after: None,
        challenge: crate::http::error::Challenge::Basic,
    }
}
