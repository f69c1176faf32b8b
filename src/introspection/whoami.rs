//! `GET /_matrix/client/v3/account/whoami` on a department's homeserver: the one
//! authority on whether a Matrix access token is live.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use url::Url;

use super::IntrospectionError;

/// Who the homeserver says holds the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub user_id: String,
    pub device_id: Option<String>,
    #[serde(default)]
    pub is_guest: bool,
}

/// The homeserver's verdict on one token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Whoami {
    Active(Holder),
    Inactive,
}

/// A verdict, and how long the homeserver lets it be reused (`Cache-Control: max-age`).
pub struct Answer {
    pub whoami: Whoami,
    pub max_age: Option<Duration>,
    pub elapsed: Duration,
}

/// Asks `homeserver` who holds `token`. Errors (unreachable, timeout, 5xx, 429,
/// nonsense) are never an "inactive" answer: the caller must not cache them.
pub async fn whoami(
    http: &reqwest::Client,
    homeserver: &Url,
    server_name: &str,
    token: &str,
    timeout: Duration,
) -> Result<Answer, IntrospectionError> {
    let url = format!("{homeserver}_matrix/client/v3/account/whoami");
    let unavailable = |detail: String| IntrospectionError::HomeserverUnavailable {
        homeserver: homeserver.to_string(),
        detail,
    };
    let started = Instant::now();
    let response = http
        .get(&url)
        .bearer_auth(token)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| {
            unavailable(if e.is_timeout() {
                format!("no answer within {} s", timeout.as_secs())
            } else {
                crate::outbound::error_chain(&e)
            })
        })?;
    let status = response.status().as_u16();
    let max_age = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(cache_control_max_age);
    let body = tokio::time::timeout(timeout, response.bytes())
        .await
        .map_err(|_| unavailable(format!("no answer within {} s", timeout.as_secs())))?
        .map_err(|e| unavailable(e.to_string()))?;
    let elapsed = started.elapsed();
    let whoami = match status {
        200 => {
            let holder: Holder = serde_json::from_slice(&body)
                .map_err(|_| unavailable("whoami answered 200 without a user_id".into()))?;
            // A homeserver answers for its own users only; anything else is a misconfiguration.
            let server = holder.user_id.split_once(':').map(|(_, s)| s);
            if !holder.user_id.starts_with('@') || server != Some(server_name) {
                return Err(unavailable(format!(
                    "whoami answered for {:?}, not a user of {server_name}",
                    holder.user_id
                )));
            }
            Whoami::Active(holder)
        }
        // Unknown, expired, soft-logged-out or deactivated: not a token to accept.
        401 | 403 => Whoami::Inactive,
        429 => {
            return Err(unavailable(
                "the homeserver is rate-limiting the bridge".into(),
            ));
        }
        other => return Err(unavailable(format!("whoami answered HTTP {other}"))),
    };
    Ok(Answer {
        whoami,
        max_age,
        elapsed,
    })
}

/// `max-age=N` (or `s-maxage=N`, which wins for shared caches) from `Cache-Control`.
fn cache_control_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if let Some(n) = directive.strip_prefix("s-maxage=") {
            return n.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
        if let Some(n) = directive.strip_prefix("max-age=") {
            max_age = n.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            cache_control_max_age("private, max-age=30"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            cache_control_max_age("max-age=30, s-maxage=5"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(cache_control_max_age("no-cache, no-store"), None);
        assert_eq!(cache_control_max_age("max-age=soon"), None);
    }
}
