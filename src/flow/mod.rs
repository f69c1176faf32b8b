//! The login state machine:
//! started → (department chosen) upstream → authenticated → authorized → completed.
//!
//! A flow is a database row plus a browser cookie; every step checks both, and
//! every transition is a compare-and-set so no step can run twice. Until the
//! department is chosen, the row is not written yet: the login travels sealed
//! in the picker's URL (`pending`).

mod authorize;
mod browser;
mod client_redirect;
mod complete;
mod context;
mod error;
mod pending;
mod resume;
mod start;
mod upstream;

pub use authorize::authorize;
pub use browser::BrowserSecret;
pub use client_redirect::{ClientRedirect, RedirectUrlError};
pub use complete::{complete, confirm};
pub use context::FlowContext;
pub use error::FlowError;
pub use resume::resume;
pub use start::{StartRequest, check_picker, choose_department, start};
pub use upstream::{CallbackParams, oidc_callback, saml_acs};

use url::Url;

/// Flow states, as stored.
pub use crate::store::{FlowState, Origin};

/// A flow that has not expired, if it belongs to this browser.
async fn browser_flow(
    ctx: &FlowContext<'_>,
    browser: &BrowserSecret,
    flow_id: &str,
) -> Result<crate::store::FlowRow, FlowError> {
    let flow = ctx
        .store
        .flow(flow_id, ctx.now())
        .await?
        .ok_or(FlowError::Expired)?;
    if flow.browser_hash != browser.hash() {
        return Err(FlowError::WrongBrowser);
    }
    Ok(flow)
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
