//! Logout Tokens from an upstream OIDC IdP (OpenID Connect Back-Channel Logout
//! 1.0 §2.4, §2.6). The shape is checked before any cryptography: size, three
//! base64url parts, a header naming only `alg`, `kid` and `typ` (never keys or
//! key URLs: keys come from the IdP's discovery only), an algorithm the IdP
//! signs id_tokens with and that is asymmetric. Then the signature with the
//! IdP's JWKS, then the claims.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKeyUse, CoreJwsSigningAlgorithm};
use serde_json::{Map, Value};

use super::OidcClient;

pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Longer than any logout token an IdP sends (a few hundred bytes to 2 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// How old a logout token may be (its `iat`), and how far ahead a clock may run.
const MAX_AGE_SECONDS: i64 = 300;
const SKEW_SECONDS: i64 = 60;
/// Longer than any sid, sub or jti an IdP uses.
const MAX_CLAIM_CHARS: usize = 255;

/// What a verified logout token says.
#[derive(Debug, Clone)]
pub struct LogoutClaims {
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub jti: String,
    /// Until when its `jti` must be remembered (no later token with it is fresh).
    pub remember_until: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LogoutTokenError {
    #[error("the logout token is not a compact JWS of the accepted shape: {0}")]
    Malformed(&'static str),
    #[error("the logout token's algorithm is not one the IdP signs with, or is not asymmetric")]
    Algorithm,
    #[error("the logout token's signature does not verify with the IdP's keys")]
    Signature,
    #[error("the logout token names another issuer")]
    Issuer,
    #[error("the logout token is for another audience")]
    Audience,
    #[error("the logout token's iat is missing, too old or in the future")]
    IssuedAt,
    #[error("the logout token has expired")]
    Expired,
    #[error("the logout token has no back-channel logout event")]
    Events,
    #[error("the logout token carries a nonce")]
    Nonce,
    #[error("the logout token names neither a session (sid) nor a user (sub)")]
    Subject,
    #[error("the logout token has no usable jti")]
    Jti,
    #[error("the logout token was seen before (replay)")]
    Replay,
    #[error("the IdP's keys cannot be read: {0}")]
    Unavailable(String),
}

impl LogoutTokenError {
    /// The label of logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Algorithm => "algorithm",
            Self::Signature => "signature",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::IssuedAt => "iat",
            Self::Expired => "expired",
            Self::Events => "events",
            Self::Nonce => "nonce",
            Self::Subject => "no_sid_or_sub",
            Self::Jti => "jti",
            Self::Replay => "replay",
            Self::Unavailable(_) => "keys_unavailable",
        }
    }
}

/// The parts of a logout token whose shape passed, ready for the signature check.
struct Shaped<'a> {
    signing_input: &'a str,
    algorithm: CoreJwsSigningAlgorithm,
    kid: Option<String>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

fn shape(token: &str) -> Result<Shaped<'_>, LogoutTokenError> {
    use LogoutTokenError::Malformed;
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Malformed("longer than 8 KiB"));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Malformed("characters outside base64url"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed(
            "not three parts (an encrypted or unsigned token?)",
        ));
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| Malformed("bad base64url"))
    };
    let header: Map<String, Value> = serde_json::from_slice(&decode(header)?)
        .map_err(|_| Malformed("header is not a JSON object"))?;
    // jku, x5u, jwk, x5c, crit, …: never followed, never trusted.
    if header
        .keys()
        .any(|name| !matches!(name.as_str(), "alg" | "kid" | "typ"))
    {
        return Err(Malformed("header has fields other than alg, kid and typ"));
    }
    if let Some(typ) = header.get("typ")
        && !matches!(typ.as_str(), Some("JWT" | "logout+jwt"))
    {
        return Err(Malformed("typ is neither JWT nor logout+jwt"));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= MAX_CLAIM_CHARS => Some(kid.clone()),
        Some(_) => return Err(Malformed("kid is not a short string")),
    };
    let algorithm = header
        .get("alg")
        .cloned()
        .and_then(|alg| serde_json::from_value::<CoreJwsSigningAlgorithm>(alg).ok())
        .ok_or(LogoutTokenError::Algorithm)?;
    if matches!(
        algorithm,
        CoreJwsSigningAlgorithm::None
            | CoreJwsSigningAlgorithm::HmacSha256
            | CoreJwsSigningAlgorithm::HmacSha384
            | CoreJwsSigningAlgorithm::HmacSha512
    ) {
        return Err(LogoutTokenError::Algorithm);
    }
    let signing_input_len = token.len() - signature.len() - 1;
    Ok(Shaped {
        signing_input: &token[..signing_input_len],
        algorithm,
        kid,
        payload: decode(payload)?,
        signature: decode(signature)?,
    })
}

