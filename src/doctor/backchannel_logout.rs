//! Whether a department's Synapse takes the bridge's logout tokens, read from
//! its behaviour: a logout token whose `iss` and `aud` name the bridge's
//! provider but whose signature is deliberately worthless. Synapse looks the
//! provider up by those claims, then says either that back-channel logout is
//! disabled for it, or that the token is invalid (it checked the signature:
//! enabled). Nothing is logged out: no signature ever verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::Url;

use super::http::describe;
use super::report::Check;
use crate::config::{Config, Department};

pub async fn check(
    http: &reqwest::Client,
    config: &Config,
    department: &Department,
    regenerate: &str,
) -> Check {
    let subject = format!("homeserver {}: back-channel logout", department.id);
    let url = match department
        .homeserver
        .base_url
        .join(crate::routes::SYNAPSE_BACKCHANNEL_LOGOUT)
    {
        Ok(url) => url,
        Err(e) => return Check::fail(subject, e.to_string(), regenerate),
    };
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"logout+jwt"}"#);
    let claims = serde_json::json!({
        "iss": config.issuer(),
        "aud": department.id,
        "sid": "sso-bridge-doctor-probe",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let token = format!(
        "{header}.{}.{}",
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"not a signature")
    );
    let response = match http
        .post(url.as_str())
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => return Check::fail(subject, format!("{url}: {}", describe(&e)), regenerate),
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let error = body["error"].as_str().unwrap_or_default();
    judge(subject, &url, status.as_u16(), error, regenerate)
}

fn judge(subject: String, url: &Url, status: u16, error: &str, regenerate: &str) -> Check {
    match (status, error) {
        (400, e) if e.contains("Invalid logout_token") => Check::ok(
            subject,
            "enabled: a probe token with a worthless signature was checked and refused",
        ),
        (400, e) if e.contains("disabled") => Check::fail(
            subject,
            "disabled for the bridge's provider: sessions outlive the university login",
            format!("{regenerate} (it sets `backchannel_logout_enabled: true`)"),
        ),
        (400, e) if e.contains("Could not find the OP") => Check::fail(
            subject,
            "Synapse has no provider with the bridge's issuer and this client_id",
            regenerate.to_owned(),
        ),
        (404, _) => Check::fail(
            subject,
            format!("{url} is not found: the reverse proxy must pass /_synapse/client/ to Synapse"),
            "route /_synapse/client/ to Synapse, as for the OIDC callback",
        ),
        (status, error) => Check::warn(
            subject,
            format!("cannot tell: {url} answered HTTP {status} {error:?}"),
            "check the homeserver's log for the doctor's probe",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synapses_answers_say_enabled_disabled_or_unknown() {
        let url = Url::parse("http://hs.example/_synapse/client/oidc/backchannel_logout").unwrap();
        let status =
            |status, error: &str| judge("s".into(), &url, status, error, "fix").to_string();
        assert!(status(400, "Invalid logout_token").contains('✅'));
        assert!(
            status(
                400,
                "OpenID Connect Back-Channel Logout is disabled for this provider"
            )
            .contains('❌')
        );
        assert!(status(400, "Could not find the OP that issued this event").contains('❌'));
        assert!(status(404, "").contains('❌'));
        assert!(status(500, "boom").contains("⚠"));
    }
}
