//! The login: the real bridge binary, a real OIDC IdP, a real SAML2 IdP and
//! real Synapses on 127.0.0.1, driven by a cookie-keeping HTTP client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use url::Url;

use sso_bridge_testing::browser::{Browser, hidden, query_values};
use sso_bridge_testing::login::{NO_PICKER, continue_login, full_login, person, start_url};
use sso_bridge_testing::matrix::{login_with_token, token_and_homeserver, whoami};
use sso_bridge_testing::world::{TRUSTED_CLIENT, world};

#[tokio::test]
async fn login_through_the_picker_for_both_departments() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (user, homeserver) = full_login(&Browser::new(), &person("alice", "eng"), None).await;
    assert_eq!(user, "@alice:eng.test");
    assert_eq!(homeserver, w.eng.client_url());
    let (user, homeserver) = full_login(&Browser::new(), &person("bob", "hist"), None).await;
    assert_eq!(user, "@bob:hist.test");
    assert_eq!(homeserver, w.hist.client_url());
}

#[tokio::test]
async fn the_same_user_again_within_a_minute_gets_the_same_account_and_last_choice_first() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    let (first, _) = full_login(&browser, &person("bob", "hist"), None).await;
    // The picker (the login start's own answer) now offers the last choice first.
    let picker = browser.get(&start_url(w, None, TRUSTED_CLIENT)).await;
    assert_eq!(picker.status, StatusCode::OK);
    assert!(
        picker.body.contains("Last time you used"),
        "{}",
        picker.body
    );
    assert!(picker.body.contains("Department of History"));
    let (second, _) = full_login(&browser, &person("bob", "hist"), None).await;
    assert_eq!(first, second);
    let (third, _) = full_login(&Browser::new(), &person("bob", "hist"), Some("hist")).await;
    assert_eq!(first, third);
}

#[tokio::test]
async fn the_idp_id_in_the_path_skips_the_picker() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (user, homeserver) =
        full_login(&Browser::new(), &person("alice", NO_PICKER), Some("eng")).await;
    assert_eq!(user, "@alice:eng.test");
    assert_eq!(homeserver, w.eng.client_url());
    // r0 works too.
    let browser = Browser::new();
    let start = start_url(w, Some("hist"), TRUSTED_CLIENT).replace("/v3/", "/r0/");
    let final_url = browser
        .drive(&start, &person("bob", NO_PICKER), TRUSTED_CLIENT)
        .await
        .reached();
    let (_, homeserver) = token_and_homeserver(&final_url);
    assert_eq!(homeserver, w.hist.client_url());
}

#[tokio::test]
async fn opening_the_department_homeserver_directly_uses_the_university_login() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // A client of the department's own homeserver; under the bridge's base URL,
    // which is on Synapse's client_whitelist, so Synapse redirects at once.
    let client = format!("{}_sso_bridge/demo", w.bridge_url);
    let mut start = Url::parse(&format!(
        "{}_matrix/client/v3/login/sso/redirect/oidc-university",
        w.eng.url
    ))
    .unwrap();
    start.query_pairs_mut().append_pair("redirectUrl", &client);
    let browser = Browser::new();
    let final_url = browser
        .drive(start.as_str(), &person("alice", NO_PICKER), &client)
        .await
        .reached();
    let tokens = query_values(&final_url, "loginToken");
    assert_eq!(tokens.len(), 1, "{final_url}");
    let logged_in = login_with_token(w.eng.client_url(), &tokens[0])
        .await
        .expect("login at eng");
    assert_eq!(
        logged_in.user_id, "@alice:eng.test",
        "the same account as through the bridge"
    );
}

#[tokio::test]
async fn a_member_of_another_department_is_refused_with_a_clear_page() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    let page = browser
        .drive(
            &start_url(w, None, TRUSTED_CLIENT),
            &person("mallory", "eng"),
            TRUSTED_CLIENT,
        )
        .await
        .stuck();
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(page.title(), "You are not a member of this department");
    assert!(page.body.contains("Faculty of Engineering"));
    assert!(
        page.url.as_str().starts_with(&w.bridge_url),
        "refused at the bridge, before any homeserver"
    );
}

#[tokio::test]
async fn a_restart_between_idp_login_and_callback_loses_nothing() {
    let w = world();
    let _exclusive = w.bridge_lock.write().await;
    let browser = Browser::new();
    let callback_prefix = format!("{}_sso_bridge/upstream/", w.bridge_url);
    let callback = browser
        .drive(
            &start_url(w, None, TRUSTED_CLIENT),
            &person("alice", "eng"),
            &callback_prefix,
        )
        .await
        .reached();
    w.restart_bridge().await;
    let (user, _) = continue_login(&browser, callback.as_str(), &person("alice", "eng")).await;
    assert_eq!(
        user, "@alice:eng.test",
        "the login completes after the restart"
    );
}

