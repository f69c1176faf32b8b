//! The browser's secret (a cookie) and what is derived from it, so that nothing
//! secret about a flow has to be stored in clear.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{Sealer, hash_secret, hmac_sha256};
use crate::random::Random;

#[derive(Clone)]
pub struct BrowserSecret(String);

impl std::fmt::Debug for BrowserSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrowserSecret(<redacted>)")
    }
}

impl BrowserSecret {
    pub fn generate(random: &Random) -> Self {
        Self(random.token(32))
    }

    /// A cookie value as received; anything that is not one of ours is ignored.
    pub fn from_cookie(value: &str) -> Option<Self> {
        let plausible = value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        plausible.then(|| Self(value.to_owned()))
    }

    pub fn cookie_value(&self) -> &str {
        &self.0
    }

    /// What the database keeps.
    pub fn hash(&self) -> String {
        hash_secret(&self.0)
    }

    fn flow_key(&self, flow_id: &str) -> [u8; 32] {
        hmac_sha256(self.0.as_bytes(), format!("flow:{flow_id}").as_bytes())
    }

    fn derived(&self, flow_id: &str, purpose: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.flow_key(flow_id), purpose.as_bytes()))
    }

    /// The upstream PKCE verifier: 43 characters, recomputed at the callback.
    pub fn pkce_verifier(&self, flow_id: &str) -> String {
        self.derived(flow_id, "pkce")
    }

    pub fn nonce(&self, flow_id: &str) -> String {
        self.derived(flow_id, "nonce")
    }

    /// Seals data that only this browser can unlock again (the pending authorize request).
    pub fn sealer(&self, flow_id: &str) -> Sealer {
        Sealer::new(hmac_sha256(&self.flow_key(flow_id), b"seal"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivations_are_stable_per_flow_and_differ_across_flows_and_browsers() {
        let a = BrowserSecret::generate(&Random::seeded(1));
        let b = BrowserSecret::generate(&Random::seeded(2));
        assert_eq!(a.pkce_verifier("f1"), a.pkce_verifier("f1"));
        assert_ne!(a.pkce_verifier("f1"), a.pkce_verifier("f2"));
        assert_ne!(a.pkce_verifier("f1"), b.pkce_verifier("f1"));
        assert_ne!(a.pkce_verifier("f1"), a.nonce("f1"));
        assert!(crate::crypto::is_valid_pkce_verifier(
            &a.pkce_verifier("f1")
        ));
        assert!(BrowserSecret::from_cookie(a.cookie_value()).is_some());
        assert!(BrowserSecret::from_cookie("short").is_none());
        assert!(!format!("{a:?}").contains(a.cookie_value()));
    }
}
