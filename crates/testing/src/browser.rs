//! A cookie-keeping HTTP client that follows redirects one hop at a time, so a
//! test can see (and stop at) every step of the login, and fill in the forms a
//! person would: the department picker and the IdP's login form.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::cookie::Jar;
use scraper::{Html, Selector};
use url::Url;

use crate::world::PASSWORD;

pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
}

#[derive(Debug)]
pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub location: Option<Url>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn is_redirect(&self) -> bool {
        self.status.is_redirection() && self.location.is_some()
    }

    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    pub fn title(&self) -> String {
        let selector = Selector::parse("h1").expect("selector");
        self.html()
            .select(&selector)
            .next()
            .map(|h| h.text().collect::<String>().trim().to_owned())
            .unwrap_or_default()
    }
}

/// How a driven login ended.
#[derive(Debug)]
pub enum Outcome {
    /// The browser was sent to a URL that starts with the stop prefix.
    Reached(Url),
    /// A page that is neither a redirect nor a form the driver knows how to fill.
    Stuck(Box<Page>),
}

impl Outcome {
    pub fn reached(self) -> Url {
        match self {
            Self::Reached(url) => url,
            Self::Stuck(page) => panic!(
                "login did not reach its target; stuck at {} ({}): {}\n{}",
                page.url,
                page.status,
                page.title(),
                &page.body.chars().take(3000).collect::<String>()
            ),
        }
    }

    pub fn stuck(self) -> Page {
        match self {
            Self::Stuck(page) => *page,
            Self::Reached(url) => {
                panic!("expected the login to stop on a page, but it reached {url}")
            }
        }
    }
}

/// What to answer on the forms met along the way.
#[derive(Clone, Debug)]
pub struct Person {
    pub username: &'static str,
    /// Department to pick if the picker is shown.
    pub department: &'static str,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self { client, jar }
    }

    pub async fn get(&self, url: &str) -> Page {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        into_page(response).await
    }

    pub async fn post_form(&self, url: &str, fields: &[(String, String)]) -> Page {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let response = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        into_page(response).await
    }

    /// Follows redirects and fills the picker and the IdP login form until the
    /// browser is sent somewhere under `stop`, or lands on another page.
    pub async fn drive(&self, start: &str, person: &Person, stop: &str) -> Outcome {
        let trace = std::env::var_os("E2E_TRACE").is_some();
        let mut page = self.get(start).await;
        for _ in 0..40 {
            if trace {
                eprintln!(
                    "e2e trace: {} {} -> {:?}",
                    page.status,
                    page.url,
                    page.location.as_ref().map(Url::as_str)
                );
            }
            if let Some(next) = page.location.clone().filter(|_| page.is_redirect()) {
                if next.as_str().starts_with(stop) {
                    return Outcome::Reached(next);
                }
                page = self.get(next.as_str()).await;
                continue;
            }
            // The picker: the login start's answer, or its own route.
            if page.status == StatusCode::OK
                && let Some(flow) = hidden(&page, "flow")
            {
                let action = page.url.join("/_sso_bridge/pick").expect("url");
                page = self
                    .post_form(
                        action.as_str(),
                        &[
                            ("flow".into(), flow),
                            ("department".into(), person.department.into()),
                        ],
                    )
                    .await;
                continue;
            }
            if page.status == StatusCode::OK
                && let Some((action, fields)) = saml_post_form(&page)
            {
                if action.as_str().starts_with(stop) {
                    return Outcome::Reached(action);
                }
                page = self.post_form(action.as_str(), &fields).await;
                continue;
            }
            if page.status == StatusCode::OK && has_login_form(&page) {
                page = self.submit_login(&page, person.username).await;
                continue;
            }
            return Outcome::Stuck(Box::new(page));
        }
        panic!("too many steps while driving the login from {start}");
    }

    async fn submit_login(&self, page: &Page, username: &str) -> Page {
        let html = page.html();
        let form_selector = Selector::parse("form").expect("selector");
        let input_selector = Selector::parse("input").expect("selector");
        let form = html
            .select(&form_selector)
            .find(|f| {
                f.select(&input_selector)
                    .any(|i| i.value().attr("name") == Some("password"))
            })
            .expect("login form");
        let action = page
            .url
            .join(form.value().attr("action").unwrap_or(""))
            .expect("form action");
        let mut fields = Vec::new();
        for input in form.select(&input_selector) {
            let Some(name) = input.value().attr("name") else {
                continue;
            };
            let value = match name {
                "username" | "login" => username.to_owned(),
                "password" => PASSWORD.to_owned(),
                _ => input.value().attr("value").unwrap_or_default().to_owned(),
            };
            fields.push((name.to_owned(), value));
        }
        self.post_form(action.as_str(), &fields).await
    }
}

/// An auto-submitting HTTP-POST binding form (a SAMLResponse or a
/// SAMLRequest), as a browser would submit it.
fn saml_post_form(page: &Page) -> Option<(Url, Vec<(String, String)>)> {
    let html = page.html();
    let form_selector = Selector::parse("form").expect("selector");
    let input_selector = Selector::parse("input[name]").expect("selector");
    let form = html.select(&form_selector).find(|f| {
        f.select(&input_selector)
            .any(|i| matches!(i.value().attr("name"), Some("SAMLResponse" | "SAMLRequest")))
    })?;
    let action = page.url.join(form.value().attr("action")?).ok()?;
    let fields = form
        .select(&input_selector)
        .filter_map(|i| {
            Some((
                i.value().attr("name")?.to_owned(),
                i.value().attr("value").unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    Some((action, fields))
}

fn has_login_form(page: &Page) -> bool {
    let selector = Selector::parse("input[name=password]").expect("selector");
    page.html().select(&selector).next().is_some()
}

pub fn hidden(page: &Page, name: &str) -> Option<String> {
    let selector = Selector::parse(&format!("input[name={name}]")).ok()?;
    page.html()
        .select(&selector)
        .next()
        .and_then(|i| i.value().attr("value").map(str::to_owned))
}

async fn into_page(response: reqwest::Response) -> Page {
    let url = response.url().clone();
    let status = response.status();
    let headers = response.headers().clone();
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| url.join(l).ok());
    let body = response.text().await.unwrap_or_default();
    Page {
        url,
        status,
        location,
        headers,
        body,
    }
}

/// Query parameters of a URL, all values of each name.
pub fn query_values(url: &Url, name: &str) -> Vec<String> {
    url.query_pairs()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}
