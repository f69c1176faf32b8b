//! Talking to a department's homeserver on the client's behalf (MSC1730): the
//! `m.login.token` a client sent to the bridge is forwarded to the homeserver
//! that minted it, and the answer gains `well_known` so the client moves there.

use serde_json::Value;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum HomeserverError {
    #[error("the homeserver at {0} cannot be reached: {1}")]
    Unreachable(String, String),
    #[error("the homeserver at {0} answered something that is not Matrix JSON")]
    NotJson(String),
}

/// The homeserver's own answer, passed on with its status.
pub struct ForwardedLogin {
    pub status: u16,
    pub body: Value,
}

/// Forwards a login request body as is; the client's address goes in
/// `X-Forwarded-For` so the homeserver's rate limits apply per client.
pub async fn forward_login(
    http: &reqwest::Client,
    homeserver: &Url,
    body: &Value,
    client_address: Option<&str>,
) -> Result<ForwardedLogin, HomeserverError> {
    let url = login_url(homeserver, "v3");
    let mut request = http.post(url.as_str()).json(body);
    if let Some(address) = client_address {
        request = request.header("X-Forwarded-For", address);
    }
    let response = request
        .send()
        .await
        .map_err(|e| HomeserverError::Unreachable(homeserver.to_string(), e.to_string()))?;
    let status = response.status().as_u16();
    let mut body: Value = response
        .json()
        .await
        .map_err(|_| HomeserverError::NotJson(homeserver.to_string()))?;
    if status == 200
        && let Some(object) = body.as_object_mut()
        && !object.contains_key("well_known")
    {
        object.insert(
            "well_known".into(),
            serde_json::json!({ "m.homeserver": { "base_url": homeserver.as_str() } }),
        );
    }
    Ok(ForwardedLogin { status, body })
}

/// `{homeserver}_matrix/client/{version}/login`.
pub fn login_url(homeserver: &Url, version: &str) -> Url {
    let mut url = homeserver.clone();
    url.set_path(&format!(
        "{}_matrix/client/{version}/login",
        homeserver.path()
    ));
    url
}

/// Whether each department's homeserver answers, asked before a user is sent
/// there: a dead homeserver gets a page at the bridge, not a browser error.
/// "Up" is remembered briefly (a login costs no extra round trip); "down" is
/// not remembered, so a homeserver that comes back is used at once.
pub struct HomeserverHealth {
    up_until_ms: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

/// How long a homeserver that answered is believed up.
const UP_FOR_MS: i64 = 2_000;
/// How long the check waits for an answer.
pub const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Default for HomeserverHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl HomeserverHealth {
    pub fn new() -> Self {
        Self {
            up_until_ms: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// `Ok` when `GET /_matrix/client/versions` answered 200 lately or now.
    pub async fn ensure_up(
        &self,
        http: &reqwest::Client,
        clock: &dyn crate::clock::Clock,
        homeserver: &Url,
    ) -> Result<(), HomeserverError> {
        let now = clock.now().timestamp_millis();
        let key = homeserver.as_str();
        if self
            .up_until_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .is_some_and(|until| *until > now)
        {
            return Ok(());
        }
        let mut url = homeserver.clone();
        url.set_path(&format!("{}_matrix/client/versions", homeserver.path()));
        let unreachable = |detail: String| HomeserverError::Unreachable(key.to_owned(), detail);
        let response = http
            .get(url.as_str())
            .timeout(CHECK_TIMEOUT)
            .send()
            .await
            .map_err(|e| unreachable(crate::upstream::error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(unreachable(format!("it answered {}", response.status())));
        }
        let mut up = self.up_until_ms.lock().unwrap_or_else(|e| e.into_inner());
        up.insert(key.to_owned(), now + UP_FOR_MS);
        Ok(())
    }
}
