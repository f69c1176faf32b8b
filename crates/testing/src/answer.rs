//! An HTTP answer as a test reads it, whoever gave it: the in-process router,
//! a scripted homeserver or a scripted IdP over a socket.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Every header, names in lower case, in order (`set-cookie` may repeat).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// Reads a router's response, body included.
    pub async fn read<B: MessageBody>(response: ServiceResponse<B>) -> Self {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| header(name.as_str(), value.to_str().ok()))
            .collect();
        let body = actix_web::test::read_body(response).await;
        Self {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Reads a reqwest response, body included.
    pub async fn read_reqwest(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| header(name.as_str(), value.to_str().ok()))
            .collect();
        let body = response.text().await.unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }

    /// A redirect to `location`, as the scripted peers answer.
    pub fn redirect(location: &str) -> Self {
        Self {
            status: 302,
            headers: vec![("location".into(), location.into())],
            body: String::new(),
        }
    }

    /// A plain-text page with `status`, as the scripted peers answer errors.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.into(),
        }
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Location`, when the answer is a redirect.
    pub fn location(&self) -> Option<&str> {
        (300..400)
            .contains(&self.status)
            .then(|| self.header("location"))
            .flatten()
    }

    /// The cookies the answer sets: (name, value, removed?).
    pub fn set_cookies(&self) -> impl Iterator<Item = (String, String, bool)> + '_ {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| actix_web::cookie::Cookie::parse(v.clone()).ok())
            .map(|c| {
                let removed = c.max_age().is_some_and(|age| age.is_zero()) || c.value().is_empty();
                (c.name().to_owned(), c.value().to_owned(), removed)
            })
    }

    /// The text of the first `<h1>`, for messages and assertions on error pages.
    pub fn title(&self) -> String {
        let selector = scraper::Selector::parse("h1").expect("selector");
        scraper::Html::parse_document(&self.body)
            .select(&selector)
            .next()
            .map(|h| h.text().collect::<String>().trim().to_owned())
            .unwrap_or_default()
    }

    /// Every link's `href` on the page (buttons such as "Start again" are links).
    pub fn links(&self) -> Vec<String> {
        let selector = scraper::Selector::parse("a[href]").expect("selector");
        scraper::Html::parse_document(&self.body)
            .select(&selector)
            .filter_map(|a| a.value().attr("href").map(str::to_owned))
            .collect()
    }

    /// The page's text with its markup gone and its entities decoded (what a
    /// person reads), for assertions on the words of a page.
    pub fn text_content(&self) -> String {
        let document = scraper::Html::parse_document(&self.body);
        let words: Vec<&str> = document
            .root_element()
            .text()
            .flat_map(str::split_whitespace)
            .collect();
        words.join(" ")
    }
}

/// One header as an answer keeps it (actix and reqwest have header types of
/// their own): the name in lower case, a value that is not text as empty.
fn header(name: &str, value: Option<&str>) -> (String, String) {
    (
        name.to_ascii_lowercase(),
        value.unwrap_or_default().to_owned(),
    )
}
