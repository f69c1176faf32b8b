//! Trying again after the department's homeserver did not answer: the flow
//! was kept, so the user goes on from where they were, not from the start.

use super::FlowContext;
use super::pending::PendingFlow;
use super::{BrowserSecret, FlowError, FlowState, Next, Origin, upstream};
use crate::config::Department;

/// `GET /_sso_bridge/resume?flow=…[&department=…]`
pub async fn resume(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow_id: &str,
    department: Option<&str>,
) -> Result<Next, FlowError> {
    let flow = super::browser_flow(ctx, browser, flow_id).await?;
    match flow.state {
        // Refused before the university login: on to the department's IdP,
        // or back to the picker.
        FlowState::Started => match department.and_then(|id| ctx.config.department(id)) {
            Some(department) => {
                super::start::go_upstream(ctx, browser, flow_id, department, None).await
            }
            None => Ok(Next::Picker {
                flow: PendingFlow::from_row(&flow).seal(ctx),
            }),
        },
        // Refused after it: straight on to the homeserver.
        FlowState::Authenticated if flow.origin == Origin::Client => {
            upstream::hand_to_homeserver(ctx, &flow).await
        }
        _ => Err(FlowError::OutOfOrder),
    }
}

/// A client's login is sent to the department's homeserver in the end: if it
/// does not answer now, say so before the user does anything, and keep the
/// flow so "Try again" goes on from here.
pub(super) async fn ensure_homeserver_up(
    ctx: &FlowContext<'_>,
    department: &Department,
    flow_id: &str,
) -> Result<(), FlowError> {
    ctx.homeserver_health
        .ensure_up(ctx.http, ctx.clock, &department.homeserver.base_url)
        .await
        .map_err(|error| FlowError::HomeserverUnavailable {
            department: department.id.clone(),
            detail: error.to_string(),
            resume: resume_url(ctx, flow_id, department),
        })
}

/// Before the flow is bound to the department's IdP: an IdP that cannot take
/// logins yet (SAML metadata not loaded) is said so, and the flow kept.
pub(super) async fn ensure_idp_up(
    ctx: &FlowContext<'_>,
    department: &Department,
    flow_id: &str,
) -> Result<(), FlowError> {
    match ctx.upstreams.saml(&department.upstream) {
        Some(idp) if !idp.is_available().await => Err(FlowError::IdpUnavailable {
            department: department.id.clone(),
            resume: resume_url(ctx, flow_id, department),
        }),
        _ => Ok(()),
    }
}

/// "Try again": this flow, on to this department.
fn resume_url(ctx: &FlowContext<'_>, flow_id: &str, department: &Department) -> String {
    let mut resume = ctx.config.url(crate::routes::RESUME);
    resume
        .query_pairs_mut()
        .append_pair("flow", flow_id)
        .append_pair("department", &department.id);
    resume.to_string()
}
