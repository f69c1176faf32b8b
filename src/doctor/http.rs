//! The doctor's HTTP client: short timeouts, no redirects followed (a redirect
//! is often the very thing a check looks at), and errors as one readable line.

use std::time::Duration;

use crate::outbound::error_chain;

/// Every outbound call gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The doctor's client; building it fails only on a broken TLS set-up, and
/// then the doctor says so instead of calling out without these bounds.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(3))
        .timeout(TIMEOUT)
        .user_agent(concat!("sso-bridge-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Why a request got no answer, without the noise of nested error types.
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        format!("cannot connect ({})", root_cause(e))
    } else {
        error_chain(e)
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// GETs a JSON document; the error says what went wrong in one line.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<serde_json::Value, String> {
    let response = http
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {status}"));
    }
    response
        .json()
        .await
        .map_err(|e| format!("{url} answered something that is not JSON: {e}"))
}
