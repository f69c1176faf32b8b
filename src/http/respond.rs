//! Turning the flow's `Next` into a response.

use actix_web::HttpResponse;
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header;

use super::pages::{ConfirmPage, html};
use crate::flow::Next;
use crate::services::Services;

pub fn next(services: &Services, next: Next, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut response = match next {
        Next::Picker { flow } => {
            let mut url = services.config.url(crate::routes::PICK);
            url.query_pairs_mut().append_pair("flow", &flow);
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url.as_str()))
                .finish()
        }
        Next::Redirect(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url.as_str()))
            .finish(),
        Next::Confirm { url, host } => html(
            StatusCode::OK,
            &ConfirmPage {
                t: super::i18n::Lang::current().texts(),
                site: super::site::Site::current(),
                host,
                url: url.into(),
            },
        ),
    };
    for cookie in cookies {
        // Only fails for malformed cookies, and ours are built above.
        let _ = response.add_cookie(&cookie);
    }
    response
}
