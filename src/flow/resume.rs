//! Trying again after the department's homeserver (or IdP) did not answer:
//! the flow was kept, so the user goes on from where they were, not from the
//! start.

use super::handover::hand_to_homeserver;
use super::pending::PendingFlow;
use super::to_upstream::go_upstream;
use super::{BrowserSecret, FlowContext, FlowError, FlowState, Next, Origin};
use crate::ids::FlowId;

/// `GET /_sso_bridge/resume?flow=…[&department=…]`
pub async fn resume(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow_id: &str,
    department: Option<&str>,
) -> Result<Next, FlowError> {
    let flow_id = FlowId::from(flow_id);
    let (flow, _) = super::browser_flow(ctx, Some(browser), &flow_id).await?;
    match (&flow.state, &flow.origin) {
        // Refused before the university login: on to the department's IdP,
        // or back to the picker.
        (FlowState::Started { .. }, Origin::Client { .. }) => {
            match department.and_then(|id| ctx.config.department(id)) {
                Some(department) => go_upstream(ctx, browser, &flow_id, department, None).await,
                None => Ok(Next::Picker {
                    flow: PendingFlow::from_flow(&flow)
                        .ok_or(FlowError::OutOfOrder)?
                        .seal(ctx),
                }),
            }
        }
        // Refused after it: straight on to the homeserver.
        (FlowState::Authenticated(login), Origin::Client { .. }) => {
            hand_to_homeserver(ctx, &flow_id, login).await
        }
        _ => Err(FlowError::OutOfOrder),
    }
}
