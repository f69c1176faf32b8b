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
