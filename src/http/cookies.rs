//! The bridge's cookies: the browser secret (binds flows to this browser) and the
//! last department chosen (not secret, offered first next time).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

use crate::flow::BrowserSecret;
use crate::services::Services;

pub const BROWSER: &str = "sso_bridge_browser";
pub const LAST_DEPARTMENT: &str = "sso_bridge_last_department";

pub fn browser_secret(request: &HttpRequest) -> Option<BrowserSecret> {
    request
        .cookie(BROWSER)
        .and_then(|c| BrowserSecret::from_cookie(c.value()))
}

/// The existing secret, or a new one; the cookie is (re)set either way so it lives
/// as long as the newest flow.
pub fn browser_secret_or_new(
    services: &Services,
    request: &HttpRequest,
) -> (BrowserSecret, Cookie<'static>) {
    let secret =
        browser_secret(request).unwrap_or_else(|| BrowserSecret::generate(&services.random));
    let cookie = browser_cookie(services, &secret);
    (secret, cookie)
}

/// The browser cookie: HttpOnly, Secure over HTTPS, short-lived. Over HTTPS it is
/// `SameSite=None`, because the SAML HTTP-POST binding brings the user back with a
/// cross-site POST (a Lax cookie would not be sent); flows stay bound to the
/// browser by the secret itself, and every state-changing step checks it. Over
/// plain HTTP (loopback tests, the demo) browsers refuse `None` without `Secure`,
/// so it is Lax there, where the IdPs are on the same site anyway.
pub fn browser_cookie(services: &Services, secret: &BrowserSecret) -> Cookie<'static> {
    let secure = services.config.secure_cookies();
    Cookie::build(BROWSER, secret.cookie_value().to_owned())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(Duration::seconds(services.config.lifetimes.flow))
        .finish()
}

pub fn last_department(request: &HttpRequest) -> Option<String> {
    request
        .cookie(LAST_DEPARTMENT)
        .map(|c| c.value().to_owned())
}

pub fn last_department_cookie(services: &Services, department: &str) -> Cookie<'static> {
    Cookie::build(LAST_DEPARTMENT, department.to_owned())
        .path("/")
        .http_only(true)
        .secure(services.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(Duration::days(365))
        .finish()
}
