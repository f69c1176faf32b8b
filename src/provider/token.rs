//! `token`: authenticates the department's homeserver, redeems a code once,
//! verifies PKCE and returns a signed id_token.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::ProviderError;
use crate::crypto::{constant_time_eq, hash_secret, is_valid_pkce_verifier, pkce_s256};
use crate::services::Services;
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

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1, form-encoded
/// parts) or from the form body; using both at once is refused.
pub fn client_credentials(
    authorization: Option<&str>,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<(String, String), ProviderError> {
    let from_header = match authorization {
        Some(header) => {
            let encoded = header.strip_prefix("Basic ").ok_or_else(|| {
                ProviderError::InvalidClient("unsupported Authorization scheme".into())
            })?;
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ProviderError::InvalidClient("malformed Basic credentials".into())
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                ProviderError::InvalidClient("malformed Basic credentials".into())
            })?;
            let unescape = |s: &str| {
                if !s.contains(['%', '+']) {
                    return s.to_owned();
                }
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((unescape(id), unescape(secret)))
        }
        None => None,
    };
    match (from_header, client_id, client_secret) {
        (Some(_), _, Some(_)) => Err(ProviderError::InvalidRequest(
            "client credentials given both in the header and the body".into(),
        )),
        (Some(creds), _, None) => Ok(creds),
        (None, Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        _ => Err(ProviderError::InvalidClient(
            "client authentication is required".into(),
        )),
    }
}

pub async fn exchange(
    services: &Services,
    authorization: Option<&str>,
    form: TokenForm,
) -> Result<TokenResponse, ProviderError> {
    let (client_id, client_secret) = client_credentials(
        authorization,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let department = services
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
    let now = services.now();
    let row = services
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
    if !services.store.use_auth_code(&code_hash, now).await? {
        services.store.revoke_tokens_of_code(&code_hash).await?;
        tracing::warn!(client = %client_id, "authorization code replayed; tokens from it revoked");
        return Err(ProviderError::InvalidGrant(
            "the code has already been used".into(),
        ));
    }
    let identity = services
        .store
        .identity(&row.identity_id)
        .await?
        .ok_or_else(|| {
            ProviderError::InvalidGrant("the user of this code no longer exists".into())
        })?;

    // This login's session at the department, named by `sid` so that the bridge
    // can end it there later (back-channel logout), with where it came from.
    let flow = services.store.flow(&row.flow_id, now).await?;
    let sid = services.random.token(16);
    services
        .store
        .insert_session(NewSession {
            sid: &sid,
            issuer: services.config.issuer(),
            identity_id: &identity.id,
            department: &client_id,
            upstream_id: flow.as_ref().and_then(|f| f.upstream_id.as_deref()),
            upstream_session_hash: flow
                .as_ref()
                .and_then(|f| f.upstream_session_hash.as_deref()),
            upstream_name_id_hash: flow
                .as_ref()
                .and_then(|f| f.upstream_name_id_hash.as_deref()),
            now,
        })
        .await?;

    let lifetime = services.config.lifetimes.access_token;
    let access_token = services.random.token(32);
    services
        .store
        .insert_access_token(&hash_secret(&access_token), &row, now + lifetime)
        .await?;
    let mut claims = serde_json::json!({
        "iss": services.config.issuer(),
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
        id_token: services.signing_keys().await.sign(&claims, now)?,
        access_token,
        token_type: "Bearer",
        expires_in: lifetime,
        scope: row.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("eng:s%3Acret%2B1"));
        assert_eq!(
            client_credentials(Some(&header), None, None).unwrap(),
            ("eng".into(), "s:cret+1".into())
        );
    }

    #[test]
    fn post_credentials_and_conflicts() {
        assert_eq!(
            client_credentials(None, Some("eng"), Some("x")).unwrap(),
            ("eng".into(), "x".into())
        );
        let header = format!("Basic {}", STANDARD.encode("eng:x"));
        assert!(matches!(
            client_credentials(Some(&header), Some("eng"), Some("x")),
            Err(ProviderError::InvalidRequest(_))
        ));
        assert!(matches!(
            client_credentials(None, None, None),
            Err(ProviderError::InvalidClient(_))
        ));
        assert!(matches!(
            client_credentials(Some("Bearer x"), None, None),
            Err(ProviderError::InvalidClient(_))
        ));
        assert!(matches!(
            client_credentials(Some("Basic !!"), None, None),
            Err(ProviderError::InvalidClient(_))
        ));
    }
}
