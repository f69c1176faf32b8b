//! A browser at an in-process bridge: it keeps the bridge's cookies, takes
//! one redirect at a time, and sends each request where its URL points: the
//! bridge's router, a scripted homeserver (in this process too), or the
//! scripted IdP (over its socket). `drive` fills the picker as a person would.

use std::cell::RefCell;
use std::collections::BTreeMap;

use actix_web::test;
use url::Url;

use crate::answer::Answer;
use crate::inprocess::sealed_flow;
use crate::router::Router;
use crate::scripted_homeserver::ScriptedHomeserver;
use crate::test_state::{BRIDGE, TestState};

/// An answer and the URL it came from.
#[derive(Debug)]
pub struct Page {
    pub url: Url,
    pub answer: Answer,
}

impl Page {
    /// Where a redirect leads, made absolute.
    pub fn location(&self) -> Option<Url> {
        self.answer
            .location()
            .and_then(|location| self.url.join(location).ok())
    }
}

/// How a driven login ended.
#[derive(Debug)]
pub enum Driven {
    /// The browser was sent to a URL the stop condition matched (not requested).
    Reached(Url),
    /// A page that is neither a redirect nor the picker.
    Stopped(Page),
}

impl Driven {
    pub fn reached(self) -> Url {
        match self {
            Self::Reached(url) => url,
            Self::Stopped(page) => panic!(
                "the login stopped at {} ({}): {}\n{}",
                page.url,
                page.answer.status,
                page.answer.title(),
                page.answer.body.chars().take(2000).collect::<String>()
            ),
        }
    }

    pub fn stopped(self) -> Page {
        match self {
            Self::Stopped(page) => page,
            Self::Reached(url) => panic!("expected the login to stop on a page; it reached {url}"),
        }
    }
}

pub struct TestBrowser {
    router: Router,
    homeservers: Vec<ScriptedHomeserver>,
    http: reqwest::Client,
    /// The bridge's cookies (one site: the tests' bridge).
    cookies: RefCell<BTreeMap<String, String>>,
}

impl TestBrowser {
    pub fn new(state: &TestState) -> Self {
        Self {
            router: state.router.clone(),
            homeservers: vec![state.eng.clone(), state.hist.clone()],
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            cookies: RefCell::new(BTreeMap::new()),
        }
    }

    /// The same browser (its cookies) at another instance, e.g. a restarted one.
    pub fn at(&self, state: &TestState) -> Self {
        let moved = Self::new(state);
        *moved.cookies.borrow_mut() = self.cookies.borrow().clone();
        moved
    }

    /// Another browser with a copy of this one's cookies but `name` set to `value`.
    pub fn with_cookie(&self, name: &str, value: &str) -> Self {
        let other = Self {
            router: self.router.clone(),
            homeservers: self.homeservers.clone(),
            http: self.http.clone(),
            cookies: RefCell::new(self.cookies.borrow().clone()),
        };
        other
            .cookies
            .borrow_mut()
            .insert(name.to_owned(), value.to_owned());
        other
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    pub async fn get(&self, url: &str) -> Page {
        let url = absolute(url);
        let answer = if url.as_str().starts_with(BRIDGE) {
            self.at_bridge(test::TestRequest::get(), &url).await
        } else if let Some(homeserver) = self.homeservers.iter().find(|h| h.serves(&url)) {
            homeserver.visit(&url, &self.router).await
        } else {
            let response = self
                .http
                .get(url.as_str())
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"));
            Answer::read_reqwest(response).await
        };
        Page { url, answer }
    }

    /// A form POST to the bridge.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let url = absolute(url);
        assert!(
            url.as_str().starts_with(BRIDGE),
            "forms go to the bridge: {url}"
        );
        let answer = self
            .at_bridge(test::TestRequest::post().set_form(fields), &url)
            .await;
        Page { url, answer }
    }

    async fn at_bridge(&self, request: test::TestRequest, url: &Url) -> Answer {
        let cookies = self
            .cookies
            .borrow()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = request.uri(&Router::path_of(url.as_str()));
        if !cookies.is_empty() {
            request = request.insert_header(("cookie", cookies));
        }
        let answer = self.router.call(request.to_request()).await;
        let mut jar = self.cookies.borrow_mut();
        for (name, value, removed) in answer.set_cookies() {
            if removed {
                jar.remove(&name);
            } else {
                jar.insert(name, value);
            }
        }
        answer
    }

    /// Chooses `department` on `picker`, as its form does; `None` if the page
    /// is not the picker.
    pub async fn pick(&self, picker: &Page, department: &str) -> Option<Page> {
        if picker.answer.status != 200 {
            return None;
        }
        let flow = sealed_flow(&picker.answer.body)?.to_owned();
        let pick = format!("{BRIDGE}_sso_bridge/pick");
        Some(
            self.post_form(&pick, &[("flow", &flow), ("department", department)])
                .await,
        )
    }

    /// Follows redirects from `start` and picks `department` at the picker,
    /// until a redirect leads to a URL `stop` matches (returned, not requested)
    /// or a page is neither.
    pub async fn drive_until(
        &self,
        start: &str,
        department: &str,
        stop: impl Fn(&Url) -> bool,
    ) -> Driven {
        let mut page = self.get(start).await;
        for _ in 0..20 {
            if let Some(next) = page.location() {
                if stop(&next) {
                    return Driven::Reached(next);
                }
                page = self.get(next.as_str()).await;
                continue;
            }
            if let Some(picked) = self.pick(&page, department).await {
                page = picked;
                continue;
            }
            return Driven::Stopped(page);
        }
        panic!("too many steps while driving the login from {start}");
    }

    /// `drive_until` a URL that starts with `prefix`.
    pub async fn drive(&self, start: &str, department: &str, prefix: &str) -> Driven {
        self.drive_until(start, department, |url| url.as_str().starts_with(prefix))
            .await
    }
}

fn absolute(url: &str) -> Url {
    Url::parse(url)
        .or_else(|_| Url::parse(BRIDGE).and_then(|base| base.join(url)))
        .unwrap_or_else(|e| panic!("{url} is not a URL: {e}"))
}
