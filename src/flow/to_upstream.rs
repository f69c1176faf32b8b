//! Handing the user to the department's identity provider (OIDC or SAML2).

use url::Url;

use super::readiness::{ensure_homeserver_up, ensure_idp_up};
use super::{BrowserSecret, FlowContext, FlowError, Next};
use crate::config::Department;
use crate::crypto::hash_secret;
use crate::ids::FlowId;
use crate::upstream::UpstreamClient;
use crate::upstream::oidc::UpstreamRequestSecrets;

/// Sends a stored flow to its department's IdP, once its homeserver answers.
pub(super) async fn go_upstream(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow_id: &FlowId,
    department: &Department,
    login_hint: Option<&str>,
) -> Result<Next, FlowError> {
    ensure_homeserver_up(ctx, department, flow_id).await?;
    ensure_idp_up(ctx, department, flow_id).await?;
    Ok(Next::Redirect(
        begin(ctx, browser, flow_id, department, login_hint).await?,
    ))
}

/// Binds a fresh upstream request to the flow and returns the IdP's login URL.
/// The flow is found again by the hash of the OIDC `state` or of the SAML request ID.
pub(super) async fn begin(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow_id: &FlowId,
    department: &Department,
    login_hint: Option<&str>,
) -> Result<Url, FlowError> {
    ctx.note_department(&department.id);
    let upstream = ctx
        .upstreams
        .get(&department.upstream)
        .ok_or_else(|| FlowError::UnknownDepartment(department.id.to_string()))?;
    let correlation = match upstream {
        UpstreamClient::Oidc(_) => ctx.random.token(32),
        // An xsd:ID must not start with a digit.
        UpstreamClient::Saml(_) => format!("_{}", ctx.random.id()),
    };
    let advanced = ctx
        .store
        .flow_to_upstream(
            flow_id,
            &department.id,
            &department.upstream,
            &hash_secret(&correlation),
            ctx.now(),
        )
        .await?;
    if !advanced {
        return Err(FlowError::OutOfOrder);
    }
    let mut url = match upstream {
        UpstreamClient::Oidc(client) => {
            let nonce = browser.nonce(flow_id);
            let verifier = browser.pkce_verifier(flow_id);
            let secrets = UpstreamRequestSecrets {
                state: &correlation,
                nonce: &nonce,
                pkce_verifier: &verifier,
            };
            client.authorization_url(&secrets, login_hint).await?
        }
        UpstreamClient::Saml(idp) => idp.authn_request_url(&correlation, flow_id).await?,
    };
    // Added after a SAML signature, which covers only the protocol parameters.
    if !department.upstream_params.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(&department.upstream_params);
    }
    Ok(url)
}
