//! A department's homeserver, as the bridge will meet it: it answers, it
//! advertises the bridge as an identity provider, and its SSO redirect sends the
//! browser to the bridge's `authorize` with the department's client_id and
//! callback — which proves its `oidc_providers` entry matches this config.
//! Then `login_probe` checks what only a completed login shows.

use url::Url;

use super::http::{describe, get_json};
use super::login_probe::{self, Probe, SynapseSession};
use super::report::Check;
use crate::config::{Config, Department};
use crate::provider::authorize::AuthorizeQuery;

/// The flow the probe pretends to complete; never a real flow id (those are hex).
pub const PROBE_FLOW: &str = "doctor-login-probe";

/// Checks run in order; the first failure ends the list (the later ones
/// would only repeat it).
pub async fn check(
    http: &reqwest::Client,
    config: &Config,
    config_path: &str,
    department: &Department,
    probe: &Probe<'_>,
) -> Vec<Check> {
    let base = &department.homeserver.base_url;
    let id = &department.id;
    let regenerate = format!(
        "merge the block printed by `sso-bridge homeserver-config --config {config_path} {id}` into its homeserver.yaml and restart it"
    );
    let mut checks = Vec::new();

    let subject = format!("homeserver {id} ({base})");
    match get_json(http, &endpoint(base, crate::routes::VERSIONS)).await {
        Ok(v) if v.get("versions").is_some_and(|v| v.is_array()) => {
            checks.push(Check::ok(subject, "answers /_matrix/client/versions"));
        }
        Ok(_) => {
            checks.push(Check::fail(
                subject,
                format!(
                    "{} is not a Matrix answer; later checks skipped",
                    crate::routes::VERSIONS
                ),
                format!("point `departments.homeserver.base_url` of {id} at the client-server API"),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(Check::fail(
                subject,
                format!("{e}; later checks skipped"),
                format!("start the homeserver, or correct `base_url` of department {id}"),
            ));
            return checks;
        }
    }

    let idp = format!("oidc-{}", config.homeserver_provider.idp_id);
    let subject = format!("homeserver {id}: login flows");
    match get_json(http, &endpoint(base, &crate::routes::login("v3"))).await {
        Ok(flows) => match advertised(&flows, &idp) {
            Advertised::Yes(name) => checks.push(Check::ok(
                subject,
                format!("m.login.sso offers {idp} ({name:?})"),
            )),
            Advertised::Others(others) => {
                let detail = if others.is_empty() {
                    "no m.login.sso flow: SSO is not configured".to_owned()
                } else {
                    format!("m.login.sso offers {} but not {idp}", others.join(", "))
                };
                checks.push(Check::fail(
                    subject,
                    format!("{detail}; later checks skipped"),
                    regenerate,
                ));
                return checks;
            }
        },
        Err(e) => {
            checks.push(Check::fail(
                subject,
                format!("{e}; later checks skipped"),
                "check the homeserver's log",
            ));
            return checks;
        }
    }

    let subject = format!("homeserver {id}: SSO redirect");
    let mut probe_url = config.url(crate::routes::COMPLETE);
    probe_url.query_pairs_mut().append_pair("flow", PROBE_FLOW);
    let session = match redirect(http, config, department, &idp, &probe_url).await {
        Ok((session, detail)) => {
            checks.push(Check::ok(subject, detail));
            session
        }
        Err((detail, fix)) => {
            let fix = fix.unwrap_or(regenerate);
            checks.push(Check::fail(
                subject,
                format!("{detail}; later checks skipped"),
                fix,
            ));
            return checks;
        }
    };

    checks.push(super::backchannel_logout::check(http, config, department, &regenerate).await);
    checks.push(login_probe::check(http, config, department, probe, &session, &probe_url).await);
    checks
}

/// `path` (with or without its leading slash) under the homeserver's base URL.
fn endpoint(base: &Url, path: &str) -> String {
    let mut url = base.clone();
    url.set_path(&format!("{}{}", base.path(), path.trim_start_matches('/')));
    url.to_string()
}

enum Advertised {
    Yes(String),
    /// The ids advertised instead (empty: no SSO flow at all).
    Others(Vec<String>),
}

/// MSC2858: the `m.login.sso` flow lists its identity providers.
fn advertised(flows: &serde_json::Value, idp: &str) -> Advertised {
    let providers: Vec<&serde_json::Value> = flows
        .get("flows")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
        .filter(|f| f.get("type").and_then(|t| t.as_str()) == Some("m.login.sso"))
        .filter_map(|f| f.get("identity_providers").and_then(|p| p.as_array()))
        .flatten()
        .collect();
    let id_of = |p: &serde_json::Value| p.get("id").and_then(|i| i.as_str()).map(str::to_owned);
    match providers.iter().find(|p| id_of(p).as_deref() == Some(idp)) {
        Some(p) => Advertised::Yes(
            p.get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_owned(),
        ),
        None => Advertised::Others(providers.iter().filter_map(|p| id_of(p)).collect()),
    }
}

type RedirectError = (String, Option<String>);

/// What the bridge does at the start of every login: the homeserver must answer
/// with a redirect to our `authorize`, for this department's client.
async fn redirect(
    http: &reqwest::Client,
    config: &Config,
    department: &Department,
    idp: &str,
    probe_url: &Url,
) -> Result<(SynapseSession, String), RedirectError> {
    let mut url = Url::parse(&endpoint(
        &department.homeserver.base_url,
        &crate::routes::sso_redirect_to("v3", idp),
    ))
    .map_err(|e| (e.to_string(), None))?;
    url.query_pairs_mut()
        .append_pair("redirectUrl", probe_url.as_str());
    let response = http
        .get(url.as_str())
        .send()
        .await
        .map_err(|e| (describe(&e), None))?;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .and_then(|l| Url::parse(l).ok());
    let Some(location) = location.filter(|_| status.is_redirection()) else {
        let body = response.text().await.unwrap_or_default();
        return Err((
            format!(
                "answered HTTP {status} instead of a redirect to the bridge ({})",
                excerpt(&body)
            ),
            Some(format!(
                "check the homeserver's log; it must reach the bridge's discovery document at {}",
                config.url(".well-known/openid-configuration")
            )),
        ));
    };
    let cookies = login_probe::session_cookies(&response);
    let authorize = config.url(crate::routes::OP_AUTHORIZE);
    let mut target = location.clone();
    target.set_query(None);
    if target != authorize {
        return Err((
            format!("redirects to {target}, not to the bridge's {authorize}"),
            Some(format!(
                "set `issuer: \"{}\"` in its oidc_providers entry for {idp}",
                config.issuer()
            )),
        ));
    }
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let client_id = param("client_id").unwrap_or_default();
    if client_id != department.id {
        return Err((
            format!(
                "sends client_id {client_id:?}, the bridge expects {:?}",
                department.id
            ),
            None,
        ));
    }
    let redirect_uri = param("redirect_uri").unwrap_or_default();
    if !department
        .homeserver
        .oidc_redirect_uris
        .contains(&redirect_uri)
    {
        return Err((
            format!(
                "sends redirect_uri {redirect_uri:?}, the bridge only accepts {}",
                department.homeserver.oidc_redirect_uris.join(", ")
            ),
            Some(format!(
                "set its `public_baseurl` to {} (or list its callback in `homeserver.oidc_redirect_uris` of {})",
                department.homeserver.base_url, department.id
            )),
        ));
    }
    if param("code_challenge_method").as_deref() != Some("S256") {
        return Err((
            "sends no PKCE S256 challenge; the bridge refuses such requests".into(),
            Some(format!(
                "set `pkce_method: always` in its oidc_providers entry for {idp}"
            )),
        ));
    }
    let detail = format!(
        "{idp} sends the browser to {authorize} with client_id {client_id:?} and redirect_uri {redirect_uri}"
    );
    // What the bridge's `/authorize` will make of it: the same validation.
    let query: AuthorizeQuery = serde_urlencoded::from_str(location.query().unwrap_or_default())
        .map_err(|e| {
            (
                format!("sends an authorization request that cannot be read: {e}"),
                None,
            )
        })?;
    let (request, _) = query.validate(config).map_err(|e| {
        (
            format!("sends an authorization request the bridge refuses: {e}"),
            Some("compare its oidc_providers entry with `sso-bridge homeserver-config`".into()),
        )
    })?;
    let session = SynapseSession { request, cookies };
    Ok((session, detail))
}

/// The gist of an error answer, short enough for one line.
pub fn excerpt(body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(error) = json.get("error").and_then(|e| e.as_str())
    {
        return error.to_owned();
    }
    let text: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None if text.is_empty() => "empty body".to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_advertised_provider() {
        let flows = serde_json::json!({"flows": [
            {"type": "m.login.password"},
            {"type": "m.login.sso", "identity_providers": [
                {"id": "oidc-github", "name": "GitHub"},
                {"id": "oidc-university", "name": "University login"}
            ]}
        ]});
        assert!(matches!(
            advertised(&flows, "oidc-university"),
            Advertised::Yes(name) if name == "University login"
        ));
        assert!(matches!(
            advertised(&flows, "oidc-campus"),
            Advertised::Others(ids) if ids == ["oidc-github", "oidc-university"]
        ));
        let none = serde_json::json!({"flows": [{"type": "m.login.password"}]});
        assert!(matches!(advertised(&none, "oidc-x"), Advertised::Others(ids) if ids.is_empty()));
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(
            excerpt(r#"{"errcode":"M_UNKNOWN","error":"Unknown IdP"}"#),
            "Unknown IdP"
        );
        assert_eq!(excerpt(""), "empty body");
        assert!(excerpt(&"word ".repeat(100)).ends_with('…'));
    }
}
