//! Single logout coming from the university's IdPs: an OIDC IdP's logout token
//! (back-channel), a SAML IdP's LogoutRequest. Verified fail-closed; then the
//! sessions it names end in every department.

use crate::crypto::hash_secret;
use crate::store::{SessionFilter, SessionRow};
use crate::upstream::oidc::LogoutTokenError;
use crate::upstream::saml::{LogoutBinding, SamlError};

use super::{Cause, LogoutContext, end_sessions};

/// `POST …/upstream/oidc/{id}/backchannel-logout`: verifies the logout token
/// (signature by the IdP's keys, claims, `jti` never seen before) and ends the
/// sessions of its `sid`, or of its `sub` everywhere. Returns how many ended.
pub async fn oidc_backchannel_logout(
    ctx: &LogoutContext<'_>,
    upstream_id: &str,
    logout_token: &str,
) -> Result<usize, LogoutTokenError> {
    let result = verify_and_end(ctx, upstream_id, logout_token).await;
    match &result {
        Ok(ended) => {
            ctx.metrics.upstream_logout(upstream_id, "accepted");
            tracing::info!(upstream = %upstream_id, sessions = ended.len(), "upstream back-channel logout");
            super::delivery::deliver_promptly(ctx, ended).await;
        }
        Err(e) => {
            ctx.metrics.upstream_logout(upstream_id, e.reason());
            tracing::warn!(upstream = %upstream_id, reason = e.reason(), error = %e, "upstream logout token refused");
        }
    }
    result.map(|ended| ended.len())
}

async fn verify_and_end(
    ctx: &LogoutContext<'_>,
    upstream_id: &str,
    logout_token: &str,
) -> Result<Vec<SessionRow>, LogoutTokenError> {
    let client = ctx
        .upstreams
        .oidc(upstream_id)
        .ok_or(LogoutTokenError::Malformed("no such upstream"))?;
    let claims = client.verify_logout_token(logout_token, ctx.now()).await?;
    let fresh = ctx
        .store
        .remember_assertion(
            &format!("oidc-logout:{upstream_id}"),
            &hash_secret(&claims.jti),
            claims.remember_until,
        )
        .await
        .map_err(|e| LogoutTokenError::Unavailable(e.to_string()))?;
    if !fresh {
        return Err(LogoutTokenError::Replay);
    }
    let ended = match (&claims.sid, &claims.sub) {
        (Some(sid), _) => {
            let session_hash = hash_secret(sid);
            end_sessions(
                ctx,
                &SessionFilter::UpstreamSession {
                    upstream_id,
                    session_hash: &session_hash,
                },
                Cause::OidcLogout,
            )
            .await
        }
        (None, Some(sub)) => {
            end_sessions(
                ctx,
                &SessionFilter::Person {
                    issuer: client.issuer(),
                    subject: sub,
                },
                Cause::OidcLogout,
            )
            .await
        }
        (None, None) => return Err(LogoutTokenError::Subject),
    }
    .map_err(|e| LogoutTokenError::Unavailable(e.to_string()))?;
    Ok(ended)
}

/// `GET|POST …/upstream/saml/{id}/slo`: an IdP-initiated LogoutRequest,
/// verified (see `upstream::saml::logout`), never seen before; the sessions of
/// its NameID (narrowed to its SessionIndexes, when it names some) end in every
/// department. Returns where the browser goes next: the IdP, with our signed
/// LogoutResponse (`None`: the IdP's metadata gives no place for it).
pub async fn saml_logout(
    ctx: &LogoutContext<'_>,
    upstream_id: &str,
    binding: LogoutBinding,
) -> Result<Option<url::Url>, SamlError> {
    let result = saml_verify_and_end(ctx, upstream_id, binding).await;
    match &result {
        Ok((ended, _)) => {
            ctx.metrics.upstream_logout(upstream_id, "accepted");
            tracing::info!(upstream = %upstream_id, sessions = ended.len(), "upstream single logout");
            super::delivery::deliver_promptly(ctx, ended).await;
        }
        Err(e) => {
            ctx.metrics.upstream_logout(upstream_id, e.reason());
            tracing::warn!(upstream = %upstream_id, reason = e.reason(), error = %e, "upstream LogoutRequest refused");
        }
    }
    result.map(|(_, next)| next)
}

async fn saml_verify_and_end(
    ctx: &LogoutContext<'_>,
    upstream_id: &str,
    binding: LogoutBinding,
) -> Result<(Vec<SessionRow>, Option<url::Url>), SamlError> {
    let idp = ctx
        .upstreams
        .saml(upstream_id)
        .ok_or(SamlError::Unsolicited)?;
    let now = chrono::DateTime::from_timestamp(ctx.now(), 0).unwrap_or_default();
    let request = idp.verify_logout_request(binding, now).await?;
    let store_error = |e: crate::store::StoreError| SamlError::Rejected {
        reason: "database",
        detail: e.to_string(),
    };
    let fresh = ctx
        .store
        .remember_assertion(
            &format!("saml-logout:{upstream_id}"),
            &hash_secret(&request.id),
            request.remember_until,
        )
        .await
        .map_err(store_error)?;
    if !fresh {
        return Err(SamlError::Replay);
    }
    let name_id_hash = hash_secret(&request.name_id);
    let indexes: Vec<String> = request
        .session_indexes
        .iter()
        .map(|i| hash_secret(i))
        .collect();
    let named = ctx
        .store
        .sessions(
            &SessionFilter::UpstreamNameId {
                upstream_id,
                name_id_hash: &name_id_hash,
            },
            false,
        )
        .await
        .map_err(store_error)?;
    let mut ended = Vec::new();
    for session in named.iter().filter(|s| {
        indexes.is_empty()
            || s.upstream_session_hash
                .as_ref()
                .is_some_and(|h| indexes.contains(h))
    }) {
        ended.extend(
            end_sessions(ctx, &SessionFilter::Sid(&session.sid), Cause::SamlLogout)
                .await
                .map_err(store_error)?,
        );
    }
    let next = idp
        .logout_response_url(&request, &format!("_{}", ctx.random.id()), now)
        .await?;
    Ok((ended, next))
}
