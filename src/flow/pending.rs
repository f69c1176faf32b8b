//! A login that has not chosen its department yet is not stored: it travels
//! sealed (XChaCha20-Poly1305, under a key derived from `encryption_key`) in
//! the picker's URL and form, bound to the browser's cookie and expiring with
//! the flow lifetime. Its row is written when the department is chosen.
//!
//! So a flood of login starts writes nothing to the database, a restart loses
//! no login at the picker, and every instance sharing the key can continue it.

use serde::{Deserialize, Serialize};

use super::{BrowserSecret, FlowError};
use crate::services::Services;
use crate::store::FlowRow;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingFlow {
    /// The id the flow's row will have.
    #[serde(rename = "i")]
    pub id: String,
    #[serde(rename = "b")]
    pub browser_hash: String,
    #[serde(rename = "r")]
    pub redirect_url: String,
    #[serde(rename = "s")]
    pub started_at: i64,
    #[serde(rename = "e")]
    pub expires_at: i64,
}

impl PendingFlow {
    /// A new login for this browser, ending at `redirect_url`.
    pub fn start(services: &Services, browser: &BrowserSecret, redirect_url: &str) -> Self {
        let now = services.now();
        Self {
            id: services.random.id(),
            browser_hash: browser.hash(),
            redirect_url: redirect_url.to_owned(),
            started_at: now,
            expires_at: now + services.config.lifetimes.flow,
        }
    }

    /// A stored flow that is back at the picker ("Try again" without a department).
    pub fn from_row(flow: &FlowRow) -> Self {
        Self {
            id: flow.id.clone(),
            browser_hash: flow.browser_hash.clone(),
            redirect_url: flow.redirect_url.clone().unwrap_or_default(),
            started_at: flow.created_at,
            expires_at: flow.expires_at,
        }
    }

    pub fn seal(&self, services: &Services) -> String {
        // Serializing a struct of strings and integers does not fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        services.pending_flows.seal(&services.random, &json)
    }

    /// The login sealed in `sealed`, if it is intact, unexpired and this browser's.
    pub fn open(
        services: &Services,
        browser: &BrowserSecret,
        sealed: &str,
    ) -> Result<Self, FlowError> {
        let flow: Self = services
            .pending_flows
            .open(sealed)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(FlowError::Expired)?;
        if flow.expires_at < services.now() {
            return Err(FlowError::Expired);
        }
        if flow.browser_hash != browser.hash() {
            return Err(FlowError::WrongBrowser);
        }
        Ok(flow)
    }
}
