//! Writing a client's login: when it leaves the picker, or when an IdP starts
//! one of its own (no picker).

use super::pending::PendingFlow;
use super::{BrowserSecret, FlowContext, FlowError};
use crate::ids::FlowId;
use crate::store::{NewFlow, Origin};

/// The row of a client's login, written when it leaves the picker. Choosing
/// twice (the back button) finds the row already there, which must then be
/// this browser's.
pub(super) async fn store_flow(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    pending: &PendingFlow,
) -> Result<(), FlowError> {
    let inserted = ctx
        .store
        .insert_flow_if_absent(NewFlow {
            id: &pending.id,
            browser_hash: &pending.browser_hash,
            origin: &Origin::Client {
                redirect_url: pending.redirect_url.clone(),
            },
            department: None,
            now: pending.started_at,
            expires_at: pending.expires_at,
        })
        .await?;
    if inserted {
        tracing::info!(flow = %pending.id, "login started");
    } else {
        super::browser_flow(ctx, Some(browser), &pending.id).await?;
    }
    Ok(())
}

/// A new flow that will end at a Matrix client's `redirect_url`, stored now
/// (an IdP-initiated login, which has no picker).
pub(super) async fn new_client_flow(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    redirect_url: &str,
) -> Result<FlowId, FlowError> {
    ctx.metrics.login_started(None);
    let pending = PendingFlow::start(ctx, browser, redirect_url);
    store_flow(ctx, browser, &pending).await?;
    Ok(pending.id)
}
