//! Starting a login from a Matrix client, and choosing the department.

use super::pending::PendingFlow;
use super::record::store_flow;
use super::to_upstream::go_upstream;
use super::{BrowserSecret, ClientRedirect, FlowContext, FlowError, Next};

pub struct StartRequest<'a> {
    pub redirect_url: Option<&'a str>,
    /// From `/redirect/{idpId}`: skip the picker.
    pub department: Option<&'a str>,
    /// An e-mail address or user name the client already knows.
    pub login_hint: Option<&'a str>,
}

/// `GET /login/sso/redirect[/{idpId}]`: checks the redirect URL and shows the
/// picker with the login sealed in its forms (nothing is stored yet), or goes
/// straight upstream when the department is known.
pub async fn start(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    request: StartRequest<'_>,
) -> Result<Next, FlowError> {
    let redirect = ClientRedirect::parse(request.redirect_url.unwrap_or_default())?;
    let config = &ctx.config;
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
    ctx.metrics.login_started(None);
    let pending = PendingFlow::start(ctx, browser, redirect.as_str());
    match department {
        Some(department) => {
            store_flow(ctx, browser, &pending).await?;
            go_upstream(ctx, browser, &pending.id, department, request.login_hint).await
        }
        None => Ok(Next::Picker {
            flow: pending.seal(ctx),
        }),
    }
}

/// `GET /pick`: the picker may be shown for `flow` (a sealed login of this
/// browser that has not expired). Nothing is read from the database.
pub fn check_picker(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow: &str,
) -> Result<(), FlowError> {
    PendingFlow::open(ctx, browser, flow).map(drop)
}

/// The picker's answer: a department id, or an e-mail address routed by domain.
/// `flow` is the sealed login the picker was shown for.
pub async fn choose_department(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow: &str,
    department: Option<&str>,
    email: Option<&str>,
) -> Result<Next, FlowError> {
    let pending = PendingFlow::open(ctx, browser, flow)?;
    let config = &ctx.config;
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
                flow: flow.to_owned(),
            });
        }
    };
    store_flow(ctx, browser, &pending).await?;
    go_upstream(ctx, browser, &pending.id, department, hint).await
}

fn email_domain(email: &str) -> String {
    email
        .rsplit_once('@')
        .map_or(email, |(_, d)| d)
        .trim()
        .to_owned()
}
