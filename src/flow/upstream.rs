//! Handing the user to the department's identity provider (OIDC or SAML2), and
//! taking them back: verify, check membership, map the identity.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use super::FlowContext;
use super::{BrowserSecret, FlowError, FlowState, Next, Origin};
use crate::config::Department;
use crate::crypto::hash_secret;
use crate::identity::{UpstreamIdentity, resolve_identity};
use crate::provider::authorize::AuthorizeRequest;
use crate::store::FlowRow;
use crate::upstream::UpstreamClient;
use crate::upstream::oidc::UpstreamRequestSecrets;
use crate::upstream::saml::{self, Prechecked, SamlError, VerifiedAssertion};

/// Binds a fresh upstream request to the flow and returns the IdP's login URL.
/// The flow is found again by the hash of the OIDC `state` or of the SAML request ID.
pub(super) async fn begin(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow_id: &str,
    department: &Department,
    login_hint: Option<&str>,
) -> Result<Url, FlowError> {
    ctx.note_department(&department.id);
    let upstream = ctx
        .upstreams
        .get(&department.upstream)
        .ok_or_else(|| FlowError::UnknownDepartment(department.id.clone()))?;
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
    let flow_id = super::start::new_client_flow(ctx, &browser, landing.as_str()).await?;
    let now = ctx.now();
    let correlation = ctx.random.token(32);
    ctx.store
        .flow_to_upstream(
            &flow_id,
            &department.id,
            upstream_id,
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
) -> Result<(FlowRow, &'b BrowserSecret), FlowError> {
    let flow = ctx
        .store
        .flow_by_upstream_state(&hash_secret(correlation), ctx.now())
        .await?
        .ok_or(FlowError::Expired)?;
    if let Some(department) = &flow.department {
        ctx.note_department(department);
    }
    let browser = browser.ok_or(FlowError::NoBrowserSession)?;
    if flow.browser_hash != browser.hash() {
        return Err(FlowError::WrongBrowser);
    }
    if flow.state != FlowState::Upstream || flow.upstream_id.as_deref() != Some(upstream_id) {
        return Err(FlowError::OutOfOrder);
    }
    Ok((flow, browser))
}

/// A failed check ends the flow (the user starts again); success moves it on.
async fn finish(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow: &FlowRow,
    result: Result<String, FlowError>,
) -> Result<Next, FlowError> {
    match result {
        Ok(identity_id) => after_authentication(ctx, browser, flow, &identity_id).await,
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
fn restart_url(ctx: &FlowContext<'_>, flow: &FlowRow) -> Option<String> {
    let redirect = flow.redirect_url.as_deref()?;
    let mut url = ctx.config.url(&crate::routes::login_start());
    url.query_pairs_mut().append_pair("redirectUrl", redirect);
    Some(url.into())
}

async fn redeem_oidc(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    upstream_id: &str,
    flow: &FlowRow,
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

/// Whatever the protocol: membership of the flow's department, then the identity.
async fn admit(
    ctx: &FlowContext<'_>,
    flow: &FlowRow,
    upstream: UpstreamIdentity,
) -> Result<String, FlowError> {
    let department = flow
        .department
        .as_deref()
        .and_then(|d| ctx.config.department(d))
        .ok_or_else(|| FlowError::UnknownDepartment(flow.department.clone().unwrap_or_default()))?;
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
    if !ctx
        .store
        .authenticate_flow(
            &flow.id,
            &identity.id,
            session.id.as_deref().map(hash_secret).as_deref(),
            session.name_id.as_deref().map(hash_secret).as_deref(),
            ctx.now(),
        )
        .await?
    {
        return Err(FlowError::OutOfOrder);
    }
    tracing::info!(flow = %flow.id, department = %department.id, identity = %identity.id, "upstream login verified");
    Ok(identity.id)
}

/// A client's flow goes to the department's homeserver, which will come to our
/// `authorize`; a homeserver's own flow resumes its pending `authorize` at once.
async fn after_authentication(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow: &FlowRow,
    identity_id: &str,
) -> Result<Next, FlowError> {
    if flow.origin == Origin::Homeserver {
        let sealed = flow
            .pending_authorize
            .as_deref()
            .ok_or(FlowError::OutOfOrder)?;
        let request: AuthorizeRequest = browser
            .sealer(&flow.id)
            .open(sealed)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(FlowError::WrongBrowser)?;
        return super::authorize::issue(ctx, flow, &request, identity_id).await;
    }
    hand_to_homeserver(ctx, flow).await
}

/// A client's flow, authenticated, goes to its department's homeserver (if it answers).
pub(super) async fn hand_to_homeserver(
    ctx: &FlowContext<'_>,
    flow: &FlowRow,
) -> Result<Next, FlowError> {
    let department = flow
        .department
        .as_deref()
        .and_then(|d| ctx.config.department(d))
        .ok_or(FlowError::OutOfOrder)?;
    super::resume::ensure_homeserver_up(ctx, department, &flow.id).await?;
    Ok(Next::Redirect(homeserver_sso_url(
        ctx, department, &flow.id,
    )))
}

/// The department homeserver's own SSO start, pointed at the bridge's
/// provider, coming back to the bridge's completion URL.
fn homeserver_sso_url(ctx: &FlowContext<'_>, department: &Department, flow_id: &str) -> Url {
    let mut url = department.homeserver.base_url.clone();
    let idp = format!("oidc-{}", ctx.config.homeserver_provider.idp_id);
    url.set_path(&format!(
        "{}_matrix/client/v3/login/sso/redirect/{idp}",
        department.homeserver.base_url.path()
    ));
    let mut complete = ctx.config.url(crate::routes::COMPLETE);
    complete.query_pairs_mut().append_pair("flow", flow_id);
    url.query_pairs_mut()
        .append_pair("redirectUrl", complete.as_str());
    url
}
