//! The department's identity provider answers (OIDC callback, SAML ACS):
//! verify, check membership, map the identity, then hand over.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::handover::after_authentication;
use super::record::new_client_flow;
use super::{BrowserSecret, FlowContext, FlowError, FlowState, Next};
use crate::crypto::hash_secret;
use crate::identity::{UpstreamIdentity, resolve_identity};
use crate::ids::IdentityId;
use crate::store::{Flow, Login, Origin};
use crate::upstream::oidc::UpstreamRequestSecrets;
use crate::upstream::saml::{self, Prechecked, SamlError, VerifiedAssertion};

/// What the IdP sent back to the OIDC callback.
pub struct CallbackParams<'a> {
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    /// RFC 9207 `iss`, when the IdP sends it.
    pub iss: Option<&'a str>,
}

/// The OIDC callback: the flow is found by the hash of `state` and must belong to
/// this browser; then the code is redeemed and the user admitted.
pub async fn oidc_callback(
    ctx: &FlowContext<'_>,
    browser: Option<&BrowserSecret>,
    upstream_id: &str,
    params: CallbackParams<'_>,
) -> Result<Next, FlowError> {
    let upstream_state = params
        .state
        .filter(|s| !s.is_empty())
        .ok_or(FlowError::Expired)?;
    let (flow, browser) = returning_flow(ctx, browser, upstream_id, upstream_state).await?;
    let result = async {
        let identity = redeem_oidc(ctx, browser, upstream_id, &flow, &params).await?;
        admit(ctx, &flow, identity).await
    }
    .await;
    finish(ctx, browser, &flow, result).await
}

/// The SAML ACS (HTTP-POST binding): structural checks, the flow by the hash of
/// InResponseTo, full verification, replay cache, then the user is admitted.
/// An IdP-initiated response (no InResponseTo) starts a flow of its own when the
/// IdP allows it; the browser secret it needs is returned to be set as a cookie.
pub async fn saml_acs(
    ctx: &FlowContext<'_>,
    browser: Option<&BrowserSecret>,
    upstream_id: &str,
    saml_response: &str,
    relay_state: Option<&str>,
) -> Result<(Next, Option<BrowserSecret>), FlowError> {
    let compact: String = saml_response
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let xml = STANDARD
        .decode(compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(FlowError::Saml(SamlError::NotBase64))?;
    let (xml, prechecked) = saml::precheck(xml).await?;
    let Some(request_id) = prechecked.in_response_to.clone() else {
        return unsolicited(ctx, browser, upstream_id, xml, prechecked, relay_state).await;
    };
    let (flow, browser) = returning_flow(ctx, browser, upstream_id, &request_id).await?;
    let result = async {
        let idp = ctx
            .upstreams
            .saml(upstream_id)
            .ok_or(FlowError::OutOfOrder)?;
        let verified = idp
            .verify(xml, prechecked, request_id, ctx.clock.now())
            .await?;
        remember(ctx, upstream_id, &verified).await?;
        admit(ctx, &flow, verified.identity).await
    }
    .await;
    Ok((finish(ctx, browser, &flow, result).await?, None))
}

/// The replay cache, written only for verified assertions.
async fn remember(
    ctx: &FlowContext<'_>,
    upstream_id: &str,
    verified: &VerifiedAssertion,
) -> Result<(), FlowError> {
    if ctx
        .store
        .remember_assertion(upstream_id, &verified.assertion_id, verified.expires_at)
        .await?
    {
        Ok(())
    } else {
        Err(FlowError::Saml(SamlError::Replay))
    }
}

/// An IdP-initiated login: verified like any other (but with no request to match),
/// then a new flow for the department named by RelayState, or else the first
/// department behind this IdP that admits the user, landing at the configured client.
async fn unsolicited(
    ctx: &FlowContext<'_>,
    browser: Option<&BrowserSecret>,
    upstream_id: &str,
    xml: String,
    prechecked: Prechecked,
    relay_state: Option<&str>,
) -> Result<(Next, Option<BrowserSecret>), FlowError> {
    let idp = ctx
        .upstreams
        .saml(upstream_id)
        .ok_or(FlowError::OutOfOrder)?;
    let landing = idp
        .unsolicited_redirect_url()
        .cloned()
        .ok_or(FlowError::Saml(SamlError::Unsolicited))?;
    let verified = idp
        .verify_unsolicited(xml, prechecked, ctx.clock.now())
        .await?;
    remember(ctx, upstream_id, &verified).await?;
    let behind_this_idp = |d: &&crate::config::Department| d.upstream == upstream_id;
    let named = relay_state
        .and_then(|id| ctx.config.department(id))
        .filter(behind_this_idp);
    let department = named
        .or_else(|| {
            ctx.config
                .departments
                .iter()
                .filter(behind_this_idp)
                .find(|d| d.membership.admits(&verified.identity.claims))
        })
        .ok_or_else(|| FlowError::NotAMember {
            department: None,
            rule: "no department behind this IdP admits the user".into(),
        })?;
    let (browser, fresh) = match browser {
        Some(b) => (b.clone(), None),
        None => {
            let b = BrowserSecret::generate(ctx.random);
            (b.clone(), Some(b))
        }
    };
    let flow_id = new_client_flow(ctx, &browser, landing.as_str()).await?;
    let now = ctx.now();
    let correlation = ctx.random.token(32);
    ctx.store
        .flow_to_upstream(
            &flow_id,
            &department.id,
            &department.upstream,
            &hash_secret(&correlation),
            now,
        )
        .await?;
    let flow = ctx
        .store
        .flow(&flow_id, now)
        .await?
        .ok_or(FlowError::Expired)?;
    tracing::info!(flow = %flow_id, department = %department.id, "IdP-initiated login accepted");
    let result = admit(ctx, &flow, verified.identity).await;
    Ok((finish(ctx, &browser, &flow, result).await?, fresh))
}

/// The flow an upstream answer belongs to, checked against this browser and step.
async fn returning_flow<'b>(
    ctx: &FlowContext<'_>,
    browser: Option<&'b BrowserSecret>,
    upstream_id: &str,
    correlation: &str,
) -> Result<(Flow, &'b BrowserSecret), FlowError> {
    let flow = ctx
        .store
        .flow_by_upstream_state(&hash_secret(correlation), ctx.now())
        .await?
        .ok_or(FlowError::Expired)?;
    if let Some(department) = flow.state.department() {
        ctx.note_department(department);
    }
    let browser = browser.ok_or(FlowError::NoBrowserSession)?;
    if flow.browser_hash != browser.hash() {
        return Err(FlowError::WrongBrowser);
    }
    match &flow.state {
        FlowState::Upstream { upstream, .. } if upstream == upstream_id => Ok((flow, browser)),
        _ => Err(FlowError::OutOfOrder),
    }
}

