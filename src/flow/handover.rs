//! After the IdP vouched for the user: a code for the department's
//! homeserver, either at once (the homeserver's own login, whose `authorize`
//! waited) or when the homeserver comes to `authorize` (a client's login,
//! sent to the homeserver first).

use url::Url;

use super::readiness::ensure_homeserver_up;
use super::{BrowserSecret, FlowContext, FlowError, Next};
use crate::config::Department;
use crate::ids::FlowId;
use crate::provider::authorize::AuthorizeRequest;
use crate::store::{Flow, Login, Origin};

/// Just authenticated: a homeserver's own login resumes its pending
/// `authorize` at once; a client's goes to the department's homeserver.
pub(super) async fn after_authentication(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow: &Flow,
    login: &Login,
) -> Result<Next, FlowError> {
    match &flow.origin {
        Origin::Homeserver { pending_authorize } => {
            let request: AuthorizeRequest = browser
                .sealer(&flow.id)
                .open(pending_authorize)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .ok_or(FlowError::WrongBrowser)?;
            issue(ctx, flow, &request, login).await
        }
        Origin::Client { .. } => hand_to_homeserver(ctx, &flow.id, login).await,
    }
}

/// Issues the code and moves the flow on; the flow may be used for one code only.
pub(super) async fn issue(
    ctx: &FlowContext<'_>,
    flow: &Flow,
    request: &AuthorizeRequest,
    login: &Login,
) -> Result<Next, FlowError> {
    let now = ctx.now();
    if !ctx.store.authorize_flow(&flow.id, now).await? {
        return Err(FlowError::OutOfOrder);
    }
    let url = request
        .issue_code(
            ctx.config,
            ctx.store,
            ctx.random,
            now,
            &login.identity,
            &flow.id,
        )
        .await?;
    if matches!(flow.origin, Origin::Homeserver { .. }) {
        // The homeserver sends the user to its own client; nothing comes back here.
        ctx.store.complete_flow(&flow.id, now).await?;
        ctx.metrics
            .login_completed(&request.client_id, now - flow.created_at);
    }
    tracing::info!(flow = %flow.id, client = %request.client_id, "authorization code issued");
    Ok(Next::Redirect(url))
}

/// A client's login, authenticated, goes to its department's homeserver (if
/// it answers), which will come to the bridge's `authorize`.
pub(super) async fn hand_to_homeserver(
    ctx: &FlowContext<'_>,
    flow_id: &FlowId,
    login: &Login,
) -> Result<Next, FlowError> {
    let department = ctx
        .config
        .department(&login.department)
        .ok_or(FlowError::OutOfOrder)?;
    ensure_homeserver_up(ctx, department, flow_id).await?;
    Ok(Next::Redirect(homeserver_sso_url(ctx, department, flow_id)))
}

/// The department homeserver's own SSO start, pointed at the bridge's
/// provider, coming back to the bridge's completion URL.
fn homeserver_sso_url(ctx: &FlowContext<'_>, department: &Department, flow_id: &FlowId) -> Url {
    let mut url = department.homeserver.base_url.clone();
    let idp = format!("oidc-{}", ctx.config.homeserver_provider.idp_id);
    url.set_path(&format!(
        "{}{}",
        department.homeserver.base_url.path(),
        crate::routes::sso_redirect_to("v3", &idp).trim_start_matches('/')
    ));
    let mut complete = ctx.config.url(crate::routes::COMPLETE);
    complete
        .query_pairs_mut()
        .append_pair("flow", flow_id.as_str());
    url.query_pairs_mut()
        .append_pair("redirectUrl", complete.as_str());
    url
}
