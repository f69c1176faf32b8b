//! The login's branches in-process: the real router with a mock clock and
//! seeded randomness, a scripted OIDC IdP and scripted homeservers that play
//! Synapse's part (`sso_bridge_testing::test_state`). What needs a real Synapse
//! stays in tests/e2e.

use sso_bridge_testing::browser::query_values;
use sso_bridge_testing::homeserver::Homeserver;
use sso_bridge_testing::scripted_idp::{Misbehaviour, ScriptedUser};
use sso_bridge_testing::test_browser::{Page, TestBrowser};
use sso_bridge_testing::test_state::{BRIDGE, CLIENT, FLOW_SECONDS, TestState};
use url::Url;

/// A department that does not exist: driving with it fails if the picker shows up.
const NO_PICKER: &str = "__the_picker_must_not_show__";

/// The client was reached with exactly one `loginToken` and one `homeserver`;
/// returns them.
fn token_and_homeserver(reached: &Url) -> (String, String) {
    assert!(reached.as_str().starts_with(CLIENT), "{reached}");
    let tokens = query_values(reached, "loginToken");
    let homeservers = query_values(reached, "homeserver");
    assert_eq!(tokens.len(), 1, "one loginToken in {reached}");
    assert_eq!(homeservers.len(), 1, "one homeserver in {reached}");
    (tokens[0].clone(), homeservers[0].clone())
}

/// Drives a login to the point where the IdP sends the browser back to the bridge.
async fn to_the_callback(browser: &TestBrowser, department: &str) -> Url {
    browser
        .drive(
            &TestState::start_url(None),
            department,
            &TestState::upstream_callback(),
        )
        .await
        .reached()
}

/// The page says `words` (markup and entities aside).
/// A login through the picker at `department` that reaches the client: where it arrived.
async fn log_in(browser: &TestBrowser, department: &str) -> Url {
    browser
        .drive(&TestState::start_url(None), department, CLIENT)
        .await
        .reached()
}

/// A login through the picker at `department` that the bridge stops with a page.
async fn stopped_at(browser: &TestBrowser, department: &str) -> Page {
    browser
        .drive(&TestState::start_url(None), department, CLIENT)
        .await
        .stopped()
}

fn assert_says(page: &Page, words: &str) {
    let text = page.answer.text_content();
    assert!(text.contains(words), "{words:?} is not on the page: {text}");
}

/// The page's "Start again" begins a new login for the same client.
fn assert_offers_to_start_again(page: &Page) {
    let restart = TestState::start_url(None);
    assert!(
        page.answer.links().contains(&restart),
        "no link to {restart} in {:?}",
        page.answer.links()
    );
}

#[actix_web::test]
async fn a_login_through_the_picker_reaches_the_client_with_one_token_and_the_departments_homeserver()
 {
    let state = TestState::start().await;
    let browser = state.browser();
    let start = browser.get(&TestState::start_url(None)).await;
    assert_eq!(start.answer.status, 200, "the picker");
    assert_says(&start, "Choose your department");
    let picked = browser
        .pick(&start, "eng")
        .await
        .expect("the picker's form");
    let at_idp = picked.location().expect("a redirect to the IdP");
    assert!(
        at_idp
            .as_str()
            .starts_with(&format!("{}/authorize?", state.idp.issuer())),
        "{at_idp}"
    );

    let reached = browser
        .drive(at_idp.as_str(), NO_PICKER, CLIENT)
        .await
        .reached();
    let (token, homeserver) = token_and_homeserver(&reached);
    assert_eq!(homeserver, state.eng.client_url());
    assert_eq!(state.idp.token_requests(), 1);
    let subjects = state.eng.subjects();
    assert_eq!(subjects.len(), 1, "the homeserver accepted one id_token");
    assert_ne!(
        subjects[0], "u-alice",
        "the bridge's own subject, not the IdP's"
    );

    let logged_in = state
        .eng
        .login_with_token(&token)
        .await
        .expect("the homeserver's token logs in");
    assert_eq!(logged_in.user_id, "@alice:eng.test");
    let again = state.eng.login_with_token(&token).await;
    assert_eq!(again.err().map(|(status, _)| status), Some(403), "once");
}