/// A failed check ends the flow (the user starts again); success moves it on.
async fn finish(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow: &Flow,
    result: Result<Login, FlowError>,
) -> Result<Next, FlowError> {
    match result {
        Ok(login) => after_authentication(ctx, browser, flow, &login).await,
        // Not judged, only not yet: the flow stays, so the same POST may come again.
        Err(e @ FlowError::Saml(SamlError::Busy | SamlError::NoMetadata)) => Err(e),
        Err(e) => {
            ctx.store.fail_flow(&flow.id, e.reason(), ctx.now()).await?;
            Err(e.ended(restart_url(ctx, flow)))
        }
    }
}

/// Where "Start again" leads once a login has ended: a new login for the same
/// client (its `redirectUrl`), at the picker.
fn restart_url(ctx: &FlowContext<'_>, flow: &Flow) -> Option<String> {
    let Origin::Client {
        redirect_url: redirect,
    } = &flow.origin
    else {
        return None;
    };
    let mut url = ctx.config.url(&crate::routes::login_start());
    url.query_pairs_mut().append_pair("redirectUrl", redirect);
    Some(url.into())
}

async fn redeem_oidc(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    upstream_id: &str,
    flow: &Flow,
    params: &CallbackParams<'_>,
) -> Result<UpstreamIdentity, FlowError> {
    let client = ctx
        .upstreams
        .oidc(upstream_id)
        .ok_or(FlowError::OutOfOrder)?;
    if let Some(error) = params.error {
        return Err(FlowError::UpstreamDenied(format!(
            "{error}{}",
            params
                .error_description
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )));
    }
    client.check_response_issuer(params.iss).await?;
    let code = params.code.filter(|c| !c.is_empty()).ok_or_else(|| {
        FlowError::UpstreamDenied("the identity provider returned no code".into())
    })?;
    let nonce = browser.nonce(&flow.id);
    let verifier = browser.pkce_verifier(&flow.id);
    let secrets = UpstreamRequestSecrets {
        state: "",
        nonce: &nonce,
        pkce_verifier: &verifier,
    };
    Ok(client.redeem(code, &secrets).await?)
}

/// Whatever the protocol: membership of the flow's department, then the
/// identity; the flow moves on to `authenticated` with it.
async fn admit(
    ctx: &FlowContext<'_>,
    flow: &Flow,
    upstream: UpstreamIdentity,
) -> Result<Login, FlowError> {
    let FlowState::Upstream {
        department: department_id,
        upstream: upstream_id,
    } = &flow.state
    else {
        return Err(FlowError::OutOfOrder);
    };
    let department = ctx
        .config
        .department(department_id)
        .ok_or_else(|| FlowError::UnknownDepartment(department_id.to_string()))?;
    if !department.membership.admits(&upstream.claims) {
        tracing::warn!(
            flow = %flow.id,
            department = %department.id,
            issuer = %upstream.issuer,
            subject = %upstream.subject,
            rule = %department.membership.describe(),
            "upstream user is not a member of the department"
        );
        return Err(FlowError::NotAMember {
            department: Some(department.id.clone()),
            rule: department.membership.describe(),
        });
    }
    let identity =
        resolve_identity(ctx.store, ctx.random, ctx.now(), department, &upstream).await?;
    let session = &upstream.session;
    let login = Login {
        department: department.id.clone(),
        upstream: upstream_id.clone(),
        identity: IdentityId::from(identity.id),
        upstream_session_hash: session.id.as_deref().map(hash_secret),
        upstream_name_id_hash: session.name_id.as_deref().map(hash_secret),
    };
    if !ctx
        .store
        .authenticate_flow(
            &flow.id,
            &login.identity,
            login.upstream_session_hash.as_deref(),
            login.upstream_name_id_hash.as_deref(),
            ctx.now(),
        )
        .await?
    {
        return Err(FlowError::OutOfOrder);
    }
    tracing::info!(flow = %flow.id, department = %department.id, identity = %login.identity, "upstream login verified");
    Ok(login)
}
