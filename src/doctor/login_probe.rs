//! Does the homeserver trust the bridge (`sso.client_whitelist`)?
//!
//! In Synapse the whitelist has exactly one effect (handlers/auth.py,
//! `complete_sso_login`): at the very end of a successful SSO login, a
//! `redirectUrl` starting with a whitelisted prefix gets a 302 carrying the
//! `loginToken`; any other gets Synapse's own "Continue to …" confirmation
//! page. Nothing else exposes it: no endpoint, no login flow, no redirect
//! before the login completes (config/sso.py only adds the login fallback to
//! it). So the only faithful check is a login that completes — which the bridge
//! can do on its own, because it is the homeserver's OpenID Provider:
//!
//! 1. the SSO redirect (checked before) gave us Synapse's session cookie and
//!    its state, nonce and PKCE challenge;
//! 2. we issue an authorization code in the bridge's database, as `authorize`
//!    would, for a dedicated identity: issuer `urn:sso-bridge:doctor` (no
//!    upstream IdP can assert it), localpart `sso-bridge-doctor`;
//! 3. we call the homeserver's callback with that code. Synapse redeems it at
//!    the running bridge's `token` endpoint (which also proves the client
//!    secret and the id_token signature), maps the user, mints a login token,
//!    and then either redirects to our URL (whitelisted) or shows its page.
//!
//! The cost, stated in the README: the first probe creates the account
//! `@sso-bridge-doctor` on each department's homeserver, and each probe mints a
//! login token that is never used (Synapse expires it in minutes). It needs the
//! bridge running on the same database; `--no-login-probe` skips it (⚠️).

use std::time::Duration;

use url::Url;

use super::homeservers::{PROBE_FLOW, excerpt};
use super::http::describe;
use super::report::Check;
use crate::config::{Config, Department};
use crate::identity::{IdentityKey, find_or_create_identity};
use crate::provider::authorize::AuthorizeRequest;
use crate::random::Random;
use crate::store::Store;

const PROBE_ISSUER: &str = "urn:sso-bridge:doctor";
const PROBE_SUBJECT: &str = "login-probe";
const PROBE_LOCALPART: &str = "sso-bridge-doctor";
const PROBE_DISPLAY_NAME: &str = "sso-bridge doctor";
/// Synapse redeems the code and may create the account: allow more than a GET.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether the probe can run, and why not.
pub enum Probe<'a> {
    Ready(&'a Store),
    Skipped(&'static str, &'static str),
}

/// What the homeserver's SSO redirect told us, to answer as its IdP would.
pub struct SynapseSession {
    /// Its authorization request, validated as `/authorize` validates them.
    pub request: AuthorizeRequest,
    /// `name=value` pairs of the session cookies Synapse set, for the callback.
    pub cookies: String,
}

