//! A client matrix: the real matrix-js-sdk (the SDK Element Web is built on)
//! logs in through the real bridge, the real IdPs and the real Synapses, with
//! the person's part (picker, IdP forms) done in headless Chromium. See
//! tests/peers/browser/sdk.mjs.

use serde_json::{Value, json};
use url::Url;

use crate::login::browser_script;
use sso_bridge_testing::world::{PASSWORD, TRUSTED_CLIENT, world};

/// Runs sdk.mjs as `scenario` with the client at TRUSTED_CLIENT (on the
/// bridge's allow-list: no confirmation page).
async fn sdk(scenario: &str, env: &[(&str, &str)]) -> Value {
    let mut all = vec![
        ("SCENARIO", scenario),
        ("CLIENT_URL", TRUSTED_CLIENT),
        ("PASSWORD", PASSWORD),
    ];
    all.extend_from_slice(env);
    browser_script("sdk.mjs", &all).await
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string: {value}"))
}

fn shown(value: &Value) -> Vec<&str> {
    value["shown"]
        .as_array()
        .unwrap_or_else(|| panic!("shown documents: {value}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[tokio::test]
async fn matrix_js_sdk_logs_in_through_the_picker_an_idp_id_and_saml_and_uses_the_homeserver_it_was_given()
 {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let logins = json!([
        { "department": "eng", "username": "alice" },
        { "department": "hist", "username": "bob", "idp": "hist" },
        { "department": "phys", "username": "paula" },
    ]);
    let result = sdk("msc1731", &[("LOGINS", &logins.to_string())]).await;
    let results = result["logins"].as_array().expect("logins");
    assert_eq!(results.len(), 3, "{result}");
    let sso_start = format!("{}_matrix/client/v3/login/sso/redirect", w.bridge_url);
    for (login, (department, user, homeserver, idp_form_at, picker)) in results.iter().zip([
        (
            "eng",
            "@alice:eng.test",
            w.eng.client_url(),
            &w.idp_url,
            true,
        ),
        (
            "hist",
            "@bob:hist.test",
            w.hist.client_url(),
            &w.idp_url,
            false,
        ),
        (
            "phys",
            "@paula:phys.test",
            w.phys.client_url(),
            &w.saml_idp_url,
            true,
        ),
    ]) {
        assert_eq!(login["department"], department, "{login}");
        // The SDK's own SSO address, at the bridge.
        let sso_url = str_of(login, "sso_url");
        if picker {
            assert!(sso_url.starts_with(&format!("{sso_start}?")), "{login}");
        } else {
            assert!(
                sso_url.starts_with(&format!("{sso_start}/{department}?")),
                "{login}"
            );
        }
        // The first page: the picker, or with an idpId the IdP's form at once.
        let first = &login["first_page"];
        assert_eq!(first["picker"], picker, "{login}");
        if picker {
            assert!(str_of(first, "url").starts_with(&w.bridge_url), "{login}");
        } else {
            assert!(str_of(first, "url").starts_with(idp_form_at), "{login}");
            assert_eq!(first["password_field"], true, "{login}");
            assert!(
                shown(login)[0].starts_with(idp_form_at),
                "no document before the IdP's form: {login}"
            );
        }
        assert!(
            shown(login).iter().any(|u| u.starts_with(idp_form_at)),
            "the department's IdP asked for the password: {login}"
        );
        // Sent back to the client with one loginToken and one homeserver.
        let redirect = &login["redirect"];
        assert_eq!(redirect["login_token_count"], 1, "{login}");
        assert_eq!(redirect["homeserver_count"], 1, "{login}");
        assert_eq!(redirect["homeserver"], homeserver, "{login}");
        assert_eq!(redirect["other_query"], json!([]), "{login}");
        assert_eq!(redirect["fragment"], "", "{login}");
        // The SDK on that homeserver: the account is the department's.
        assert_eq!(login["login_user_id"], user, "{login}");
        assert_eq!(login["whoami_user_id"], user, "{login}");
        assert_eq!(
            login["whoami_device_id"], login["login_device_id"],
            "{login}"
        );
        assert!(str_of(login, "room_id").starts_with('!'), "{login}");
        assert_eq!(
            login["room_joined"], true,
            "the room is on that homeserver: {login}"
        );
        // After logout the old token is dead there.
        assert_eq!(
            login["after_logout"]["errcode"], "M_UNKNOWN_TOKEN",
            "{login}"
        );
        assert_eq!(login["after_logout"]["status"], 401, "{login}");
    }
}

#[tokio::test]
async fn matrix_js_sdk_logging_in_at_the_bridge_as_element_web_does_is_sent_on_to_the_department_by_well_known()
 {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // Element Web's callback URL: its own address and the view to return to.
    let redirect_url = format!("{TRUSTED_CLIENT}?app=element#/room/!abc:phys.test");
    let result = sdk(
        "msc1730",
        &[
            ("DEPARTMENT", "phys"),
            ("USERNAME", "paula"),
            ("REDIRECT_URL", &redirect_url),
        ],
    )
    .await;
    // The central address passes the SDK's discovery (its /versions included),
    // and says it has no OIDC-native login, as the spec wants it said.
    let central = w.bridge_url.trim_end_matches('/');
    assert_eq!(result["central_discovery_state"], "SUCCESS", "{result}");
    assert_eq!(result["central_base_url"], central, "{result}");
    assert_eq!(
        result["central_well_known"]["m.homeserver"]["base_url"], central,
        "{result}"
    );
    assert_eq!(result["auth_metadata"]["status"], 404, "{result}");
    assert_eq!(
        result["auth_metadata"]["errcode"], "M_UNRECOGNIZED",
        "{result}"
    );
    let providers: Vec<&str> = result["identity_providers"]
        .as_array()
        .expect("identity providers")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for department in ["eng", "hist", "phys"] {
        assert!(providers.contains(&department), "{result}");
    }
    // Element Web's SSO button: straight to the SAML IdP's form.
    assert_eq!(result["first_page"]["picker"], false, "{result}");
    assert!(
        str_of(&result["first_page"], "url").starts_with(&w.saml_idp_url),
        "{result}"
    );
    let homeserver = w.phys.client_url();
    assert_eq!(result["redirect"]["login_token_count"], 1, "{result}");
    assert_eq!(result["redirect"]["homeserver_count"], 1, "{result}");
    assert_eq!(result["redirect"]["homeserver"], homeserver, "{result}");
    // The client's own query and fragment come back as they were.
    assert_eq!(
        result["redirect"]["other_query"],
        json!([["app", "element"]]),
        "{result}"
    );
    assert_eq!(
        result["redirect"]["fragment"], "#/room/!abc:phys.test",
        "{result}"
    );
    // The bridge's answer to the token: the department's account, and where it lives.
    assert_eq!(result["login_user_id"], "@paula:phys.test", "{result}");
    assert_eq!(
        result["well_known"]["m.homeserver"]["base_url"], homeserver,
        "the raw base_url (Element Web uses it as it is): {result}"
    );
    // The SDK's own discovery accepts it (it asked the homeserver's /versions).
    assert_eq!(result["discovery_state"], "SUCCESS", "{result}");
    assert_eq!(result["discovery_error"], Value::Null, "{result}");
    assert_eq!(result["discovered_base_url"], homeserver, "{result}");
    // The access token works there.
    assert_eq!(result["whoami"]["user_id"], "@paula:phys.test", "{result}");
    assert_eq!(
        result["whoami"]["device_id"], result["login_device_id"],
        "{result}"
    );
}

#[tokio::test]
async fn a_user_refused_by_the_department_never_reaches_the_matrix_js_sdk_client() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let result = sdk("refused", &[("DEPARTMENT", "hist"), ("USERNAME", "alice")]).await;
    assert_eq!(result["first_page"]["picker"], true, "{result}");
    assert_eq!(result["status"], 403, "{result}");
    assert!(
        str_of(&result, "title").starts_with("You are not a member of this department"),
        "{result}"
    );
    assert!(
        str_of(&result, "url").starts_with(&w.bridge_url),
        "{result}"
    );
    let requests: Vec<Url> = result["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|u| Url::parse(u).ok())
        .collect();
    assert!(
        requests.iter().any(|u| u.as_str().starts_with(&w.idp_url)),
        "the requests were recorded: {result}"
    );
    let client = Url::parse(TRUSTED_CLIENT).unwrap().origin();
    for request in &requests {
        assert_ne!(
            request.origin(),
            client,
            "the client was asked for: {request}"
        );
    }
}
