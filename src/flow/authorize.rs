//! A department homeserver at the bridge's `authorize`: hand it a code for the
//! user this browser just authenticated, or run the upstream login first.

use super::FlowContext;
use super::{BrowserSecret, FlowError, FlowState, Next, Origin, upstream};
use crate::provider::authorize::{AuthorizeQuery, AuthorizeRequest};
use crate::store::{FlowRow, NewFlow};

pub async fn authorize(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    query: AuthorizeQuery,
) -> Result<Next, FlowError> {
    let (request, department) = query.validate(ctx.config)?;
    let now = ctx.now();
    if let Some(flow) = ctx
        .store
        .authenticated_flow_for(&browser.hash(), &department.id, now)
        .await?
    {
        let identity_id = flow.identity_id.clone().ok_or(FlowError::OutOfOrder)?;
        return issue(ctx, &flow, &request, &identity_id).await;
    }
    if request.prompt_none {
        return Err(request.login_required().into());
    }
    // The user opened the department's homeserver directly: no picker, the
    // department is known; the request waits sealed in the flow.
    let flow_id = ctx.random.id();
    ctx.store
        .insert_flow(NewFlow {
            id: &flow_id,
            browser_hash: &browser.hash(),
            origin: Origin::Homeserver,
            redirect_url: None,
            department: Some(&department.id),
            state: FlowState::Started,
            now,
            expires_at: now + ctx.config.lifetimes.flow,
        })
        .await?;
    let sealed = browser.sealer(&flow_id).seal(
        ctx.random,
        &serde_json::to_vec(&request).map_err(|_| FlowError::OutOfOrder)?,
    );
    ctx.store.set_pending_authorize(&flow_id, &sealed).await?;
    ctx.metrics.login_started(Some(&department.id));
    tracing::info!(flow = %flow_id, department = %department.id, "login started at the department's homeserver");
    Ok(Next::Redirect(
        upstream::begin(ctx, browser, &flow_id, department, None).await?,
    ))
}

/// Issues the code and moves the flow on; the flow may be used for one code only.
pub(super) async fn issue(
    ctx: &FlowContext<'_>,
    flow: &FlowRow,
    request: &AuthorizeRequest,
    identity_id: &str,
) -> Result<Next, FlowError> {
    let now = ctx.now();
    if !ctx
        .store
        .advance_flow(
            &flow.id,
            FlowState::Authenticated,
            FlowState::Authorized,
            None,
            now,
        )
        .await?
    {
        return Err(FlowError::OutOfOrder);
    }
    let url = request
        .issue_code(
            ctx.config,
            ctx.store,
            ctx.random,
            ctx.now(),
            identity_id,
            &flow.id,
        )
        .await?;
    if flow.origin == Origin::Homeserver {
        // The homeserver sends the user to its own client; nothing comes back here.
        ctx.store.complete_flow(&flow.id, now).await?;
        ctx.metrics
            .login_completed(&request.client_id, now - flow.created_at);
    }
    tracing::info!(flow = %flow.id, client = %request.client_id, "authorization code issued");
    Ok(Next::Redirect(url))
}
