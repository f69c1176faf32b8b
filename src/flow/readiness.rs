//! Before a login moves on: the department's homeserver must answer, and its
//! IdP must be able to take logins. When not, the flow is kept and the user
//! gets a "Try again" that goes on from here (`resume`).

use super::{FlowContext, FlowError};
use crate::config::Department;
use crate::ids::FlowId;

/// A client's login is sent to the department's homeserver in the end: if it
/// does not answer now, say so before the user does anything, and keep the
/// flow so "Try again" goes on from here.
pub(super) async fn ensure_homeserver_up(
    ctx: &FlowContext<'_>,
    department: &Department,
    flow_id: &FlowId,
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
    flow_id: &FlowId,
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
fn resume_url(ctx: &FlowContext<'_>, flow_id: &FlowId, department: &Department) -> String {
    let mut resume = ctx.config.url(crate::routes::RESUME);
    resume
        .query_pairs_mut()
        .append_pair("flow", flow_id.as_str())
        .append_pair("department", &department.id);
    resume.to_string()
}
