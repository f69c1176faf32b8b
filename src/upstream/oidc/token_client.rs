//! The HTTP client of the token request: the back-channel client, except that
//! a server error (5xx) from the IdP's token endpoint is the IdP being
//! unavailable. openidconnect would otherwise try to read the error page as a
//! token response and report an unreadable answer, which the user would see
//! as "could not be verified" instead of "not available".

use std::future::Future;
use std::pin::Pin;

use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

pub struct TokenEndpointClient<'a>(pub &'a reqwest::Client);

type Answer = Result<HttpResponse, HttpClientError<reqwest::Error>>;

impl<'c> AsyncHttpClient<'c> for TokenEndpointClient<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.call(request).await?;
            if response.status().is_server_error() {
                return Err(HttpClientError::Other(format!(
                    "the token endpoint answered HTTP {}",
                    response.status()
                )));
            }
            Ok(response)
        })
    }
}
