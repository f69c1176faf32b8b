//! Talking Matrix to the departments' homeservers, as a client would.

use serde_json::{Value, json};
use url::Url;

use crate::browser::query_values;

pub struct LoggedIn {
    pub user_id: String,
    pub access_token: String,
    pub device_id: String,
    pub homeserver: String,
}

/// The final redirect must carry exactly one loginToken and one homeserver.
pub fn token_and_homeserver(final_url: &Url) -> (String, String) {
    let tokens = query_values(final_url, "loginToken");
    let homeservers = query_values(final_url, "homeserver");
    assert_eq!(tokens.len(), 1, "exactly one loginToken in {final_url}");
    assert_eq!(
        homeservers.len(),
        1,
        "exactly one homeserver in {final_url}"
    );
    assert!(
        !homeservers[0].ends_with('/'),
        "`homeserver` without a trailing slash, for clients that append paths: {final_url}"
    );
    (tokens[0].clone(), homeservers[0].clone())
}

/// Logs in with `m.login.token` at `homeserver` the way many client libraries
/// do: by appending the path to the base URL as given.
pub async fn login_with_token(homeserver: &str, token: &str) -> Result<LoggedIn, (u16, Value)> {
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{homeserver}/_matrix/client/v3/login"))
        .json(&json!({ "type": "m.login.token", "token": token }))
        .send()
        .await
        .expect("login request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != 200 {
        return Err((status, body));
    }
    Ok(LoggedIn {
        user_id: body["user_id"].as_str().unwrap_or_default().to_owned(),
        access_token: body["access_token"].as_str().unwrap_or_default().to_owned(),
        device_id: body["device_id"].as_str().unwrap_or_default().to_owned(),
        homeserver: homeserver.to_owned(),
    })
}

pub async fn whoami(homeserver: &str, access_token: &str) -> String {
    let body: Value = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v3/account/whoami",
            homeserver.trim_end_matches('/')
        ))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .expect("whoami json");
    body["user_id"].as_str().unwrap_or_default().to_owned()
}
