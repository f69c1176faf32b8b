//! Typed askama pages and their rendering; every page is checked at compile time.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use askama::Template;

use std::sync::Arc;

use super::i18n::{Lang, Texts};
use super::site::Site;

/// A value made only of URL-safe base64 characters (`A–Z a–z 0–9 - _`), such
/// as a sealed login: nothing in it needs escaping in HTML text, an attribute
/// or a URL, so the picker writes it as it is (it appears in every form).
#[derive(Debug, Clone, Copy)]
pub struct UrlSafe<'a>(&'a str);

impl<'a> UrlSafe<'a> {
    pub fn new(value: &'a str) -> Option<Self> {
        value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            .then_some(Self(value))
    }
}

impl std::fmt::Display for UrlSafe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl askama::filters::HtmlSafe for UrlSafe<'_> {}

/// A department as the picker shows it, borrowed from the configuration (the
/// list is on every login start; a university may have dozens).
#[derive(Debug, Clone, Copy)]
pub struct DepartmentView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub logo_url: Option<&'a str>,
    pub domains: &'a [String],
}

#[derive(Template)]
#[template(path = "picker.html")]
pub struct PickerPage<'a> {
    pub t: &'static Texts,
    /// The university in the header.
    pub site: Arc<Site>,
    /// The sealed login (`flow::pending`), carried by every link and form.
    pub flow: UrlSafe<'a>,
    pub query: &'a str,
    pub last: Option<DepartmentView<'a>>,
    pub departments: Vec<DepartmentView<'a>>,
    pub total: usize,
    /// The first configured e-mail domain, for the e-mail field's example.
    pub email_domain: Option<&'a str>,
    /// The CSP nonce of the page's `<script>` tags.
    pub nonce: String,
    /// Where its forms may lead, as a CSP source list (see `picker::form_targets`).
    pub form_targets: Arc<str>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub t: &'static Texts,
    /// The university in the header.
    pub site: Arc<Site>,
    pub title: &'a str,
    pub message: &'a str,
    pub retry: bool,
    /// The request id, which is on the operator's log lines of this failure.
    pub reference: Option<String>,
    /// A "Try again" (or "Start again") button's address, and its words.
    pub try_again: Option<&'a str>,
    pub try_again_label: &'a str,
}

#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub t: &'static Texts,
    /// The university in the header.
    pub site: Arc<Site>,
    pub host: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "demo.html")]
pub struct DemoPage {
    pub t: &'static Texts,
    /// The university in the header.
    pub site: Arc<Site>,
    pub login_url: String,
    /// (department name, direct login URL)
    pub departments: Vec<(String, String)>,
    /// The CSP nonce of the page's `<script>` tags.
    pub nonce: String,
}

#[derive(Template)]
#[template(path = "fallback.html")]
pub struct FallbackPage {
    pub t: &'static Texts,
    /// The university in the header.
    pub site: Arc<Site>,
    pub sso_url: String,
    pub device_id: String,
    pub device_name: String,
    /// How long the page waits for the app's callback before it gives up
    /// (without redeeming the token): the flow's lifetime.
    pub wait_seconds: i64,
    /// The CSP nonce of the page's `<script>` tags.
    pub nonce: String,
}

/// A page's CSP script nonce, left in the response for the security-headers
/// middleware to put in `Content-Security-Policy`.
#[derive(Clone)]
pub struct ScriptNonce(pub String);

/// Where a page's forms may lead (CSP `form-action` sources), left in the
/// response like the nonce.
#[derive(Clone)]
pub struct FormTargets(pub Arc<str>);

/// A page. One that loads scripts gives their nonce (each `<script>` tag has
/// `nonce="{{ nonce }}"`), and only scripts with it may run; a page that gives
/// none may run no script at all. Likewise a page with forms gives where they
/// may lead, and a page without may submit none.
pub trait Page: Template {
    fn script_nonce(&self) -> Option<&str> {
        None
    }

    fn form_targets(&self) -> Option<&Arc<str>> {
        None
    }
}

impl Page for PickerPage<'_> {
    fn script_nonce(&self) -> Option<&str> {
        Some(&self.nonce)
    }

    fn form_targets(&self) -> Option<&Arc<str>> {
        Some(&self.form_targets)
    }
}

impl Page for DemoPage {
    fn script_nonce(&self) -> Option<&str> {
        Some(&self.nonce)
    }
}

impl Page for FallbackPage {
    fn script_nonce(&self) -> Option<&str> {
        Some(&self.nonce)
    }
}

impl Page for ErrorPage<'_> {}
impl Page for ConfirmPage {}

