//! Calls the bridge makes to other servers (IdPs, homeservers, Redis aside):
//! one HTTP client configuration, and errors as one readable line. Shared by
//! the upstream IdPs, the homeservers, token validation, logout and doctor.

use std::time::Duration;

/// The HTTP client for back-channel calls: never follows redirects, bounded
/// in time. Building it can only fail on a broken TLS set-up: the bridge then
/// refuses to start rather than call out with a client without these bounds.
pub fn back_channel_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("sso-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// An error with its causes, for logs and operator messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
