//! `userinfo`: the same claims as the id_token, for a bearer access token.

use super::{Provider, ProviderError};
use crate::crypto::hash_secret;

pub async fn userinfo(
    op: &Provider<'_>,
    authorization: Option<&str>,
) -> Result<serde_json::Value, ProviderError> {
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ProviderError::InvalidToken("a Bearer access token is required".into()))?;
    let row = op
        .store
        .access_token(&hash_secret(token), op.now())
        .await?
        .ok_or_else(|| ProviderError::InvalidToken("unknown or expired access token".into()))?;
    let identity = op
        .store
        .identity(&row.identity_id)
        .await?
        .ok_or_else(|| ProviderError::InvalidToken("the user no longer exists".into()))?;
    let mut claims = serde_json::json!({
        "sub": identity.id,
        "preferred_username": identity.localpart,
    });
    if let Some(name) = identity.display_name {
        claims["name"] = name.into();
    }
    Ok(claims)
}