/// A fresh nonce per page (128 bits from the thread's CSPRNG; nothing to keep).
pub fn fresh_nonce() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Renders a page; a template failure is a bug, answered with a plain 500. The
/// page's script nonce is left for the security headers' CSP.
pub fn html(status: StatusCode, page: &impl Page) -> HttpResponse {
    match page.render() {
        Ok(body) => {
            let mut response = HttpResponse::build(status)
                .content_type(ContentType::html())
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .body(body);
            if let Some(nonce) = page.script_nonce() {
                response
                    .extensions_mut()
                    .insert(ScriptNonce(nonce.to_owned()));
            }
            if let Some(targets) = page.form_targets() {
                response
                    .extensions_mut()
                    .insert(FormTargets(Arc::clone(targets)));
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("internal error")
        }
    }
}

/// An error page; `way_on` is a button's address and whether it starts a new
/// login ("Start again") rather than resuming this one ("Try again").
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    retry: bool,
    way_on: Option<(&str, bool)>,
) -> HttpResponse {
    let t = Lang::current().texts();
    html(
        status,
        &ErrorPage {
            t,
            site: Site::current(),
            title,
            message,
            retry,
            reference: crate::request_context::request_id(),
            try_again: way_on.map(|(url, _)| url),
            try_again_label: match way_on {
                Some((_, true)) => t.start_again,
                _ => t.try_again,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept<'a>(id: &'a str, name: &'a str) -> DepartmentView<'a> {
        DepartmentView {
            id,
            name,
            logo_url: None,
            domains: &[],
        }
    }

    #[test]
    fn only_url_safe_base64_passes_unescaped() {
        assert!(UrlSafe::new("AZaz09-_").is_some());
        for bad in ["f\"1", "a<b", "a&b", "a'b", "a b", "a+b/c=", "é"] {
            assert!(UrlSafe::new(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_picker_lists_each_departments_domains_for_the_instant_search() {
        let domains = vec!["eng.example".to_owned(), "cs.example".to_owned()];
        let picker = PickerPage {
            t: Lang::En.texts(),
            site: Site::current(),
            flow: UrlSafe::new("f").unwrap(),
            query: "",
            last: None,
            departments: vec![DepartmentView {
                domains: &domains,
                ..dept("eng", "Engineering")
            }],
            total: 1,
            email_domain: Some("eng.example"),
            nonce: "n".into(),
            form_targets: "'self'".into(),
        }
        .render()
        .unwrap();
        assert!(
            picker.contains(r#"data-search="engineering eng eng.example cs.example""#),
            "{picker}"
        );
        assert!(
            picker.contains(r#"placeholder="name@eng.example""#),
            "the e-mail example uses a configured domain: {picker}"
        );
    }

    #[test]
    fn every_page_renders_and_escapes() {
        let picker = PickerPage {
            t: Lang::En.texts(),
            site: Site::current(),
            flow: UrlSafe::new("f-1_A").unwrap(),
            query: "<script>",
            last: Some(dept("eng", "<b>eng</b>")),
            departments: vec![dept("eng", "<b>eng</b>"), dept("hist", "<b>hist</b>")],
            total: 2,
            email_domain: None,
            nonce: "n0nce".into(),
            form_targets: "'self'".into(),
        }
        .render()
        .unwrap();
        assert!(!picker.contains("<script>"), "{picker}");
        assert!(
            picker.contains(r#"<script nonce="n0nce" src="/_sso_bridge/static/picker.js""#),
            "scripts carry the page's nonce: {picker}"
        );
        assert!(
            picker.contains(r#"<form method="post" action="/_sso_bridge/pick">"#),
            "the routes' paths are written as they are: {picker}"
        );
        assert!(!picker.contains("<b>eng</b>"));
        assert!(
            picker.contains("eng&#60;/b&#62;") || picker.contains("eng&lt;/b&gt;"),
            "{picker}"
        );
        let error = ErrorPage {
            t: Lang::Fr.texts(),
            site: Site::current(),
            title: "<t>",
            message: "<m>",
            retry: true,
            reference: Some("<r>".into()),
            try_again: Some("/x?a=\"<b>"),
            try_again_label: "Start again",
        }
        .render()
        .unwrap();
        assert!(!error.contains("<t>") && !error.contains("<m>") && !error.contains("<r>"));
        assert!(!error.contains("\"<b>"), "{error}");
        let confirm = ConfirmPage {
            t: Lang::Fr.texts(),
            site: Site::current(),
            host: "evil\"x".into(),
            url: "https://e/?a=1&b=\"".into(),
        }
        .render()
        .unwrap();
        assert!(!confirm.contains("evil\"x"));
        FallbackPage {
            t: Lang::En.texts(),
            site: Site::current(),
            sso_url: "/s?a=\"".into(),
            device_id: "<d>".into(),
            device_name: "n".into(),
            wait_seconds: 1800,
            nonce: "n".into(),
        }
        .render()
        .unwrap();
        DemoPage {
            t: Lang::En.texts(),
            site: Site::current(),
            login_url: "/x".into(),
            departments: vec![("Eng".into(), "/y".into())],
            nonce: "n".into(),
        }
        .render()
        .unwrap();
    }
}
