//! Whole logins, as a Matrix client and its user would do them.

use url::Url;

use crate::browser::{Browser, Person};
use crate::homeserver::Homeserver;
use crate::matrix::{LoggedIn, token_and_homeserver, whoami};
use crate::world::{TRUSTED_CLIENT, World, world};

pub fn person(username: &'static str, department: &'static str) -> Person {
    Person {
        username,
        department,
    }
}

/// A department that does not exist: driving with it fails if the picker shows up.
pub const NO_PICKER: &str = "__the_picker_must_not_show__";

pub fn start_url(w: &World, idp: Option<&str>, redirect: &str) -> String {
    let mut url = Url::parse(&w.bridge_url).unwrap();
    match idp {
        Some(idp) => url.set_path(&format!("/_matrix/client/v3/login/sso/redirect/{idp}")),
        None => url.set_path("/_matrix/client/v3/login/sso/redirect"),
    }
    url.query_pairs_mut().append_pair("redirectUrl", redirect);
    url.to_string()
}

/// Logs in through the bridge and at the department; returns the Matrix user id
/// and the `homeserver` the client was given.
pub async fn full_login(browser: &Browser, who: &Person, idp: Option<&str>) -> (String, String) {
    let logged_in = login(browser, who, idp).await;
    (logged_in.user_id, logged_in.homeserver)
}

/// Logs in through the bridge and at the department; returns the session.
pub async fn login(browser: &Browser, who: &Person, idp: Option<&str>) -> LoggedIn {
    let w = world();
    login_from(browser, &start_url(w, idp, TRUSTED_CLIENT), who).await
}

/// Drives the login on from `from` to the client, then logs in at the homeserver
/// the client was given; returns the Matrix user id and that homeserver.
pub async fn continue_login(browser: &Browser, from: &str, who: &Person) -> (String, String) {
    let logged_in = login_from(browser, from, who).await;
    (logged_in.user_id, logged_in.homeserver)
}

async fn login_from(browser: &Browser, from: &str, who: &Person) -> LoggedIn {
    let w = world();
    let final_url = browser.drive(from, who, TRUSTED_CLIENT).await.reached();
    let (token, homeserver) = token_and_homeserver(&final_url);
    w.assert_not_logged(&token, "the loginToken");
    let synapse = [&w.eng, &w.hist, &w.phys]
        .into_iter()
        .find(|s| s.client_url() == homeserver)
        .unwrap_or_else(|| panic!("`homeserver` {homeserver} is none of the test Synapses"));
    let logged_in = synapse
        .login_with_token(&token)
        .await
        .unwrap_or_else(|e| panic!("m.login.token at {homeserver} failed: {e:?}"));
    assert_eq!(
        whoami(&homeserver, &logged_in.access_token).await,
        logged_in.user_id
    );
    logged_in
}
