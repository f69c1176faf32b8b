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
    {
        add_well_known(object, homeserver);
    }
    Ok(ForwardedLogin { status, body })
}

/// A homeserver's base URL as clients are given it (`homeserver`, `well_known`):
/// without the trailing slash, as the spec's examples write it, so that clients
/// that append `/_matrix/…` get one slash. Configured URLs may keep theirs.
pub fn client_base_url(url: &Url) -> &str {
    let text = url.as_str();
    text.strip_suffix('/').unwrap_or(text)
}

/// The login answer names the homeserver the client must move to: the
/// homeserver's own `well_known` when it sends one (Synapse does when it has a
/// `public_baseurl`), else ours; either way without a trailing slash.
fn add_well_known(answer: &mut serde_json::Map<String, Value>, homeserver: &Url) {
    let well_known = answer.entry("well_known").or_insert_with(
        || serde_json::json!({ "m.homeserver": { "base_url": client_base_url(homeserver) } }),
    );
    if let Some(base_url) = well_known
        .get_mut("m.homeserver")
        .and_then(|h| h.get_mut("base_url"))
        && let Some(text) = base_url.as_str()
        && let Some(trimmed) = text.strip_suffix('/')
    {
        *base_url = Value::String(trimmed.to_owned());
    }
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
            .map_err(|e| unreachable(crate::outbound::error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(unreachable(format!("it answered {}", response.status())));
        }
        let mut up = self.up_until_ms.lock().unwrap_or_else(|e| e.into_inner());
        up.insert(key.to_owned(), now + UP_FOR_MS);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_login_answer_names_the_homeserver_without_the_trailing_slash() {
        let homeserver = url::Url::parse("https://matrix.eng.ac.cdl/").unwrap();
        let mut ours = serde_json::Map::new();
        super::add_well_known(&mut ours, &homeserver);
        assert_eq!(
            ours["well_known"]["m.homeserver"]["base_url"],
            "https://matrix.eng.ac.cdl"
        );
        let mut theirs = serde_json::json!({ "well_known": {
            "m.homeserver": { "base_url": "https://hs.eng.ac.cdl/" },
            "m.identity_server": { "base_url": "https://id.ac.cdl/" }
        }});
        super::add_well_known(theirs.as_object_mut().unwrap(), &homeserver);
        assert_eq!(
            theirs["well_known"]["m.homeserver"]["base_url"], "https://hs.eng.ac.cdl",
            "the homeserver's own answer is kept, its slash dropped"
        );
        assert_eq!(
            theirs["well_known"]["m.identity_server"]["base_url"],
            "https://id.ac.cdl/"
        );
    }

    #[test]
    fn clients_get_base_urls_without_the_trailing_slash() {
        for (configured, given) in [
            ("https://matrix.eng.ac.cdl/", "https://matrix.eng.ac.cdl"),
            ("https://matrix.eng.ac.cdl", "https://matrix.eng.ac.cdl"),
            ("http://127.0.0.1:8101/", "http://127.0.0.1:8101"),
            ("https://ac.cdl/matrix/", "https://ac.cdl/matrix"),
        ] {
            let url = url::Url::parse(configured).unwrap();
            assert_eq!(super::client_base_url(&url), given);
            assert_eq!(
                format!("{given}/_matrix/client/v3/login"),
                super::login_url(&url, "v3").as_str(),
                "a client that appends the path reaches what the bridge itself calls"
            );
        }
    }
}