impl OidcClient {
    /// Verifies a logout token from this IdP (all but the `jti` replay check,
    /// which needs the database: the caller's).
    pub async fn verify_logout_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<LogoutClaims, LogoutTokenError> {
        let shaped = shape(token)?;
        let mut refreshed = false;
        loop {
            let metadata = self
                .metadata()
                .await
                .map_err(|e| LogoutTokenError::Unavailable(e.to_string()))?;
            let advertised = metadata
                .id_token_signing_alg_values_supported()
                .contains(&shaped.algorithm);
            if !advertised {
                return Err(LogoutTokenError::Algorithm);
            }
            let candidates: Vec<_> = metadata
                .jwks()
                .keys()
                .iter()
                .filter(|key| {
                    shaped
                        .kid
                        .as_deref()
                        .is_none_or(|kid| key.key_id().is_some_and(|k| **k == *kid))
                })
                .filter(|key| {
                    key.key_use()
                        .is_none_or(|u| *u == CoreJsonWebKeyUse::Signature)
                })
                .collect();
            let verified = candidates.iter().any(|key| {
                key.verify_signature(
                    &shaped.algorithm,
                    shaped.signing_input.as_bytes(),
                    &shaped.signature,
                )
                .is_ok()
            });
            if verified {
                break;
            }
            // An unknown kid may be a key the IdP rotated in: re-read its keys once.
            if candidates.is_empty() && !refreshed {
                self.forget_metadata().await;
                refreshed = true;
                continue;
            }
            return Err(LogoutTokenError::Signature);
        }
        self.logout_claims(&shaped.payload, now)
    }

    fn logout_claims(&self, payload: &[u8], now: i64) -> Result<LogoutClaims, LogoutTokenError> {
        let claims: Map<String, Value> = serde_json::from_slice(payload)
            .map_err(|_| LogoutTokenError::Malformed("payload is not a JSON object"))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer()) {
            return Err(LogoutTokenError::Issuer);
        }
        let client_id = self.config.client_id.as_str();
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == client_id,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
            _ => false,
        };
        if !audience_ok {
            return Err(LogoutTokenError::Audience);
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or(LogoutTokenError::IssuedAt)?;
        if iat < now - MAX_AGE_SECONDS || iat > now + SKEW_SECONDS {
            return Err(LogoutTokenError::IssuedAt);
        }
        if let Some(exp) = claims.get("exp") {
            match exp.as_i64() {
                Some(exp) if exp + SKEW_SECONDS >= now => {}
                _ => return Err(LogoutTokenError::Expired),
            }
        }
        let event = claims
            .get("events")
            .and_then(Value::as_object)
            .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
        if !event.is_some_and(Value::is_object) {
            return Err(LogoutTokenError::Events);
        }
        if claims.contains_key("nonce") {
            return Err(LogoutTokenError::Nonce);
        }
        let text = |name: &str| -> Result<Option<String>, LogoutTokenError> {
            match claims.get(name) {
                None => Ok(None),
                Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_CLAIM_CHARS => {
                    Ok(Some(s.clone()))
                }
                Some(_) => Err(LogoutTokenError::Malformed(
                    "sid, sub or jti is not a short string",
                )),
            }
        };
        let sid = text("sid")?;
        let sub = text("sub")?;
        if sid.is_none() && sub.is_none() {
            return Err(LogoutTokenError::Subject);
        }
        let jti = text("jti")?.ok_or(LogoutTokenError::Jti)?;
        Ok(LogoutClaims {
            sid,
            sub,
            jti,
            remember_until: iat + MAX_AGE_SECONDS + SKEW_SECONDS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn the_shape_is_refused_before_any_key_is_looked_at() {
        let payload = b64("{}");
        for (header, why) in [
            (r#"{"alg":"none"}"#, "alg none"),
            (r#"{"alg":"HS256"}"#, "symmetric"),
            (
                r#"{"alg":"RS256","jku":"http://127.0.0.1:9/keys"}"#,
                "a key URL",
            ),
            (r#"{"alg":"RS256","jwk":{"kty":"RSA"}}"#, "an embedded key"),
            (r#"{"alg":"RS256","typ":"at+jwt"}"#, "another token type"),
            (r#"["RS256"]"#, "not an object"),
        ] {
            let token = format!("{}.{payload}.c2ln", b64(header));
            assert!(shape(&token).is_err(), "{why} must be refused");
        }
        assert!(shape(&format!("{}.{payload}", b64(r#"{"alg":"RS256"}"#))).is_err());
        assert!(shape(&"a".repeat(MAX_TOKEN_BYTES + 1)).is_err());
        assert!(
            shape(&format!(
                "{}.{payload}.c2ln",
                b64(r#"{"alg":"RS256","kid":"k","typ":"logout+jwt"}"#)
            ))
            .is_ok()
        );
    }
}
