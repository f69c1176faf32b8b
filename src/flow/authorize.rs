//! A department homeserver at the bridge's `authorize`: hand it a code for the
//! user this browser just authenticated, or run the upstream login first.

use super::handover::issue;
use super::to_upstream::begin;
use super::{BrowserSecret, FlowContext, FlowError, FlowState, Next};
use crate::ids::FlowId;
use crate::provider::authorize::AuthorizeQuery;
use crate::store::{NewFlow, Origin};

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
        let FlowState::Authenticated(login) = &flow.state else {
            return Err(FlowError::OutOfOrder);
        };
        return issue(ctx, &flow, &request, login).await;
    }
    if request.prompt_none {
        return Err(request.login_required().into());
    }
    // The user opened the department's homeserver directly: no picker, the
    // department is known; the request waits in the flow, sealed for this browser.
    let flow_id = FlowId::new(ctx.random.id());
    let pending_authorize = browser.sealer(&flow_id).seal(
        ctx.random,
        &serde_json::to_vec(&request).map_err(|_| FlowError::OutOfOrder)?,
    );
    ctx.store
        .insert_flow(NewFlow {
            id: &flow_id,
            browser_hash: &browser.hash(),
            origin: &Origin::Homeserver { pending_authorize },
            department: Some(&department.id),
            now,
            expires_at: now + ctx.config.lifetimes.flow,
        })
        .await?;
    ctx.metrics.login_started(Some(&department.id));
    tracing::info!(flow = %flow_id, department = %department.id, "login started at the department's homeserver");
    Ok(Next::Redirect(
        begin(ctx, browser, &flow_id, department, None).await?,
    ))
}
