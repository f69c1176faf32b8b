//! An upstream OIDC IdP: its discovery document answers, names the configured
//! issuer exactly, its JWKS holds at least one key, and whether it says it
//! sends back-channel logout (with the URL its admin registers for it).

use super::http::get_json;
use super::report::Check;
use crate::config::{Config, OidcUpstream};

pub async fn check(http: &reqwest::Client, config: &Config, upstream: &OidcUpstream) -> Vec<Check> {
    let subject = format!("upstream {} (OIDC): discovery", upstream.id);
    // As the relying party builds it: the issuer, then the well-known path.
    let url = format!(
        "{}/.well-known/openid-configuration",
        upstream.issuer.trim_end_matches('/')
    );
    let document = match get_json(http, &url).await {
        Ok(d) => d,
        Err(e) => {
            return vec![Check::fail(
                subject,
                e,
                "check `issuer` and that the IdP is reachable from the bridge's host",
            )];
        }
    };
    let issuer = document.get("issuer").and_then(|i| i.as_str());
    if issuer != Some(upstream.issuer.as_str()) {
        let found = issuer.map_or("no issuer".to_owned(), |i| format!("issuer {i:?}"));
        return vec![Check::fail(
            subject,
            format!(
                "the discovery document at {url} has {found}, the config says {:?}; logins would be refused",
                upstream.issuer
            ),
            match issuer {
                Some(i) => format!("set `issuer = {i:?}` exactly (a trailing slash matters)"),
                None => "point `issuer` at the IdP's real issuer".to_owned(),
            },
        )];
    }
    let endpoint = |name: &str| document.get(name).and_then(|v| v.as_str());
    let (Some(_), Some(_), Some(jwks_uri)) = (
        endpoint("authorization_endpoint"),
        endpoint("token_endpoint"),
        endpoint("jwks_uri"),
    ) else {
        return vec![Check::fail(
            subject,
            "the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri",
            "fix the IdP's OpenID Connect configuration",
        )];
    };
    let mut checks = vec![Check::ok(
        subject,
        format!("{url} answers with the configured issuer"),
    )];
    let logout_url = config.url(&crate::routes::oidc_backchannel_logout(&upstream.id));
    let says = |name: &str| document.get(name).and_then(|v| v.as_bool()) == Some(true);
    let subject_logout = format!("upstream {} (OIDC): back-channel logout", upstream.id);
    checks.push(
        match (
            says("backchannel_logout_supported"),
            says("backchannel_logout_session_supported"),
        ) {
            (true, true) => Check::ok(
                subject_logout,
                format!("the IdP sends logout tokens with sid; its client must have backchannel_logout_uri {logout_url}"),
            ),
            (true, false) => Check::warn(
                subject_logout,
                "the IdP sends logout tokens without sid: each ends all of the person's sessions",
                format!("register {logout_url} as the client's backchannel_logout_uri"),
            ),
            _ => Check::warn(
                subject_logout,
                "the IdP's discovery does not say it sends back-channel logout: its logouts do not reach the departments",
                format!("enable back-channel logout at the IdP and register {logout_url}, or end sessions with `sso-bridge sessions end`"),
            ),
        },
    );
    let subject = format!("upstream {} (OIDC): signing keys", upstream.id);
    checks.push(match get_json(http, jwks_uri).await {
        Ok(jwks) => match jwks.get("keys").and_then(|k| k.as_array()) {
            Some(keys) if !keys.is_empty() => {
                Check::ok(subject, format!("{jwks_uri} has {} key(s)", keys.len()))
            }
            _ => Check::fail(
                subject,
                format!("{jwks_uri} has no keys: no id_token can be verified"),
                "publish the IdP's signing keys in its JWKS",
            ),
        },
        Err(e) => Check::fail(
            subject,
            e,
            "make the IdP's jwks_uri reachable from the bridge's host",
        ),
    });
    checks
}