#[tokio::test]
async fn an_untrusted_redirect_gets_a_confirmation_page_naming_the_host() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    let evil = "https://evil.example/cb?loginToken=injected&homeserver=https%3A%2F%2Fevil.example";
    let page = browser
        .drive(
            &start_url(w, Some("eng"), evil),
            &person("alice", NO_PICKER),
            "https://evil.example",
        )
        .await
        .stuck();
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.title(), "Continue to https://evil.example?");
    let selector = scraper::Selector::parse("a.button").unwrap();
    let html = page.html();
    let link = html
        .select(&selector)
        .next()
        .expect("continue link")
        .value()
        .attr("href")
        .unwrap();
    let link = Url::parse(link).unwrap();
    assert_eq!(link.host_str(), Some("evil.example"));
    let (token, homeserver) = token_and_homeserver(&link);
    assert_ne!(token, "injected");
    assert_eq!(homeserver, w.eng.client_url());
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-store");
    // The page is shown at an address without the token, so no history entry
    // holds it; and only once.
    assert_eq!(page.url.path(), "/_sso_bridge/confirm", "{}", page.url);
    assert!(
        !page.url.as_str().contains(&token) && query_values(&page.url, "loginToken").is_empty(),
        "the confirmation page's own address carries no token: {}",
        page.url
    );
    let again = browser.get(page.url.as_str()).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(
        !again.body.contains(&token),
        "a second look finds nothing: {}",
        again.body
    );
}

#[tokio::test]
async fn injected_login_token_and_homeserver_are_replaced_not_duplicated() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let redirect =
        format!("{TRUSTED_CLIENT}?loginToken=evil&keep=1&homeserver=https%3A%2F%2Fevil.example");
    let final_url = Browser::new()
        .drive(
            &start_url(w, Some("eng"), &redirect),
            &person("alice", NO_PICKER),
            TRUSTED_CLIENT,
        )
        .await
        .reached();
    let (token, homeserver) = token_and_homeserver(&final_url);
    assert_ne!(token, "evil");
    assert_eq!(homeserver, w.eng.client_url());
    assert_eq!(query_values(&final_url, "keep"), ["1"]);
}

