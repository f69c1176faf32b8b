//! A department's homeserver as the tests see it, whichever plays it: the real
//! Synapse of the end-to-end tier (`world::Synapse`) or the scripted one of the
//! in-process tier (`scripted_homeserver::ScriptedHomeserver`).

use std::future::Future;

use serde_json::Value;

use crate::matrix::LoggedIn;

pub trait Homeserver {
    /// The department it serves: its `client_id` at the bridge's provider.
    fn department(&self) -> &str;

    /// Its base URL as the bridge's config gives it (with a trailing slash).
    fn base_url(&self) -> &str;

    /// What clients are given as `homeserver` and `well_known` base URL.
    fn client_url(&self) -> &str {
        self.base_url().trim_end_matches('/')
    }

    /// The department's client secret at the bridge (`client_secret`).
    fn client_secret(&self) -> &str;

    /// `m.login.token` with a token this homeserver minted, as a client would;
    /// the homeserver's status and answer when it refuses.
    fn login_with_token(&self, token: &str)
    -> impl Future<Output = Result<LoggedIn, (u16, Value)>>;
}
