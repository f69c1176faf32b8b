//! Completion: the department's homeserver comes back with its `loginToken`; the
//! client gets `loginToken` and `homeserver` (MSC1731).

use super::{BrowserSecret, ClientRedirect, FlowContext, FlowError, FlowState, Next, Origin};
use crate::crypto::hash_secret;
use crate::ids::FlowId;

/// Synapse tokens are `syl_` plus about 40 characters; anything far longer is not a token.
const MAX_LOGIN_TOKEN_LEN: usize = 512;

pub async fn complete(
    ctx: &FlowContext<'_>,
    browser: Option<&BrowserSecret>,
    flow_id: &str,
    login_token: Option<&str>,
) -> Result<Next, FlowError> {
    let now = ctx.now();
    let (flow, browser) = super::browser_flow(ctx, browser, &FlowId::from(flow_id)).await?;
    let login_token = login_token
        .filter(|t| !t.is_empty() && t.len() <= MAX_LOGIN_TOKEN_LEN)
        .ok_or(FlowError::BadLoginToken)?;
    let department = flow
        .state
        .department()
        .and_then(|d| ctx.config.department(d))
        .ok_or(FlowError::OutOfOrder)?;
    ctx.note_department(&department.id);
    let Origin::Client { redirect_url } = &flow.origin else {
        return Err(FlowError::OutOfOrder);
    };
    let redirect = ClientRedirect::parse(redirect_url)?;
    if !matches!(flow.state, FlowState::Authorized(_))
        || !ctx.store.complete_flow(&flow.id, now).await?
    {
        return Err(FlowError::OutOfOrder);
    }
    let homeserver = department.homeserver.base_url.as_str();
    ctx.store
        .remember_login_token(
            &hash_secret(login_token),
            &department.id,
            homeserver,
            now,
            now + ctx.config.lifetimes.login_token_route,
        )
        .await?;
    ctx.metrics
        .login_completed(&department.id, now - flow.created_at);
    tracing::info!(flow = %flow.id, department = %department.id, "login completed");
    let url = redirect.with_login(
        login_token,
        crate::homeserver::client_base_url(&department.homeserver.base_url),
    );
    let config = &ctx.config;
    if redirect.is_trusted(
        &config.allowed_redirect_origins,
        &config.public_base_url.origin(),
    ) {
        return Ok(Next::Redirect(url));
    }
    // The confirmation page must not be shown at this URL, which carries the
    // token and would stay in the browser's history: the client URL is kept,
    // sealed for this browser, and the page is shown at a token-free address.
    let sealed = browser
        .sealer(&flow.id)
        .seal(ctx.random, url.as_str().as_bytes());
    ctx.store.set_pending_confirm(&flow.id, &sealed).await?;
    let mut confirm = config.url(crate::routes::CONFIRM);
    confirm
        .query_pairs_mut()
        .append_pair("flow", flow.id.as_str());
    Ok(Next::Redirect(confirm))
}

/// The confirmation page of a completed login whose client is not on the
/// allow-list, at a token-free address. The sealed client URL is taken from the
/// flow: shown once, then gone (a reload says the login has expired).
pub async fn confirm(
    ctx: &FlowContext<'_>,
    browser: Option<&BrowserSecret>,
    flow_id: &str,
) -> Result<Next, FlowError> {
    let now = ctx.now();
    let (flow, browser) = super::browser_flow(ctx, browser, &FlowId::from(flow_id)).await?;
    if !matches!(flow.state, FlowState::Completed(_)) {
        return Err(FlowError::OutOfOrder);
    }
    let sealed = ctx
        .store
        .take_pending_confirm(&flow.id, now)
        .await?
        .ok_or(FlowError::Expired)?;
    let url = browser
        .sealer(&flow.id)
        .open(&sealed)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| url::Url::parse(&text).ok())
        .ok_or(FlowError::Expired)?;
    let host = ClientRedirect::parse(url.as_str())?.display_host();
    Ok(Next::Confirm { url, host })
}