pub fn session_cookies(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .filter_map(|c| c.split(';').next())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn check(
    http: &reqwest::Client,
    config: &Config,
    department: &Department,
    probe: &Probe<'_>,
    session: &SynapseSession,
    probe_url: &Url,
) -> Check {
    let subject = format!("homeserver {}: client_whitelist", department.id);
    let whitelist_fix = format!(
        "add {:?} to `sso.client_whitelist` in its homeserver.yaml and restart it",
        config.public_base_url.as_str()
    );
    let store = match probe {
        Probe::Ready(store) => *store,
        Probe::Skipped(why, fix) => {
            return Check::warn(subject, format!("not checked: {why}"), *fix);
        }
    };
    let callback = match issue_code(config, store, department, session).await {
        Ok(callback) => callback,
        Err(e) => {
            return Check::warn(
                subject,
                format!("not checked: cannot issue the probe's code: {e}"),
                "check the database user's rights",
            );
        }
    };
    let response = match http
        .get(callback.as_str())
        .header("Cookie", &session.cookies)
        .timeout(CALLBACK_TIMEOUT)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                subject,
                format!("the test login's callback got no answer: {}", describe(&e)),
                "check the homeserver's log",
            );
        }
    };
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned);
    // The Location carries a live login token: only its prefix is ever shown.
    let without_query = |l: &str| l.split(['?', '#']).next().unwrap_or_default().to_owned();
    match location {
        Some(l) if status.is_redirection() && l.starts_with(probe_url.as_str()) => Check::ok(
            subject,
            format!(
                "a test login as {PROBE_LOCALPART} came straight back to {} (no confirmation page)",
                without_query(&l)
            ),
        ),
        Some(l) if status.is_redirection() => Check::warn(
            subject,
            format!(
                "not observed: the test login went on to {} (a user name picker or consent page?)",
                without_query(&l)
            ),
            "log in once through the bridge and check that no confirmation page appears",
        ),
        _ => {
            let body = response.text().await.unwrap_or_default();
            // Synapse's confirmation page links on to our URL with the token.
            if status.is_success() && body.contains("loginToken=") {
                return Check::fail(
                    subject,
                    "the homeserver shows its own \"Continue to …\" confirmation page before returning to the bridge",
                    whitelist_fix,
                );
            }
            Check::fail(
                subject,
                format!(
                    "the test login failed at the homeserver: HTTP {status}, {}",
                    synapse_error(&body)
                ),
                format!(
                    "check the homeserver's log; `client_secret` of {} must match its oidc_providers entry",
                    department.id
                ),
            )
        }
    }
}

/// A code as `authorize` would issue it for the probe identity, bound to
/// Synapse's own redirect_uri, PKCE challenge and nonce.
/// The test login's callback, with a code issued as `/authorize` issues them
/// (the same function), for the probe's own identity (made as logins make them).
async fn issue_code(
    config: &Config,
    store: &Store,
    department: &Department,
    session: &SynapseSession,
) -> Result<Url, String> {
    let random = Random::from_os();
    let now = unix_now();
    let key = IdentityKey {
        department: &department.id,
        issuer: PROBE_ISSUER,
        subject: PROBE_SUBJECT,
    };
    let identity =
        find_or_create_identity(store, &random, now, &key, Some(PROBE_DISPLAY_NAME), || {
            Ok(PROBE_LOCALPART.to_owned())
        })
        .await
        .map_err(|e| e.to_string())?;
    session
        .request
        .issue_code(config, store, &random, now, &identity.id, PROBE_FLOW)
        .await
        .map_err(|e| e.to_string())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn synapse_error(body: &str) -> String {
    let between = |start: &str, end: &str| {
        body.split_once(start)
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(inside, _)| inside.trim().to_owned())
    };
    let description = between("<strong id=\"errormsg\">", "</strong>");
    let code = between("<div id=\"error_code\">", "</div>")
        .and_then(|block| between_in(&block, "<p>", "</p>", 1));
    match (code, description) {
        (Some(code), Some(description)) => format!("{code}: {}", unescape(&description)),
        (Some(code), None) => code,
        (None, Some(description)) => unescape(&description),
        (None, None) => excerpt(body),
    }
}

/// The `index`-th text between `start` and `end` in `text`.
fn between_in(text: &str, start: &str, end: &str, index: usize) -> Option<String> {
    text.split(start)
        .skip(1)
        .filter_map(|part| {
            part.split_once(end)
                .map(|(inside, _)| inside.trim().to_owned())
        })
        .nth(index)
}

fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_synapse_error_pages() {
        let page = r#"<header><h1>There was an error</h1><p>
            <strong id="errormsg">invalid_client: wrong client secret</strong></p>
            <div id="error_code"><p><strong>Error code</strong></p>
            <p>invalid_token</p></div></header>"#;
        assert_eq!(
            synapse_error(page),
            "invalid_token: invalid_client: wrong client secret"
        );
        assert_eq!(synapse_error("plain text"), "plain text");
    }
}
