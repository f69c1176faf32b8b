//! `authorize`: checks a homeserver's authorization request and issues codes.
//! Which user the code is for is decided by the login flow, not here.

use serde::{Deserialize, Serialize};
use url::Url;

use super::ProviderError;
use crate::config::{Config, Department};
use crate::crypto::hash_secret;
use crate::random::Random;
use crate::store::{NewAuthCode, Store};

/// The query of an authorization request, as received.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
}

/// A request that passed every check; kept sealed in the flow while the user logs in upstream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt_none: bool,
}

/// Why a request is refused. Before the client and redirect URI are known to be
/// good, the user sees a page; after, the error goes back to the client (RFC 6749 §4.1.2.1).
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error("{0}")]
    NotRedirectable(String),
    #[error("{error}: {description}")]
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl AuthorizeError {
    /// Where to send the browser for a redirectable error.
    pub fn redirect_url(&self) -> Option<Url> {
        match self {
            Self::NotRedirectable(_) => None,
            Self::Redirect {
                redirect_uri,
                state,
                error,
                description,
            } => {
                let mut url = Url::parse(redirect_uri).ok()?;
                url.query_pairs_mut()
                    .append_pair("error", error)
                    .append_pair("error_description", description);
                if let Some(state) = state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url)
            }
        }
    }
}

impl AuthorizeQuery {
    pub fn validate(
        self,
        config: &Config,
    ) -> Result<(AuthorizeRequest, &Department), AuthorizeError> {
        let client_id = self.client_id.ok_or_else(|| {
            AuthorizeError::NotRedirectable("the request names no client_id".into())
        })?;
        let department = config.department(&client_id).ok_or_else(|| {
            AuthorizeError::NotRedirectable(format!(
                "client {client_id:?} is not a configured department"
            ))
        })?;
        let redirect_uri = self.redirect_uri.ok_or_else(|| {
            AuthorizeError::NotRedirectable("the request names no redirect_uri".into())
        })?;
        // Exact string match: no prefix, no normalisation (RFC 9700 §4.1.3).
        if !department
            .homeserver
            .oidc_redirect_uris
            .contains(&redirect_uri)
        {
            return Err(AuthorizeError::NotRedirectable(format!(
                "redirect_uri is not registered for client {client_id:?}"
            )));
        }
        let state = self.state;
        let refuse = |error: &'static str, description: &str| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            description: description.into(),
        };
        if self.response_type.as_deref() != Some("code") {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        let scope = self.scope.unwrap_or_default();
        if !scope.split(' ').any(|s| s == "openid") {
            return Err(refuse("invalid_scope", "the openid scope is required"));
        }
        let code_challenge = match (self.code_challenge, self.code_challenge_method.as_deref()) {
            (Some(challenge), Some("S256")) if is_s256_challenge(&challenge) => challenge,
            (Some(_), Some("S256")) => {
                return Err(refuse("invalid_request", "malformed code_challenge"));
            }
            (Some(_), _) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge_method must be S256",
                ));
            }
            (None, _) => return Err(refuse("invalid_request", "PKCE (S256) is required")),
        };
        let prompt_none = self
            .prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|x| x == "none"));
        Ok((
            AuthorizeRequest {
                client_id,
                redirect_uri: redirect_uri.clone(),
                scope,
                state: state.clone(),
                nonce: self.nonce,
                code_challenge,
                prompt_none,
            },
            department,
        ))
    }
}

fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AuthorizeRequest {
    /// Issues a single-use code bound to this client, redirect URI, PKCE challenge
    /// and nonce, and returns the redirect that carries it. The same code path
    /// serves logins and `doctor`'s test login.
    pub async fn issue_code(
        &self,
        config: &Config,
        store: &Store,
        random: &Random,
        now: i64,
        identity_id: &str,
        flow_id: &str,
    ) -> Result<Url, ProviderError> {
        let code = random.token(32);
        store
            .insert_auth_code(NewAuthCode {
                code_hash: &hash_secret(&code),
                client_id: &self.client_id,
                redirect_uri: &self.redirect_uri,
                code_challenge: &self.code_challenge,
                nonce: self.nonce.as_deref(),
                scope: &self.scope,
                identity_id,
                flow_id,
                now,
                expires_at: now + config.lifetimes.authorization_code,
            })
            .await?;
        let mut url = Url::parse(&self.redirect_uri)
            .map_err(|_| ProviderError::InvalidRequest("redirect_uri is not a URL".into()))?;
        url.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = &self.state {
            url.query_pairs_mut().append_pair("state", state);
        }
        url.query_pairs_mut().append_pair("iss", config.issuer());
        Ok(url)
    }

    /// The error a homeserver gets when it asked for no interaction and there is no login.
    pub fn login_required(&self) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            error: "login_required",
            description: "the user is not logged in at the bridge".into(),
        }
    }
}