#[actix_web::test]
async fn the_same_person_logging_in_again_keeps_the_bridges_subject() {
    let state = TestState::start().await;
    for _ in 0..2 {
        let browser = state.browser();
        let reached = log_in(&browser, "eng").await;
        token_and_homeserver(&reached);
    }
    let subjects = state.eng.subjects();
    assert_eq!(subjects.len(), 2);
    assert_eq!(subjects[0], subjects[1]);
}

#[actix_web::test]
async fn the_redirect_naming_a_department_skips_the_picker() {
    let state = TestState::start().await;
    state
        .idp
        .log_in_as(ScriptedUser::member("u-hugo", "hugo", "hist"));
    let browser = state.browser();
    let first = browser.get(&TestState::start_url(Some("hist"))).await;
    assert_eq!(first.answer.status, 302, "{}", first.answer.body);
    let location = first.location().expect("a redirect");
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/authorize?", state.idp.issuer())),
        "straight to the IdP: {location}"
    );
    let reached = browser
        .drive(&TestState::start_url(Some("hist")), NO_PICKER, CLIENT)
        .await
        .reached();
    let (token, homeserver) = token_and_homeserver(&reached);
    assert_eq!(homeserver, state.hist.client_url());
    let logged_in = state.hist.login_with_token(&token).await.expect("login");
    assert_eq!(logged_in.user_id, "@hugo:hist.test");
    assert!(state.eng.subjects().is_empty(), "eng was never involved");
}

#[actix_web::test]
async fn the_idp_refusing_the_login_ends_it_with_a_page_that_offers_to_start_again() {
    let state = TestState::start().await;
    state.idp.misbehave(Misbehaviour::DeniesAtAuthorize);
    let browser = state.browser();
    let page = stopped_at(&browser, "eng").await;
    assert!(
        page.url
            .as_str()
            .starts_with(&TestState::upstream_callback())
    );
    assert_eq!(page.answer.status, 403);
    assert_eq!(
        page.answer.title(),
        "The university login was not completed"
    );
    assert_says(&page, "did not log you in");
    assert_offers_to_start_again(&page);
    assert_eq!(state.idp.token_requests(), 0);
    assert!(state.eng.subjects().is_empty());

    // Starting again, with the IdP willing this time, logs in.
    state.idp.misbehave(Misbehaviour::None);
    let reached = log_in(&browser, "eng").await;
    token_and_homeserver(&reached);
}

#[actix_web::test]
async fn a_callback_whose_state_is_unknown_or_already_used_is_refused() {
    let state = TestState::start().await;
    let browser = state.browser();
    let callback = to_the_callback(&browser, "eng").await;

    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "not-a-state".into()
            } else {
                v
            };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(&pairs);
    let page = browser.get(forged.as_str()).await;
    assert_eq!(page.answer.status, 400);
    assert_eq!(page.answer.title(), "This login has expired");
    assert_eq!(state.idp.token_requests(), 0, "no code redeemed for it");

    // The genuine callback goes on to the homeserver…
    let first = browser.get(callback.as_str()).await;
    assert_eq!(first.answer.status, 302, "{}", first.answer.body);
    let location = first.location().expect("a redirect");
    assert!(state.eng.serves(&location), "to the department: {location}");
    // …once: the same answer again is refused, and its code is not redeemed twice.
    let replay = browser.get(callback.as_str()).await;
    assert_eq!(replay.answer.status, 400, "{}", replay.answer.body);
    assert_eq!(replay.answer.title(), "This login has expired");
    assert!(replay.location().is_none());
    assert_eq!(state.idp.token_requests(), 1);
}

#[actix_web::test]
async fn a_member_of_another_department_is_refused_in_words_and_never_reaches_its_homeserver() {
    let state = TestState::start().await;
    state
        .idp
        .log_in_as(ScriptedUser::member("u-hugo", "hugo", "hist"));
    let browser = state.browser();
    let page = stopped_at(&browser, "eng").await;
    assert_eq!(page.answer.status, 403);
    assert_eq!(
        page.answer.title(),
        "You are not a member of this department"
    );
    assert_says(
        &page,
        "The university login says you do not belong to Department eng",
    );
    assert_offers_to_start_again(&page);
    assert!(state.eng.subjects().is_empty());
    assert!(state.hist.subjects().is_empty());
}

