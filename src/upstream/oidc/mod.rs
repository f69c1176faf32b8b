//! The OpenID Connect relying party for one upstream IdP: discovery (cached),
//! authorization code with PKCE S256, state, nonce, issuer and id_token checks.

mod logout_token;
mod token_client;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope,
};
use tokio::sync::RwLock;
use url::Url;

use super::UpstreamError;
use crate::config::OidcUpstream;
use crate::identity::{Claims, UpstreamIdentity, UpstreamSession};
use crate::outbound::error_chain;

/// Discovery documents and keys are re-read after this long, or after a failed check.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// What the bridge reads of an IdP's discovery document beyond OpenID Connect's
/// core fields.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct MoreProviderMetadata {
    /// RFC 9207: every authorization response carries `iss`; one without it is
    /// then refused (it may come from another IdP: a mix-up).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// OpenID Connect Back-Channel Logout: the IdP sends logout tokens, with `sid`.
    #[serde(default)]
    pub backchannel_logout_supported: bool,
    #[serde(default)]
    pub backchannel_logout_session_supported: bool,
}

impl openidconnect::AdditionalProviderMetadata for MoreProviderMetadata {}

/// An IdP's discovery document, as the bridge reads it.
pub type ProviderMetadata = openidconnect::ProviderMetadata<
    MoreProviderMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

pub use logout_token::{LogoutClaims, LogoutTokenError};

pub struct OidcClient {
    config: OidcUpstream,
    redirect_url: Url,
    http: reqwest::Client,
    metadata: RwLock<Option<(ProviderMetadata, Instant)>>,
    /// Counts changes of `metadata`, so what is derived from it can be cached.
    generation: std::sync::atomic::AtomicU64,
}

/// What the flow keeps secret per request; derived, never stored in clear.
pub struct UpstreamRequestSecrets<'a> {
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
}

impl OidcClient {
    pub fn new(config: OidcUpstream, redirect_url: Url, http: reqwest::Client) -> Self {
        Self {
            config,
            redirect_url,
            http,
            metadata: RwLock::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn redirect_url(&self) -> &Url {
        &self.redirect_url
    }

    /// The cached discovery document (with its JWKS), fetched when missing or stale.
    /// Discovery itself checks that the document's issuer is the configured one.
    pub async fn metadata(&self) -> Result<ProviderMetadata, UpstreamError> {
        if let Some((metadata, fetched)) = self.metadata.read().await.as_ref()
            && fetched.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| UpstreamError::Discovery(e.to_string()))?;
        let metadata = ProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Request(e) => {
                    UpstreamError::Unavailable(e.to_string())
                }
                other => UpstreamError::Discovery(error_chain(&other)),
            })?;
        *self.metadata.write().await = Some((metadata.clone(), Instant::now()));
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(metadata)
    }

    /// The origin of the IdP's login page, for the picker's CSP `form-action`:
    /// the authorization endpoint's, once discovery has been read, and the
    /// issuer's until then. Never fetches.
    pub async fn login_origin(&self) -> Option<url::Origin> {
        let known = self
            .metadata
            .read()
            .await
            .as_ref()
            .map(|(metadata, _)| metadata.authorization_endpoint().url().origin());
        known.or_else(|| Url::parse(&self.config.issuer).ok().map(|u| u.origin()))
    }

    /// How many times the discovery document changed here (see `Upstreams::generation`).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    async fn forget_metadata(&self) {
        *self.metadata.write().await = None;
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    async fn client(
        &self,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        UpstreamError,
    > {
        let metadata = self.metadata().await?;
        let redirect = RedirectUrl::new(self.redirect_url.to_string())
            .map_err(|e| UpstreamError::Discovery(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// RFC 9207: the `iss` of an authorization response must be this IdP's; and
    /// an IdP whose discovery says it always sends `iss` must have sent it (a
    /// response without it may come from another IdP: a mix-up attack).
    pub async fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), UpstreamError> {
        match iss {
            Some(iss) if iss != self.issuer() => Err(UpstreamError::Invalid(
                "the authorization response names another issuer (mix-up)".into(),
            )),
            Some(_) => Ok(()),
            None if self
                .metadata()
                .await?
                .additional_metadata()
                .authorization_response_iss_parameter_supported =>
            {
                Err(UpstreamError::Invalid(
                    "the authorization response has no iss, which this IdP always sends (mix-up)"
                        .into(),
                ))
            }
            None => Ok(()),
        }
    }

    /// The URL that sends the browser to the IdP.
    pub async fn authorization_url(
        &self,
        secrets: &UpstreamRequestSecrets<'_>,
        login_hint: Option<&str>,
    ) -> Result<Url, UpstreamError> {
        let client = self.client().await?;
        let verifier = PkceCodeVerifier::new(secrets.pkce_verifier.to_owned());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let state = secrets.state.to_owned();
        let nonce = secrets.nonce.to_owned();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, _, _) = request.url();
        Ok(url)
    }

    /// Redeems the code on the back channel and verifies the id_token (signature
    /// with the IdP's published keys, issuer, audience, expiry, nonce).
    pub async fn redeem(
        &self,
        code: &str,
        secrets: &UpstreamRequestSecrets<'_>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| UpstreamError::Discovery(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.to_owned()))
            .request_async(&token_client::TokenEndpointClient(&self.http))
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    UpstreamError::Refused(r.to_string())
                }
                openidconnect::RequestTokenError::Request(e) => {
                    UpstreamError::Unavailable(error_chain(&e))
                }
                other => UpstreamError::Invalid(error_chain(&other)),
            })?;
        let id_token = response
            .extra_fields()
            .id_token()
            .ok_or_else(|| UpstreamError::Invalid("the token response has no id_token".into()))?;
        let nonce = Nonce::new(secrets.nonce.to_owned());
        let verified = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            Err(first) => {
                // The IdP may have rotated its keys: re-read them once, then give up.
                self.forget_metadata().await;
                let client = self.client().await?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|_| UpstreamError::Invalid(first.to_string()))?
                    .clone()
            }
        };
        // The signature covers the whole payload, so every claim in it is vouched for,
        // including those outside the standard set (department, affiliation, …).
        let payload = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|v| v.as_object().cloned())
            .ok_or_else(|| {
                UpstreamError::Invalid("the id_token payload is not a JSON object".into())
            })?;
        let session = UpstreamSession {
            id: payload
                .get("sid")
                .and_then(|sid| sid.as_str())
                .map(str::to_owned),
            name_id: None,
        };
        Ok(UpstreamIdentity {
            issuer: verified.issuer().to_string(),
            subject: verified.subject().to_string(),
            claims: Claims::from_json(&payload),
            session,
        })
    }
}
