//! The bridge's real router (`sso_bridge::http::app`) in this process, behind
//! one call: a request in, its answer out, with no socket in between.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_http::Request;
use actix_web::dev::Service;
use actix_web::{test, web};
use sso_bridge::services::Services;

use crate::answer::Answer;

type Call = dyn Fn(Request) -> Pin<Box<dyn Future<Output = Answer>>>;

/// The router of one `Services`, cheap to clone (the test's browsers and the
/// scripted homeservers each hold it).
#[derive(Clone)]
pub struct Router {
    call: Rc<Call>,
}

impl Router {
    pub async fn new(services: &Arc<Services>) -> Self {
        let app = Rc::new(
            test::init_service(sso_bridge::http::app(web::Data::from(services.clone()))).await,
        );
        let call = move |request: Request| -> Pin<Box<dyn Future<Output = Answer>>> {
            let app = app.clone();
            Box::pin(async move {
                let response = app
                    .call(request)
                    .await
                    .unwrap_or_else(|e| panic!("the router failed instead of answering: {e}"));
                Answer::read(response).await
            })
        };
        Self {
            call: Rc::new(call),
        }
    }

    pub async fn call(&self, request: Request) -> Answer {
        (self.call)(request).await
    }

    /// A GET of `path` whose answer must be 200 JSON (the provider's discovery, JWKS).
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let answer = self
            .call(test::TestRequest::get().uri(path).to_request())
            .await;
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
        serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("GET {path} is not JSON ({e}): {}", answer.body))
    }

    /// The path and query of an absolute URL at the bridge, as the router takes it.
    pub fn path_of(url: &str) -> String {
        let Ok(url) = url::Url::parse(url) else {
            return url.to_owned();
        };
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }
}