#[actix_web::test]
async fn a_missing_claim_is_refused_for_what_it_was_needed_for() {
    let state = TestState::start().await;
    // Without the claim membership reads: not a member.
    state
        .idp
        .log_in_as(ScriptedUser::member("u-nodept", "nodept", "eng").without("department"));
    let page = stopped_at(&state.browser(), "eng").await;
    assert_eq!(page.answer.status, 403);
    assert_eq!(
        page.answer.title(),
        "You are not a member of this department"
    );

    // Without the claim the user name is made of: no account.
    state
        .idp
        .log_in_as(ScriptedUser::member("u-noname", "noname", "eng").without("preferred_username"));
    let page = stopped_at(&state.browser(), "eng").await;
    assert_eq!(page.answer.status, 403);
    assert_eq!(page.answer.title(), "Your account cannot be set up");
    assert_says(
        &page,
        "did not give what is needed to create your Matrix account",
    );
    assert!(state.eng.subjects().is_empty());
}

#[actix_web::test]
async fn id_tokens_with_another_nonce_or_audience_are_refused_in_the_flow() {
    for misbehaviour in [Misbehaviour::WrongNonce, Misbehaviour::WrongAudience] {
        let state = TestState::start().await;
        state.idp.misbehave(misbehaviour);
        let page = stopped_at(&state.browser(), "eng").await;
        assert_eq!(page.answer.status, 502, "{misbehaviour:?}");
        assert_eq!(
            page.answer.title(),
            "The university login could not be verified",
            "{misbehaviour:?}"
        );
        assert_eq!(state.idp.token_requests(), 1, "{misbehaviour:?}");
        assert!(state.eng.subjects().is_empty(), "{misbehaviour:?}");
    }
}

#[actix_web::test]
async fn the_token_endpoint_failing_shows_a_page_whose_start_again_begins_a_new_login() {
    let state = TestState::start().await;
    state.idp.misbehave(Misbehaviour::TokenEndpointFails);
    let browser = state.browser();
    let page = stopped_at(&browser, "eng").await;
    // A 500 is the IdP being unavailable, not an answer that failed verification.
    assert_eq!(page.answer.status, 502, "{}", page.answer.body);
    assert_eq!(
        page.answer.title(),
        "The university login service is not answering"
    );
    assert_offers_to_start_again(&page);
    assert_eq!(state.idp.token_requests(), 1);
    assert!(state.eng.subjects().is_empty());

    // The IdP is well again: "Start again" leads through a new login to the client.
    state.idp.misbehave(Misbehaviour::None);
    let reached = log_in(&browser, "eng").await;
    let (_, homeserver) = token_and_homeserver(&reached);
    assert_eq!(homeserver, state.eng.client_url());
}

#[actix_web::test]
async fn a_login_that_expires_between_the_idp_and_its_callback_is_refused_without_sleeping() {
    let state = TestState::start().await;
    let browser = state.browser();
    let callback = to_the_callback(&browser, "eng").await;
    state.clock.advance(FLOW_SECONDS + 1);
    let page = browser.get(callback.as_str()).await;
    assert_eq!(page.answer.status, 400);
    assert_eq!(page.answer.title(), "This login has expired");
    assert_says(&page, "The login took too long");
    assert_eq!(state.idp.token_requests(), 0, "the code is not redeemed");

    // A second short of the lifetime is still in time.
    let state = TestState::start().await;
    let browser = state.browser();
    let callback = to_the_callback(&browser, "eng").await;
    state.clock.advance(FLOW_SECONDS - 1);
    let reached = browser
        .drive(callback.as_str(), NO_PICKER, CLIENT)
        .await
        .reached();
    token_and_homeserver(&reached);
}

#[actix_web::test]
async fn a_restart_between_the_idp_and_its_callback_keeps_the_login() {
    let state = TestState::start().await;
    let browser = state.browser();
    let callback = to_the_callback(&browser, "eng").await;

    let restarted = state.restart().await;
    let browser = browser.at(&restarted);
    let reached = browser
        .drive(callback.as_str(), NO_PICKER, CLIENT)
        .await
        .reached();
    let (token, homeserver) = token_and_homeserver(&reached);
    assert_eq!(homeserver, restarted.eng.client_url());
    let logged_in = restarted.eng.login_with_token(&token).await.expect("login");
    assert_eq!(logged_in.user_id, "@alice:eng.test");
}

