//! A department homeserver at the bridge's `authorize`: hand it a code for the
//! user this browser just authenticated, or run the upstream login first.

use super::{BrowserSecret, FlowError, FlowState, Next, Origin, upstream};
use crate::provider::authorize::{AuthorizeQuery, AuthorizeRequest};
use crate::services::Services;
use crate::store::{FlowRow, NewFlow};

pub async fn authorize(
    services: &Services,
    browser: &BrowserSecret,
    query: AuthorizeQuery,
) -> Result<Next, FlowError> {
    let (request, department) = query.validate(&services.config)?;
    let now = services.now();
    if let Some(flow) = services
        .store
        .authenticated_flow_for(&browser.hash(), &department.id, now)
        .await?
    {
        let identity_id = flow.identity_id.clone().ok_or(FlowError::OutOfOrder)?;
        return issue(services, &flow, &request, &identity_id).await;
    }
    if request.prompt_none {
        return Err(request.login_required().into());
    }
    // The user opened the department's homeserver directly: no picker, the
    // department is known; the request waits sealed in the flow.
    let flow_id = services.random.id();
    services
        .store
        .insert_flow(NewFlow {
            id: &flow_id,
            browser_hash: &browser.hash(),
            origin: Origin::Homeserver,
            redirect_url: None,
            department: Some(&department.id),
            state: FlowState::Started,
            now,
            expires_at: now + services.config.lifetimes.flow,
        })
        .await?;
    let sealed = browser.sealer(&flow_id).seal(
        &services.random,
        &serde_json::to_vec(&request).map_err(|_| FlowError::OutOfOrder)?,
    );
    services
        .store
        .set_pending_authorize(&flow_id, &sealed)
        .await?;
    services.metrics.login_started(Some(&department.id));
    tracing::info!(flow = %flow_id, department = %department.id, "login started at the department's homeserver");
    Ok(Next::Redirect(
        upstream::begin(services, browser, &flow_id, department, None).await?,
    ))
}

/// Issues the code and moves the flow on; the flow may be used for one code only.
pub(super) async fn issue(
    services: &Services,
    flow: &FlowRow,
    request: &AuthorizeRequest,
    identity_id: &str,
) -> Result<Next, FlowError> {
    let now = services.now();
    if !services
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
    let url = request.issue_code(services, identity_id, &flow.id).await?;
    if flow.origin == Origin::Homeserver {
        // The homeserver sends the user to its own client; nothing comes back here.
        services.store.complete_flow(&flow.id, now).await?;
        services
            .metrics
            .login_completed(&request.client_id, now - flow.created_at);
    }
    tracing::info!(flow = %flow.id, client = %request.client_id, "authorization code issued");
    Ok(Next::Redirect(url))
}
