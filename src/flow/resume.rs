//! Trying again after the department's homeserver did not answer: the flow
//! was kept, so the user goes on from where they were, not from the start.

use super::pending::PendingFlow;
use super::{BrowserSecret, FlowError, FlowState, Next, Origin, upstream};
use crate::config::Department;
use crate::services::Services;

/// `GET /_sso_bridge/resume?flow=…[&department=…]`
pub async fn resume(
    services: &Services,
    browser: &BrowserSecret,
    flow_id: &str,
    department: Option<&str>,
) -> Result<Next, FlowError> {
    let flow = super::browser_flow(services, browser, flow_id).await?;
    match flow.state {
        // Refused before the university login: on to the department's IdP,
        // or back to the picker.
        FlowState::Started => match department.and_then(|id| services.config.department(id)) {
            Some(department) => {
                super::start::go_upstream(services, browser, flow_id, department, None).await
            }
            None => Ok(Next::Picker {
                flow: PendingFlow::from_row(&flow).seal(services),
            }),
        },
        // Refused after it: straight on to the homeserver.
        FlowState::Authenticated if flow.origin == Origin::Client => {
            upstream::hand_to_homeserver(services, &flow).await
        }
        _ => Err(FlowError::OutOfOrder),
    }
}

/// A client's login is sent to the department's homeserver in the end: if it
/// does not answer now, say so before the user does anything, and keep the
/// flow so "Try again" goes on from here.
pub(super) async fn ensure_homeserver_up(
    services: &Services,
    department: &Department,
    flow_id: &str,
) -> Result<(), FlowError> {
    services
        .homeserver_health
        .ensure_up(
            &services.http,
            services.clock.as_ref(),
            &department.homeserver.base_url,
        )
        .await
        .map_err(|error| FlowError::HomeserverUnavailable {
            department: department.id.clone(),
            detail: error.to_string(),
            resume: resume_url(services, flow_id, department),
        })
}

/// Before the flow is bound to the department's IdP: an IdP that cannot take
/// logins yet (SAML metadata not loaded) is said so, and the flow kept.
pub(super) async fn ensure_idp_up(
    services: &Services,
    department: &Department,
    flow_id: &str,
) -> Result<(), FlowError> {
    match services.upstreams.saml(&department.upstream) {
        Some(idp) if !idp.is_available().await => Err(FlowError::IdpUnavailable {
            department: department.id.clone(),
            resume: resume_url(services, flow_id, department),
        }),
        _ => Ok(()),
    }
}

/// "Try again": this flow, on to this department.
fn resume_url(services: &Services, flow_id: &str, department: &Department) -> String {
    let mut resume = services.config.url(crate::routes::RESUME);
    resume
        .query_pairs_mut()
        .append_pair("flow", flow_id)
        .append_pair("department", &department.id);
    resume.to_string()
}
