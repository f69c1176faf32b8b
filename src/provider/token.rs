//! `token`: authenticates the department's homeserver, redeems a code once,
//! verifies PKCE and returns a signed id_token.

use serde::{Deserialize, Serialize};

use super::{Provider, ProviderError};
use crate::client_auth::client_credentials;
use crate::crypto::{constant_time_eq, hash_secret, is_valid_pkce_verifier, pkce_s256};
use crate::ids::FlowId;
use crate::store::NewSession;

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    pub scope: String,
}

pub async fn exchange(
    op: &Provider<'_>,
    authorization: Option<&str>,
    form: TokenForm,
) -> Result<TokenResponse, ProviderError> {
    let (client_id, client_secret) = client_credentials(
        authorization,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let department = op
        .config
        .department(&client_id)
        .ok_or_else(|| ProviderError::InvalidClient("unknown client".into()))?;
    if !constant_time_eq(
        client_secret.as_bytes(),
        department.client_secret.expose().as_bytes(),
    ) {
        return Err(ProviderError::InvalidClient("wrong client secret".into()));
    }
    if form.grant_type.as_deref() != Some("authorization_code") {
        return Err(ProviderError::UnsupportedGrantType(
            "only authorization_code is supported".into(),
        ));
    }
    let code = form
        .code
        .ok_or_else(|| ProviderError::InvalidRequest("code is missing".into()))?;
    let code_hash = hash_secret(&code);
    let now = op.now();
    let row = op
        .store
        .auth_code(&code_hash)
        .await?
        .ok_or_else(|| ProviderError::InvalidGrant("unknown code".into()))?;
    if row.client_id != client_id {
        return Err(ProviderError::InvalidGrant(
            "the code was issued to another client".into(),
        ));
    }
    if row.expires_at < now {
        return Err(ProviderError::InvalidGrant("the code has expired".into()));
    }
    if form.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return Err(ProviderError::InvalidGrant(
            "redirect_uri does not match the authorization request".into(),
        ));
    }
    let verifier = form
        .code_verifier
        .ok_or_else(|| ProviderError::InvalidGrant("code_verifier is missing".into()))?;
    if !is_valid_pkce_verifier(&verifier)
        || !constant_time_eq(
            pkce_s256(&verifier).as_bytes(),
            row.code_challenge.as_bytes(),
        )
    {
        return Err(ProviderError::InvalidGrant(
            "code_verifier does not match the code_challenge".into(),
        ));
    }
    // Single use, atomically; a replay also revokes what the first use issued.
    if !op.store.use_auth_code(&code_hash, now).await? {
        op.store.revoke_tokens_of_code(&code_hash).await?;
        tracing::warn!(client = %client_id, "authorization code replayed; tokens from it revoked");
        return Err(ProviderError::InvalidGrant(
            "the code has already been used".into(),
        ));
    }
    let identity = op.store.identity(&row.identity_id).await?.ok_or_else(|| {
        ProviderError::InvalidGrant("the user of this code no longer exists".into())
    })?;

    // This login's session at the department, named by `sid` so that the bridge
    // can end it there later (back-channel logout), with where it came from.
    let flow = op
        .store
        .flow(&FlowId::from(row.flow_id.as_str()), now)
        .await?;
    let login = flow.as_ref().and_then(|f| f.state.login());
    let sid = op.random.token(16);
    op.store
        .insert_session(NewSession {
            sid: &sid,
            issuer: op.config.issuer(),
            identity_id: &identity.id,
            department: &client_id,
            upstream_id: login.map(|l| l.upstream.as_str()),
            upstream_session_hash: login.and_then(|l| l.upstream_session_hash.as_deref()),
            upstream_name_id_hash: login.and_then(|l| l.upstream_name_id_hash.as_deref()),
            now,
        })
        .await?;

    let lifetime = op.config.lifetimes.access_token;
    let access_token = op.random.token(32);
    op.store
        .insert_access_token(&hash_secret(&access_token), &row, now + lifetime)
        .await?;
    let mut claims = serde_json::json!({
        "iss": op.config.issuer(),
        "sub": identity.id,
        "aud": client_id,
        "iat": now,
        "exp": now + lifetime,
        "auth_time": now,
        "preferred_username": identity.localpart,
        "sid": sid,
    });
    if let Some(name) = &identity.display_name {
        claims["name"] = name.clone().into();
    }
    if let Some(nonce) = &row.nonce {
        claims["nonce"] = nonce.clone().into();
    }
    Ok(TokenResponse {
        id_token: op.signing_keys().await.sign(&claims, now)?,
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        scope: row.scope,
    })
}