#[actix_web::test]
async fn a_callback_in_another_browser_is_refused_and_leaves_the_login_to_its_owner() {
    let state = TestState::start().await;
    let owner = state.browser();
    let callback = to_the_callback(&owner, "eng").await;

    let without_cookie = state.browser().get(callback.as_str()).await;
    assert_eq!(without_cookie.answer.status, 400);
    assert_eq!(
        without_cookie.answer.title(),
        "Your browser did not keep the login cookie"
    );
    let stranger = owner.with_cookie("sso_bridge_browser", &"A".repeat(43));
    let page = stranger.get(callback.as_str()).await;
    assert_eq!(page.answer.status, 403);
    assert_eq!(
        page.answer.title(),
        "This login was started in another browser"
    );
    assert_eq!(state.idp.token_requests(), 0);

    let reached = owner
        .drive(callback.as_str(), NO_PICKER, CLIENT)
        .await
        .reached();
    token_and_homeserver(&reached);
}

#[actix_web::test]
async fn a_client_that_sends_the_token_to_the_bridge_is_logged_in_at_the_department() {
    let state = TestState::start().await;
    let reached = log_in(&state.browser(), "eng").await;
    let (token, _) = token_and_homeserver(&reached);
    let answer = state
        .router
        .call(
            actix_web::test::TestRequest::post()
                .uri("/_matrix/client/v3/login")
                .set_json(serde_json::json!({ "type": "m.login.token", "token": token }))
                .to_request(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON");
    assert_eq!(body["user_id"], "@alice:eng.test");
    assert_eq!(
        body["well_known"]["m.homeserver"]["base_url"],
        state.eng.client_url()
    );
}

#[actix_web::test]
async fn a_login_started_at_the_departments_homeserver_skips_the_picker_and_returns_there() {
    let state = TestState::start().await;
    let browser = state.browser();
    let start = format!(
        "{}_matrix/client/v3/login/sso/redirect/oidc-university?redirectUrl={}",
        state.eng.base_url(),
        url::form_urlencoded::byte_serialize(CLIENT.as_bytes()).collect::<String>()
    );
    let reached = browser.drive(&start, NO_PICKER, CLIENT).await.reached();
    let tokens = query_values(&reached, "loginToken");
    assert_eq!(tokens.len(), 1, "{reached}");
    assert!(
        query_values(&reached, "homeserver").is_empty(),
        "the homeserver's own redirect: the client knows where it is"
    );
    let logged_in = state.eng.login_with_token(&tokens[0]).await.expect("login");
    assert_eq!(logged_in.user_id, "@alice:eng.test");
}

#[actix_web::test]
async fn a_homeserver_that_is_down_keeps_the_login_until_it_is_back() {
    let state = TestState::start().await;
    let browser = state.browser();
    let callback = to_the_callback(&browser, "eng").await;
    state.eng.set_up(false);
    // The bridge believes a homeserver's answer for a moment (it checked eng
    // when the department was picked): a minute later, by the mock clock, it
    // asks again (the login itself lasts ten).
    state.clock.advance(60);
    let page = browser.get(callback.as_str()).await;
    assert_eq!(page.answer.status, 503, "{}", page.answer.body);
    assert_eq!(
        page.answer.title(),
        "The Matrix server of Department eng is not answering"
    );
    let resume = page
        .answer
        .links()
        .into_iter()
        .find(|link| link.starts_with(&format!("{BRIDGE}_sso_bridge/resume")))
        .expect("a Try again link that resumes this login");

    state.eng.set_up(true);
    let reached = browser.drive(&resume, NO_PICKER, CLIENT).await.reached();
    let (_, homeserver) = token_and_homeserver(&reached);
    assert_eq!(homeserver, state.eng.client_url());
    assert_eq!(
        state.idp.token_requests(),
        1,
        "the university login was kept"
    );
}