#[tokio::test]
async fn dangerous_redirect_urls_are_refused_before_any_login() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let too_long = format!("{TRUSTED_CLIENT}?q={}", "a".repeat(20_000));
    for bad in [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "http://user:password@127.0.0.1:9/client/",
        "/relative/path",
        "",
        "ftp://127.0.0.1:7777/",
        too_long.as_str(),
    ] {
        let page = Browser::new().get(&start_url(w, Some("eng"), bad)).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(page.location.is_none(), "{bad:?} must not redirect");
        assert_eq!(page.title(), "This login link is not valid", "{bad:?}");
    }
    let page = Browser::new()
        .get(&format!(
            "{}_matrix/client/v3/login/sso/redirect",
            w.bridge_url
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_unknown_idp_id_is_a_friendly_404_page() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let page = Browser::new()
        .get(&start_url(w, Some("astrology"), TRUSTED_CLIENT))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.title(), "Unknown department");
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn the_upstream_callback_checks_state_browser_and_single_use() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    let callback_prefix = format!("{}_sso_bridge/upstream/", w.bridge_url);
    let callback = browser
        .drive(
            &start_url(w, Some("eng"), TRUSTED_CLIENT),
            &person("alice", NO_PICKER),
            &callback_prefix,
        )
        .await
        .reached();
    // Another browser (no cookie) cannot use it.
    let page = Browser::new().get(callback.as_str()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(page.title(), "Your browser did not keep the login cookie");
    let state = query_values(&callback, "state").remove(0);
    w.assert_not_logged(&state, "the upstream state");
    w.assert_not_logged(
        &query_values(&callback, "code").remove(0),
        "the upstream code",
    );
    // A tampered state finds no flow.
    let mut tampered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let page = browser.get(tampered.as_str()).await;
    assert_eq!(page.title(), "This login has expired");
    // The real one works once…
    let page = browser.get(callback.as_str()).await;
    assert!(page.is_redirect(), "{}", page.body);
    assert!(page.location.unwrap().as_str().starts_with(&w.eng.url));
    // …and only once.
    let page = browser.get(callback.as_str()).await;
    assert_eq!(page.title(), "This login has expired");
}

pub(crate) fn pkce_pair() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Plays a department homeserver at the bridge's OpenID Provider: returns a code.
pub(crate) async fn authorize_as_homeserver(challenge: &str) -> (String, String) {
    let w = world();
    let redirect_uri = format!("{}_synapse/client/oidc/callback", w.eng.url);
    let mut authorize = Url::parse(&format!("{}_sso_bridge/op/authorize", w.bridge_url)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", "eng")
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("state", "hs-state")
        .append_pair("nonce", "hs-nonce")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    let back = Browser::new()
        .drive(
            authorize.as_str(),
            &person("alice", NO_PICKER),
            &redirect_uri,
        )
        .await
        .reached();
    assert_eq!(query_values(&back, "state"), ["hs-state"]);
    assert_eq!(query_values(&back, "iss"), [w.bridge_url.as_str()]);
    (query_values(&back, "code").remove(0), redirect_uri)
}

async fn token_request(
    auth: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let w = world();
    let mut request = reqwest::Client::new()
        .post(format!("{}_sso_bridge/op/token", w.bridge_url))
        .form(form);
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token request");
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_token_endpoint_enforces_client_secret_redirect_uri_pkce_and_single_use() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (verifier, challenge) = pkce_pair();
    let (code, redirect_uri) = authorize_as_homeserver(&challenge).await;
    let good = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let eng_secret = w.eng.client_secret.as_str();

    let (status, body) = token_request(Some(("eng", "wrong-secret-0123456789")), &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, body) = token_request(Some(("hist", &w.hist.client_secret)), &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "code of another client"
    );
    let (_, other_verifier) = pkce_pair();
    let mut wrong_pkce = good;
    wrong_pkce[3].1 = other_verifier.as_str();
    let (status, body) = token_request(Some(("eng", eng_secret)), &wrong_pkce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
    let mut wrong_redirect = good;
    let other_redirect = format!("{}_synapse/client/oidc/callback/x", w.eng.url);
    wrong_redirect[2].1 = other_redirect.as_str();
    let (status, body) = token_request(Some(("eng", eng_secret)), &wrong_redirect).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // client_secret_post works as well as client_secret_basic.
    let mut post = good.to_vec();
    post.extend([("client_id", "eng"), ("client_secret", eng_secret)]);
    let (status, body) = token_request(None, &post).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = verify_id_token(body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], w.bridge_url.as_str());
    assert_eq!(claims["aud"], "eng");
    assert_eq!(claims["nonce"], "hs-nonce");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "Alice Liddell");
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    let userinfo = reqwest::Client::new()
        .get(format!("{}_sso_bridge/op/userinfo", w.bridge_url))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::OK);

    for (secret, what) in [
        (code.as_str(), "the code"),
        (access_token.as_str(), "the access token"),
        (verifier.as_str(), "the PKCE verifier"),
    ] {
        w.assert_not_logged(secret, what);
    }

    // Replay: refused, and what the first redemption issued is revoked.
    let (status, body) = token_request(Some(("eng", eng_secret)), &good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let userinfo = reqwest::Client::new()
        .get(format!("{}_sso_bridge/op/userinfo", w.bridge_url))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
}

/// Checks the RS256 signature with the key the bridge publishes in its JWKS.
async fn verify_id_token(jwt: &str) -> serde_json::Value {
    use rsa::traits::SignatureScheme;
    let w = world();
    let discovery: serde_json::Value =
        reqwest::get(format!("{}.well-known/openid-configuration", w.bridge_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let jwks: serde_json::Value = reqwest::get(discovery["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut parts = jwt.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in JWKS");
    let n =
        rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap());
    let e =
        rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap());
    let public = rsa::RsaPublicKey::new(n, e).unwrap();
    let digest =
        Sha256::digest(format!("{}.{}", jwt.split('.').next().unwrap(), payload).as_bytes());
    rsa::Pkcs1v15Sign::new::<Sha256>()
        .verify(
            &public,
            &digest,
            &URL_SAFE_NO_PAD.decode(signature).unwrap(),
        )
        .expect("id_token signature verifies with the published key");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn authorize_never_redirects_to_an_unregistered_uri_and_requires_pkce() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    let base = format!("{}_sso_bridge/op/authorize", w.bridge_url);
    let page = browser
        .get(&format!(
            "{base}?client_id=eng&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid&code_challenge=x&code_challenge_method=S256"
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location.is_none());
    let page = browser
        .get(&format!("{base}?client_id=nobody&redirect_uri=x"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location.is_none());
    let mut no_pkce = Url::parse(&base).unwrap();
    no_pkce
        .query_pairs_mut()
        .append_pair("client_id", "eng")
        .append_pair(
            "redirect_uri",
            &format!("{}_synapse/client/oidc/callback", w.eng.url),
        )
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "s1");
    let page = browser.get(no_pkce.as_str()).await;
    let location = page
        .location
        .expect("error goes back to the registered redirect_uri");
    assert_eq!(query_values(&location, "error"), ["invalid_request"]);
    assert_eq!(query_values(&location, "state"), ["s1"]);
}

#[tokio::test]
async fn the_matrix_front_door_advertises_every_department() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    for version in ["r0", "v3"] {
        let login: serde_json::Value =
            reqwest::get(format!("{}_matrix/client/{version}/login", w.bridge_url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let flows = login["flows"].as_array().unwrap();
        let sso = flows
            .iter()
            .find(|f| f["type"] == "m.login.sso")
            .expect("m.login.sso");
        let ids: Vec<&str> = sso["identity_providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["eng", "hist", "phys"]);
        assert!(flows.iter().any(|f| f["type"] == "m.login.token"));
    }
    let versions = reqwest::get(format!("{}_matrix/client/versions", w.bridge_url))
        .await
        .unwrap();
    assert_eq!(versions.headers()["access-control-allow-origin"], "*");
    let versions: serde_json::Value = versions.json().await.unwrap();
    assert!(
        versions["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "v1.1")
    );
    let well_known: serde_json::Value =
        reqwest::get(format!("{}.well-known/matrix/client", w.bridge_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        well_known["m.homeserver"]["base_url"],
        w.bridge_url.trim_end_matches('/'),
        "no trailing slash, for clients that append paths"
    );
    let unknown = reqwest::get(format!("{}_matrix/client/v3/rooms", w.bridge_url))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["errcode"], "M_UNRECOGNIZED");
}

#[tokio::test]
async fn the_picker_searches_and_routes_by_email_without_javascript() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    // A login start answers with the picker itself: one request.
    let picker = browser.get(&start_url(w, None, TRUSTED_CLIENT)).await;
    assert_eq!(picker.status, StatusCode::OK);
    let csp = picker.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // Scripts run only with this response's nonce.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a script nonce");
    assert!(nonce.len() >= 22, "{csp}");
    assert!(
        picker
            .body
            .contains(&format!("<script nonce=\"{nonce}\" src=")),
        "{}",
        picker.body
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(picker.headers["referrer-policy"], "no-referrer");
    assert_eq!(picker.headers["cache-control"], "no-store");
    assert!(
        picker.body.contains("Faculty of Engineering")
            && picker.body.contains("Department of History")
    );
    // The search form leads to the picker's own route, with the same login.
    let flow = hidden(&picker, "flow").unwrap();
    let searched = browser
        .get(&format!(
            "{}_sso_bridge/pick?flow={flow}&q=histo",
            w.bridge_url
        ))
        .await;
    assert!(searched.body.contains("Department of History"));
    assert!(!searched.body.contains("Faculty of Engineering"));
    assert!(searched.body.contains("1 of 3 departments"));

    let pick = format!("{}_sso_bridge/pick", w.bridge_url);
    let routed = browser
        .post_form(
            &pick,
            &[
                ("flow".into(), flow.clone()),
                ("email".into(), "Alice@ENG.ac.cdl".into()),
            ],
        )
        .await;
    let location = routed.location.expect("e-mail routes to the IdP");
    assert!(location.as_str().starts_with(&w.idp_url), "{location}");
    assert_eq!(query_values(&location, "login_hint"), ["Alice@ENG.ac.cdl"]);
    assert_eq!(query_values(&location, "code_challenge_method"), ["S256"]);
    assert_eq!(query_values(&location, "nonce").len(), 1);
    let unknown = browser
        .post_form(
            &pick,
            &[
                ("flow".into(), flow),
                ("email".into(), "x@unknown.org".into()),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.title(), "No department uses this e-mail domain");

    // A login_hint with a known domain skips the picker from the start.
    let mut start = Url::parse(&start_url(w, None, TRUSTED_CLIENT)).unwrap();
    start
        .query_pairs_mut()
        .append_pair("login_hint", "bob@hist.ac.cdl");
    let page = Browser::new().get(start.as_str()).await;
    assert!(page.location.unwrap().as_str().starts_with(&w.idp_url));
}

#[tokio::test]
async fn colliding_and_unusual_user_names_get_distinct_valid_accounts() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (alice, _) = full_login(&Browser::new(), &person("alice", NO_PICKER), Some("eng")).await;
    assert_eq!(alice, "@alice:eng.test");
    let (carol, _) = full_login(&Browser::new(), &person("carol", NO_PICKER), Some("eng")).await;
    assert_ne!(
        carol, alice,
        "carol also says preferred_username=alice, but is another person"
    );
    assert!(
        carol.starts_with("@alice") && carol.ends_with(":eng.test"),
        "{carol}"
    );
    let (again, _) = full_login(&Browser::new(), &person("carol", NO_PICKER), Some("eng")).await;
    assert_eq!(again, carol, "and keeps her account");
    let (dave, _) = full_login(&Browser::new(), &person("dave", NO_PICKER), Some("eng")).await;
    assert_eq!(dave, "@dave.o_brien:eng.test");
}

#[tokio::test]
async fn saml_login_through_the_picker_ends_at_the_department_homeserver() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (user, homeserver) = full_login(&Browser::new(), &person("paula", "phys"), None).await;
    assert_eq!(user, "@paula:phys.test");
    assert_eq!(homeserver, w.phys.client_url());
    // Again: the persistent NameID keeps the same account.
    let (again, _) = full_login(&Browser::new(), &person("paula", NO_PICKER), Some("phys")).await;
    assert_eq!(again, user);
}

#[tokio::test]
async fn saml_user_of_another_department_is_refused() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let page = Browser::new()
        .drive(
            &start_url(w, Some("phys"), TRUSTED_CLIENT),
            &person("ivan", NO_PICKER),
            TRUSTED_CLIENT,
        )
        .await
        .stuck();
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(page.title(), "You are not a member of this department");
    assert!(page.body.contains("Department of Physics"));
}

#[tokio::test]
async fn saml_a_restart_between_authn_request_and_acs_loses_nothing() {
    let w = world();
    let _exclusive = w.bridge_lock.write().await;
    let browser = Browser::new();
    let at_idp = browser
        .drive(
            &start_url(w, Some("phys"), TRUSTED_CLIENT),
            &person("paula", NO_PICKER),
            &w.saml_idp_url,
        )
        .await
        .reached();
    assert!(
        at_idp.query_pairs().any(|(k, _)| k == "SAMLRequest"),
        "{at_idp}"
    );
    w.restart_bridge().await;
    let (user, _) = continue_login(&browser, at_idp.as_str(), &person("paula", NO_PICKER)).await;
    assert_eq!(
        user, "@paula:phys.test",
        "the login completes after the restart"
    );
}

#[tokio::test]
async fn saml_encrypted_assertions_are_decrypted_with_the_sp_key() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (user, homeserver) =
        full_login(&Browser::new(), &person("quentin", NO_PICKER), Some("phys")).await;
    assert_eq!(user, "@quentin:phys.test");
    assert_eq!(homeserver, w.phys.client_url());
}

/// MSC1730: a client that ignores `homeserver` sends the token to the bridge.
async fn login_at_bridge(body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let w = world();
    let response = reqwest::Client::new()
        .post(format!("{}_matrix/client/v3/login", w.bridge_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_client_ignoring_homeserver_logs_in_through_the_bridge_and_learns_its_homeserver() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let final_url = Browser::new()
        .drive(
            &start_url(w, Some("hist"), TRUSTED_CLIENT),
            &person("bob", NO_PICKER),
            TRUSTED_CLIENT,
        )
        .await
        .reached();
    let (token, _ignored_homeserver) = token_and_homeserver(&final_url);
    let (status, body) =
        login_at_bridge(serde_json::json!({ "type": "m.login.token", "token": token })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "@bob:hist.test");
    assert_eq!(
        body["well_known"]["m.homeserver"]["base_url"],
        w.hist.client_url(),
        "no trailing slash, for clients that append paths"
    );
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(
        whoami(&w.hist.url, access_token).await,
        "@bob:hist.test",
        "the access token is the department's"
    );
    w.assert_not_logged(&token, "the loginToken given to the bridge's /login");

    // The token is single use, at the department as everywhere.
    let (status, body) =
        login_at_bridge(serde_json::json!({ "type": "m.login.token", "token": token })).await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (StatusCode::FORBIDDEN, Some("M_FORBIDDEN"))
    );
}

#[tokio::test]
async fn the_bridge_login_endpoint_refuses_what_it_cannot_do_with_matrix_errors() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (status, body) =
        login_at_bridge(serde_json::json!({ "type": "m.login.token", "token": "syl_not_a_token" }))
            .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (StatusCode::FORBIDDEN, Some("M_FORBIDDEN"))
    );
    let (status, body) = login_at_bridge(
        serde_json::json!({ "type": "m.login.password", "user": "alice", "password": "x" }),
    )
    .await;
    assert_eq!(
        (status, body["errcode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("M_UNKNOWN"))
    );
    assert!(body["error"].as_str().unwrap().contains("single sign-on"));
    let response = reqwest::Client::new()
        .post(format!("{}_matrix/client/v3/login", w.bridge_url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], "M_NOT_JSON");
    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}_matrix/client/v3/login", w.bridge_url),
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}

/// Runs a browser script from tests/peers/browser in headless Chromium; returns its JSON.
pub(crate) async fn browser_script(script: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let w = world();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(
            sso_bridge_testing::world::root()
                .join("tests/peers/browser")
                .join(script),
        )
        .env("BRIDGE_URL", &w.bridge_url);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().await.expect("run node");
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the script prints JSON")
}

/// Runs the fallback in Chromium with the app's callback given as `hooks` says
/// (see tests/peers/browser/fallback.mjs) and checks that exactly one callback
/// was called, once, the one named `via`, with the response and the homeserver.
async fn fallback_in_chromium(hooks: &str, via: &str) -> serde_json::Value {
    let w = world();
    let result = browser_script(
        "fallback.mjs",
        &[
            ("USERNAME", "alice"),
            ("PASSWORD", sso_bridge_testing::world::PASSWORD),
            ("DEPARTMENT", "eng"),
            ("HOOKS", hooks),
        ],
    )
    .await;
    let calls = result["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "exactly one call ({hooks}): {result}");
    let call = &calls[0];
    assert_eq!(call["via"], via, "{hooks}: {result}");
    assert_eq!(
        call["homeserver"],
        w.eng.client_url(),
        "two arguments: the response and the homeserver"
    );
    assert_eq!(call["response"]["user_id"], "@alice:eng.test");
    assert_eq!(
        call["response"]["device_id"], "FALLBACKDEV",
        "device_id passed through"
    );
    assert!(
        call["response"]["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let url = result["url"].as_str().unwrap();
    assert!(
        !url.contains("loginToken"),
        "no token left in the address bar: {url}"
    );
    assert!(url.contains("device_id=FALLBACKDEV"), "{url}");
    result
}

#[tokio::test]
async fn the_login_fallback_calls_exactly_one_callback_matrix_login_when_the_app_replaced_it() {
    let _shared = world().bridge_lock.read().await;
    // Both defined: Synapse's convention wins, window.onLogin is not called too.
    fallback_in_chromium("both", "matrixLogin.onLogin").await;
    // Only window.onLogin: that one.
    fallback_in_chromium("onLogin", "onLogin").await;
}

#[tokio::test]
async fn the_login_fallback_waits_for_a_hook_set_after_the_load_event() {
    let _shared = world().bridge_lock.read().await;
    // As Element Android does: `window.matrixLogin.onLogin = …` from outside,
    // once the page has loaded. The page defined window.matrixLogin, waited
    // without redeeming the token, then delivered the login once.
    let result = fallback_in_chromium("late", "matrixLogin.onLogin").await;
    let waited = &result["waited"];
    assert_eq!(waited["hasMatrixLogin"], true, "{result}");
    assert_eq!(waited["waiting"], "true", "{result}");
    assert_eq!(
        waited["userId"],
        serde_json::Value::Null,
        "the token was not redeemed before the app listened: {result}"
    );
}

#[tokio::test]
async fn an_msc1731_web_client_in_chromium_logs_in_through_oidc_and_saml() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    for (department, username, user, homeserver) in [
        ("eng", "alice", "@alice:eng.test", w.eng.client_url()),
        ("phys", "paula", "@paula:phys.test", w.phys.client_url()),
    ] {
        let result = browser_script(
            "client.mjs",
            &[("DEPARTMENT", department), ("USERNAME", username)],
        )
        .await;
        assert_eq!(result["user_id"], user, "{result}");
        assert_eq!(result["homeserver"], homeserver, "{result}");
        assert!(
            !result["url"].as_str().unwrap().contains("loginToken"),
            "{result}"
        );
    }
}

#[tokio::test]
async fn a_web_client_ignoring_homeserver_in_chromium_is_sent_on_by_well_known() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let result = browser_script(
        "client.mjs",
        &[
            ("DEPARTMENT", "hist"),
            ("USERNAME", "bob"),
            ("MODE", "msc1730"),
        ],
    )
    .await;
    assert_eq!(result["user_id"], "@bob:hist.test", "{result}");
    assert_eq!(
        result["homeserver"],
        w.hist.client_url(),
        "well_known names the department: {result}"
    );
}

#[tokio::test]
async fn picker_confirmation_error_and_fallback_pages_have_no_accessibility_violations() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let shots = w.dir.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let result = browser_script("pages.mjs", &[("SCREENSHOT_DIR", &shots.to_string_lossy())]).await;
    for page in ["picker", "confirm", "error", "fallback"] {
        let violations = result[page]
            .as_array()
            .unwrap_or_else(|| panic!("{page} was not scanned: {result}"));
        assert!(
            violations.is_empty(),
            "axe-core violations on the {page} page: {violations:#?}"
        );
    }
    assert!(shots.join("picker.png").exists() && shots.join("fallback.png").exists());
}

#[tokio::test]
async fn a_web_client_ignoring_homeserver_in_chromium_follows_a_307_in_redirect_mode() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // The client lives at the second instance, which answers MSC1730 logins with 307.
    let result = browser_script(
        "client.mjs",
        &[
            ("BRIDGE_URL", &w.redirect_bridge_url),
            ("DEPARTMENT", "hist"),
            ("USERNAME", "bob"),
            ("MODE", "msc1730"),
        ],
    )
    .await;
    assert_eq!(result["user_id"], "@bob:hist.test", "{result}");
    let login_url = result["login_url"].as_str().unwrap();
    assert!(
        login_url.starts_with(&w.hist.url),
        "the browser followed the 307 to the department: {result}"
    );
    // Here the answer is the homeserver's own, well_known as Synapse writes it.
    assert_eq!(
        result["homeserver"]
            .as_str()
            .map(|u| u.trim_end_matches('/')),
        Some(w.hist.client_url()),
        "well_known names the department: {result}"
    );
}

#[tokio::test]
async fn the_picker_shows_department_logos_and_an_email_example_from_a_configured_domain() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let picker = Browser::new()
        .get(&start_url(w, None, TRUSTED_CLIENT))
        .await;
    assert_eq!(picker.status, StatusCode::OK);
    assert!(
        picker.body.contains(r#"placeholder="name@eng.ac.cdl""#),
        "the e-mail example names a configured domain: {}",
        picker.body
    );
    for id in ["eng", "hist", "phys"] {
        let logo = format!("{}_sso_bridge/static/demo/{id}.svg", w.bridge_url);
        assert!(
            picker
                .body
                .contains(&format!(r#"<img src="{logo}" alt="""#)),
            "{id}'s logo, decorative (the name is the label): {}",
            picker.body
        );
        let image = reqwest::get(&logo).await.unwrap();
        assert_eq!(image.status(), StatusCode::OK, "{logo}");
        assert_eq!(image.headers()["content-type"], "image/svg+xml");
        assert!(image.text().await.unwrap().starts_with("<svg"));
    }
}

#[tokio::test]
async fn pages_show_the_university_in_their_header_and_department_names_in_the_page_language() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let picker = |lang: &'static str| async move {
        let response = reqwest::Client::new()
            .get(start_url(w, None, TRUSTED_CLIENT))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };
    let logo = format!("{}_sso_bridge/static/demo/university.svg", w.bridge_url);
    for (lang, names, absent) in [
        (
            "fr-CA,fr;q=0.9",
            [
                "Faculté d’ingénierie",
                "Département d’histoire",
                "Département de physique",
            ],
            "Faculty of Engineering",
        ),
        (
            "en",
            [
                "Faculty of Engineering",
                "Department of History",
                "Department of Physics",
            ],
            "Faculté d’ingénierie",
        ),
    ] {
        let page = picker(lang).await;
        assert!(
            page.contains(r#"<span class="university">Test University</span>"#),
            "the university in the header ({lang}): {page}"
        );
        assert!(
            page.contains(&format!(
                r#"<img class="university-logo" src="{logo}" alt="""#
            )),
            "its logo, beside its name ({lang}): {page}"
        );
        for name in names {
            assert!(page.contains(name), "{name} ({lang}): {page}");
        }
        assert!(!page.contains(absent), "{absent} ({lang})");
    }
    // The picker's search finds a department by its name in either language.
    let browser = Browser::new();
    let start = browser.get(&start_url(w, None, TRUSTED_CLIENT)).await;
    let flow = sso_bridge_testing::browser::hidden(&start, "flow").unwrap();
    let found = browser
        .get(&format!(
            "{}_sso_bridge/pick?flow={flow}&q=ing%C3%A9nierie",
            w.bridge_url
        ))
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let found = found.body;
    assert!(found.contains(r#"value="eng""#), "{found}");
    assert!(!found.contains(r#"value="hist""#), "{found}");
}

#[tokio::test]
async fn after_a_refusal_start_again_leads_to_a_login_at_the_right_department() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    // Alice picks History by mistake: refused there.
    let refused = browser
        .drive(
            &start_url(w, None, TRUSTED_CLIENT),
            &person("alice", "hist"),
            TRUSTED_CLIENT,
        )
        .await
        .stuck();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.title(), "You are not a member of this department");
    assert!(
        !refused.body.contains("Back button"),
        "no pointing at the browser's Back button, which leads to the IdP's spent page"
    );
    let selector = scraper::Selector::parse("a.button").unwrap();
    let html = refused.html();
    let button = html
        .select(&selector)
        .next()
        .unwrap_or_else(|| panic!("a Start again button: {}", refused.body));
    assert_eq!(button.text().collect::<String>(), "Start again");
    let again = Url::parse(&w.bridge_url)
        .unwrap()
        .join(button.value().attr("href").unwrap())
        .unwrap();
    assert_eq!(again.path(), "/_matrix/client/v3/login/sso/redirect");
    assert_eq!(
        query_values(&again, "redirectUrl"),
        vec![TRUSTED_CLIENT.to_owned()],
        "the same client"
    );
    // Starting again, she picks Engineering and is logged in there.
    let (user, homeserver) =
        continue_login(&browser, again.as_str(), &person("alice", "eng")).await;
    assert_eq!(user, "@alice:eng.test");
    assert_eq!(homeserver, w.eng.client_url());
}

#[tokio::test]
async fn after_a_refusal_start_again_in_chromium_ends_in_a_login_at_another_department() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let client = format!("{}_test/client/", w.bridge_url);
    let result = browser_script("restart.mjs", &[("CLIENT_URL", &client)]).await;
    let refusal = &result["refusal"];
    assert_eq!(refusal["status"], 403, "{result}");
    assert!(
        refusal["title"]
            .as_str()
            .unwrap()
            .starts_with("You are not a member of this department"),
        "{result}"
    );
    assert_eq!(refusal["button"], "Start again", "{result}");
    let after = Url::parse(result["after_button"].as_str().unwrap()).unwrap();
    assert_eq!(after.path(), "/_matrix/client/v3/login/sso/redirect");
    assert_eq!(
        query_values(&after, "redirectUrl"),
        vec![client.clone()],
        "the same client"
    );
    let reached = Url::parse(result["reached"].as_str().unwrap()).unwrap();
    let (token, homeserver) = token_and_homeserver(&reached);
    assert_eq!(homeserver, w.eng.client_url(), "{result}");
    let logged_in = sso_bridge_testing::matrix::login_with_token(&homeserver, &token)
        .await
        .unwrap();
    assert_eq!(logged_in.user_id, "@alice:eng.test");
}

#[tokio::test]
async fn the_confirmation_page_leaves_the_login_token_in_no_history_entry_in_chromium() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let result = browser_script("confirm.mjs", &[("USERNAME", "alice")]).await;
    let continue_to = Url::parse(result["continue_to"].as_str().unwrap()).unwrap();
    let (token, _) = token_and_homeserver(&continue_to);
    let history: Vec<&str> = result["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(
        history
            .iter()
            .any(|u| u.contains("/_sso_bridge/confirm?flow=")),
        "the confirmation page is a history entry: {result}"
    );
    for entry in &history {
        assert!(
            !entry.contains(&token) && !entry.contains("loginToken"),
            "the loginToken stays in the history: {entry}"
        );
    }
    assert!(!result["url"].as_str().unwrap().contains("loginToken"));
}

#[tokio::test]
async fn the_pickers_form_action_lets_a_login_with_a_live_idp_session_run_through_in_chromium() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // A client on the bridge's own origin (always allowed): Chromium refuses
    // TRUSTED_CLIENT's port 9 as unsafe.
    let client = format!("{}_test/client/", w.bridge_url);
    let result = browser_script("session.mjs", &[("CLIENT_URL", &client)]).await;
    let csp = result["picker_csp"].as_str().unwrap();
    let form_action = csp
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("form-action "))
        .unwrap_or_else(|| panic!("the picker's CSP has form-action: {csp}"));
    let sources: Vec<&str> = form_action.split(' ').collect();
    assert_eq!(sources[0], "'self'", "{csp}");
    for origin in [
        w.idp_url.trim_end_matches('/'),
        w.eng.client_url(),
        TRUSTED_CLIENT.trim_end_matches("/client/"),
    ] {
        assert!(sources.contains(&origin), "{origin} in {form_action}");
    }
    assert!(
        !sources
            .iter()
            .any(|s| s.contains('*') || *s == "https:" || *s == "http:"),
        "no wildcard: {form_action}"
    );
    assert!(
        result["csp_messages"].as_array().unwrap().is_empty(),
        "Chromium blocked a step: {result}"
    );
    for login in ["first", "second"] {
        let url = Url::parse(result[login].as_str().unwrap()).unwrap();
        let (_, homeserver) = token_and_homeserver(&url);
        assert_eq!(homeserver, w.eng.client_url(), "{login}: {result}");
    }
    // The second login showed the picker and then the client, nothing between:
    // the IdP's session carried it through one chain of redirects.
    let shown: Vec<&str> = result["shown"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u.as_str())
        .collect();
    assert!(
        shown.len() == 2
            && shown[0].contains("/login/sso/redirect?")
            && shown[1].starts_with(&client),
        "no page of the IdP or the homeserver on the way: {shown:?} {result}"
    );
}

async fn versions_of(base: &str) -> serde_json::Value {
    reqwest::get(format!(
        "{}/_matrix/client/versions",
        base.trim_end_matches('/')
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn the_central_versions_carry_what_every_department_shares() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // What the three real Synapses share.
    let mut departments = Vec::new();
    for hs in [&w.eng, &w.hist, &w.phys] {
        departments.push(versions_of(&hs.url).await);
    }
    let on = |answer: &serde_json::Value| -> std::collections::BTreeSet<String> {
        answer["unstable_features"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.clone())
            .collect()
    };
    let shared_features = departments
        .iter()
        .map(on)
        .reduce(|a, b| a.intersection(&b).cloned().collect())
        .unwrap();
    assert!(
        !shared_features.is_empty(),
        "the test Synapses advertise unstable features"
    );
    let shared_versions = departments[0]["versions"].clone();
    // The bridge asks at start and every minute; give its first round a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let central = loop {
        let central = versions_of(&w.bridge_url).await;
        if shared_features.iter().all(|f| on(&central).contains(f))
            || std::time::Instant::now() > deadline
        {
            break central;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let central_features = on(&central);
    for feature in &shared_features {
        assert!(
            central_features.contains(feature),
            "{feature} is shared by every department: {central}"
        );
    }
    assert!(central_features.contains("org.matrix.msc1731"));
    assert!(central_features.contains("org.matrix.msc1730"));
    assert_eq!(
        central["versions"], shared_versions,
        "the spec versions every department speaks"
    );
}
