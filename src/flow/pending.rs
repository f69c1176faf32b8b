//! A login that has not chosen its department yet is not stored: it travels
//! sealed (XChaCha20-Poly1305, under a key derived from `encryption_key`) in
//! the picker's forms and links, bound to the browser's cookie and expiring with
//! the flow lifetime. Its row is written when the department is chosen.
//!
//! So a flood of login starts writes nothing to the database, a restart loses
//! no login at the picker, and every instance sharing the key can continue it.

use super::FlowContext;
use super::{BrowserSecret, FlowError};
use crate::ids::FlowId;
use crate::store::{Flow, Origin};

/// The sealed form's version (the first byte), so a later layout can be told apart.
const VERSION: u8 = 1;
/// A browser is named by the first 16 bytes of its secret's SHA-256: enough
/// to tell browsers apart, and the value is only ever inside the seal.
const BROWSER_BYTES: usize = 16;

#[derive(Debug, PartialEq)]
pub struct PendingFlow {
    /// The id the flow's row will have.
    pub id: FlowId,
    /// The hex SHA-256 of the browser's secret, as the row keeps it.
    pub browser_hash: String,
    pub redirect_url: String,
    pub started_at: i64,
    pub expires_at: i64,
}

impl PendingFlow {
    /// A new login for this browser, ending at `redirect_url`.
    pub fn start(ctx: &FlowContext<'_>, browser: &BrowserSecret, redirect_url: &str) -> Self {
        let now = ctx.now();
        Self {
            id: FlowId::new(ctx.random.id()),
            browser_hash: browser.hash(),
            redirect_url: redirect_url.to_owned(),
            started_at: now,
            expires_at: now + ctx.config.lifetimes.flow,
        }
    }

    /// A stored client's flow that is back at the picker ("Try again" without
    /// a department); `None` for a homeserver's own login, which has no picker.
    pub fn from_flow(flow: &Flow) -> Option<Self> {
        let Origin::Client { redirect_url } = &flow.origin else {
            return None;
        };
        Some(Self {
            id: flow.id.clone(),
            browser_hash: flow.browser_hash.clone(),
            redirect_url: redirect_url.clone(),
            started_at: flow.created_at,
            expires_at: flow.expires_at,
        })
    }

    /// Sealed for the picker's URL: a compact binary layout, as the value is
    /// repeated in every form of the page.
    pub fn seal(&self, ctx: &FlowContext<'_>) -> String {
        ctx.pending_flows.seal(ctx.random, &self.to_bytes())
    }

    /// The login sealed in `sealed`, if it is intact, unexpired and this browser's.
    pub fn open(
        ctx: &FlowContext<'_>,
        browser: &BrowserSecret,
        sealed: &str,
    ) -> Result<Self, FlowError> {
        let bytes = ctx
            .pending_flows
            .open(sealed)
            .map_err(|_| FlowError::Expired)?;
        let (flow, bound_to) = Self::from_bytes(&bytes).ok_or(FlowError::Expired)?;
        if flow.expires_at < ctx.now() {
            return Err(FlowError::Expired);
        }
        let browser_hash = browser.hash();
        if browser_prefix(&browser_hash) != Some(bound_to) {
            return Err(FlowError::WrongBrowser);
        }
        Ok(Self {
            browser_hash,
            ..flow
        })
    }

    /// version, id length, id, browser, started_at, expires_at, redirect URL.
    fn to_bytes(&self) -> Vec<u8> {
        let id = &self.id.as_bytes()[..self.id.len().min(usize::from(u8::MAX))];
        let mut out =
            Vec::with_capacity(2 + id.len() + BROWSER_BYTES + 16 + self.redirect_url.len());
        out.push(VERSION);
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&browser_prefix(&self.browser_hash).unwrap_or_default());
        out.extend_from_slice(&self.started_at.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(self.redirect_url.as_bytes());
        out
    }

    /// The flow (its browser hash left empty) and the browser it is bound to.
    fn from_bytes(bytes: &[u8]) -> Option<(Self, [u8; BROWSER_BYTES])> {
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION {
            return None;
        }
        let (&id_len, rest) = rest.split_first()?;
        let (id, rest) = rest.split_at_checked(usize::from(id_len))?;
        let (browser, rest) = rest.split_first_chunk::<BROWSER_BYTES>()?;
        let (started_at, rest) = rest.split_first_chunk::<8>()?;
        let (expires_at, redirect_url) = rest.split_first_chunk::<8>()?;
        Some((
            Self {
                id: FlowId::new(String::from_utf8(id.to_vec()).ok()?),
                browser_hash: String::new(),
                redirect_url: String::from_utf8(redirect_url.to_vec()).ok()?,
                started_at: i64::from_be_bytes(*started_at),
                expires_at: i64::from_be_bytes(*expires_at),
            },
            *browser,
        ))
    }
}

/// The first bytes of a hex SHA-256 (`crypto::hash_secret`).
fn browser_prefix(hash: &str) -> Option<[u8; BROWSER_BYTES]> {
    let mut out = [0u8; BROWSER_BYTES];
    hex::decode_to_slice(hash.get(..BROWSER_BYTES * 2)?, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_layout_round_trips_and_rejects_what_is_not_it() {
        let flow = PendingFlow {
            id: "0123456789abcdef0123456789abcdef".into(),
            browser_hash: crate::crypto::hash_secret("browser secret"),
            redirect_url: "https://app.example/cb?x=é".into(),
            started_at: 1_800_000_000,
            expires_at: 1_800_000_600,
        };
        let bytes = flow.to_bytes();
        assert_eq!(bytes.len(), 2 + 32 + 16 + 16 + flow.redirect_url.len());
        let (back, browser) = PendingFlow::from_bytes(&bytes).unwrap();
        assert_eq!(Some(browser), browser_prefix(&flow.browser_hash));
        assert_eq!(
            PendingFlow {
                browser_hash: flow.browser_hash.clone(),
                ..back
            },
            flow
        );
        for cut in [0, 1, 20, 40, 60] {
            assert!(
                PendingFlow::from_bytes(&bytes[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        let mut other_version = bytes.clone();
        other_version[0] = 2;
        assert!(PendingFlow::from_bytes(&other_version).is_none());
    }
}
