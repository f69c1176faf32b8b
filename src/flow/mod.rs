//! The login state machine:
//! started → (department chosen) upstream → authenticated → authorized → completed.
//!
//! A flow is a database row plus a browser cookie; every step checks both, and
//! every transition is a compare-and-set so no step can run twice. The states,
//! each with its data, and their transitions are in `store::flows`. Until the
//! department is chosen, the row is not written yet: the login travels sealed
//! in the picker's URL (`pending`).
//!
//! The modules, in the order they may use each other (`tests/architecture.rs`
//! checks it): what every step shares (`context`, `browser`, `client_redirect`,
//! `error`, `pending`); the steps (`record`, `readiness`, then `to_upstream`,
//! `handover`); the entry points, which use steps and never each other
//! (`start`, `resume`, `authorize`, `callback`, `complete`).

mod authorize;
mod browser;
mod callback;
mod client_redirect;
mod complete;
mod context;
mod error;
mod handover;
mod pending;
mod readiness;
mod record;
mod resume;
mod start;
mod to_upstream;

pub use authorize::authorize;
pub use browser::BrowserSecret;
pub use callback::{CallbackParams, oidc_callback, saml_acs};
pub use client_redirect::{ClientRedirect, MAX_LENGTH as REDIRECT_MAX_LENGTH, RedirectUrlError};
pub use complete::{complete, confirm};
pub use context::FlowContext;
pub use error::FlowError;
pub use resume::resume;
pub use start::{StartRequest, check_picker, choose_department, start};

use url::Url;

use crate::ids::FlowId;

/// A login as stored, and its states with their data.
pub use crate::store::{Flow, FlowState, Login, Origin};

/// A flow that has not expired, if it belongs to this browser (which must
/// have its cookie: an expired flow is said first, a missing cookie next).
async fn browser_flow<'b>(
    ctx: &FlowContext<'_>,
    browser: Option<&'b BrowserSecret>,
    flow_id: &FlowId,
) -> Result<(Flow, &'b BrowserSecret), FlowError> {
    let flow = ctx
        .store
        .flow(flow_id, ctx.now())
        .await?
        .ok_or(FlowError::Expired)?;
    let browser = browser.ok_or(FlowError::NoBrowserSession)?;
    if flow.browser_hash != browser.hash() {
        return Err(FlowError::WrongBrowser);
    }
    Ok((flow, browser))
}

/// What the browser should see next.
#[derive(Debug)]
pub enum Next {
    /// Show the department picker for this login (sealed, see `pending`).
    Picker { flow: String },
    /// Send the browser on.
    Redirect(Url),
    /// The client's origin is not on the allow-list: ask before handing over the token.
    Confirm { url: Url, host: String },
}
