//! The bridge's cookies: the browser secret (binds flows to this browser) and the
//! last department chosen (not secret, offered first next time).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::header;

use crate::flow::BrowserSecret;
use crate::services::Services;

pub const BROWSER: &str = "sso_bridge_browser";
pub const LAST_DEPARTMENT: &str = "sso_bridge_last_department";

pub fn browser_secret(request: &HttpRequest) -> Option<BrowserSecret> {
    value(request, BROWSER).and_then(BrowserSecret::from_cookie)
}

/// The value of the request's first cookie called `name`. Read straight from
/// the `Cookie` headers: actix-web's `cookie()` parses every cookie into a list
/// first, on routes that want one of ours.
fn value<'r>(request: &'r HttpRequest, name: &str) -> Option<&'r str> {
    request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name).then_some(value.trim())
        })
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

pub fn last_department(request: &HttpRequest) -> Option<&str> {
    value(request, LAST_DEPARTMENT)
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

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn a_cookie_is_found_by_its_whole_name_in_any_cookie_header() {
        let request = TestRequest::default()
            .insert_header((header::COOKIE, "xsso_bridge_browser=wrong; a=1"))
            .append_header((header::COOKIE, "b=2;  sso_bridge_browser = right ;c=3"))
            .to_http_request();
        assert_eq!(value(&request, BROWSER), Some("right"));
        assert_eq!(value(&request, "a"), Some("1"));
        assert_eq!(value(&request, "c"), Some("3"));
        assert_eq!(value(&request, LAST_DEPARTMENT), None);
        assert_eq!(
            value(&TestRequest::default().to_http_request(), BROWSER),
            None
        );
    }
}
