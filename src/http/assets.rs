//! The few static files, compiled into the binary.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::HttpError;

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../templates/static/style.css"),
    ),
    (
        "picker.js",
        "text/javascript; charset=utf-8",
        include_str!("../../templates/static/picker.js"),
    ),
    (
        "fallback.js",
        "text/javascript; charset=utf-8",
        include_str!("../../templates/static/fallback.js"),
    ),
    (
        "demo.js",
        "text/javascript; charset=utf-8",
        include_str!("../../templates/static/demo.js"),
    ),
    // The demo's university and department logos (`scripts/demo.sh` sets them
    // as `pages.university_logo_url` and `logo_url`).
    (
        "demo/university.svg",
        "image/svg+xml",
        include_str!("../../templates/static/demo/university.svg"),
    ),
    (
        "demo/eng.svg",
        "image/svg+xml",
        include_str!("../../templates/static/demo/eng.svg"),
    ),
    (
        "demo/hist.svg",
        "image/svg+xml",
        include_str!("../../templates/static/demo/hist.svg"),
    ),
    (
        "demo/phys.svg",
        "image/svg+xml",
        include_str!("../../templates/static/demo/phys.svg"),
    ),
];

pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, HttpError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .ok_or_else(HttpError::not_found_page)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, *content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(*body))
}
