//! Starting a login from a Matrix client, and choosing the department.

use super::resume::ensure_homeserver_up;
use super::{BrowserSecret, ClientRedirect, FlowError, Next, origin, state, upstream};
use crate::services::Services;
use crate::store::NewFlow;

pub struct StartRequest<'a> {
    pub redirect_url: Option<&'a str>,
    /// From `/redirect/{idpId}`: skip the picker.
    pub department: Option<&'a str>,
    /// An e-mail address or user name the client already knows.
    pub login_hint: Option<&'a str>,
}

/// `GET /login/sso/redirect[/{idpId}]`: checks the redirect URL, creates the flow,
/// and goes to the picker, or straight upstream when the department is known.
pub async fn start(
    services: &Services,
    browser: &BrowserSecret,
    request: StartRequest<'_>,
) -> Result<Next, FlowError> {
    let redirect = ClientRedirect::parse(request.redirect_url.unwrap_or_default())?;
    let config = &services.config;
    let department = match request.department {
        Some(id) => Some(
            config
                .department(id)
                .ok_or_else(|| FlowError::UnknownDepartment(id.to_owned()))?,
        ),
        None => request
            .login_hint
            .filter(|hint| hint.contains('@'))
            .and_then(|hint| config.department_for_email(hint)),
    };
    let flow_id = new_client_flow(services, browser, redirect.as_str()).await?;
    tracing::info!(flow = %flow_id, department = ?department.map(|d| &d.id), "login started");
    match department {
        Some(department) => {
            ensure_homeserver_up(services, department, &flow_id).await?;
            Ok(Next::Redirect(
                upstream::begin(services, browser, &flow_id, department, request.login_hint)
                    .await?,
            ))
        }
        None => Ok(Next::Picker { flow_id }),
    }
}

/// The picker's answer: a department id, or an e-mail address routed by domain.
pub async fn choose_department(
    services: &Services,
    browser: &BrowserSecret,
    flow_id: &str,
    department: Option<&str>,
    email: Option<&str>,
) -> Result<Next, FlowError> {
    super::browser_flow(services, browser, flow_id).await?;
    let config = &services.config;
    let (department, hint) = match (department.filter(|d| !d.is_empty()), email) {
        (Some(id), _) => (
            config
                .department(id)
                .ok_or_else(|| FlowError::UnknownDepartment(id.to_owned()))?,
            None,
        ),
        (None, Some(email)) => (
            config
                .department_for_email(email)
                .ok_or_else(|| FlowError::UnknownDepartment(email_domain(email)))?,
            Some(email),
        ),
        (None, None) => {
            return Ok(Next::Picker {
                flow_id: flow_id.to_owned(),
            });
        }
    };
    ensure_homeserver_up(services, department, flow_id).await?;
    Ok(Next::Redirect(
        upstream::begin(services, browser, flow_id, department, hint).await?,
    ))
}

fn email_domain(email: &str) -> String {
    email
        .rsplit_once('@')
        .map_or(email, |(_, d)| d)
        .trim()
        .to_owned()
}

/// A new flow that will end at a Matrix client's `redirect_url`.
pub(super) async fn new_client_flow(
    services: &Services,
    browser: &BrowserSecret,
    redirect_url: &str,
) -> Result<String, FlowError> {
    let flow_id = services.random.id();
    let now = services.now();
    services
        .store
        .insert_flow(NewFlow {
            id: &flow_id,
            browser_hash: &browser.hash(),
            origin: origin::CLIENT,
            redirect_url: Some(redirect_url),
            department: None,
            state: state::STARTED,
            now,
            expires_at: now + services.config.lifetimes.flow,
        })
        .await?;
    services.metrics.login_started(None);
    Ok(flow_id)
}
