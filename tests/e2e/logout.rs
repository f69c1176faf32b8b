//! Logout that reaches every department: sessions ended at the bridge, each
//! department's Synapse told by OIDC Back-Channel Logout (configured only by
//! `homeserver-config`), the bridge's token-validation cache dropped.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;

use sso_bridge_testing::browser::Browser;
use sso_bridge_testing::login::{login, person};
use sso_bridge_testing::matrix::LoggedIn;
use sso_bridge_testing::world::{World, world};

/// `whoami` at the token's homeserver: the status and the JSON answer.
pub(crate) async fn whoami_status(session: &LoggedIn) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v3/account/whoami",
            session.homeserver
        ))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits (up to 10 s) until the homeserver refuses the token as unknown.
pub(crate) async fn until_token_dies(session: &LoggedIn) {
    until_token_dies_within(session, 10).await;
}

pub(crate) async fn until_token_dies_within(session: &LoggedIn, seconds: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let (status, body) = whoami_status(session).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["errcode"], "M_UNKNOWN_TOKEN", "{body}");
            return;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "{}'s token still works at {}",
            session.user_id,
            session.homeserver
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Runs `sso-bridge sessions ARGS --config …`; returns stdout.
pub(crate) fn sessions_command(w: &World, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sso-bridge"))
        .arg("sessions")
        .args(args)
        .arg("--config")
        .arg(&w.config_path)
        .output()
        .expect("run sso-bridge sessions");
    assert!(
        out.status.success(),
        "sso-bridge sessions {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn sessions_end_for_one_person_in_one_department_ends_that_session_only() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let frank = login(&Browser::new(), &person("frank", "eng"), Some("eng")).await;
    let grace = login(&Browser::new(), &person("grace", "eng"), Some("eng")).await;
    assert_eq!(frank.user_id, "@frank:eng.test");

    let listed = sessions_command(w, &["list", "--department", "eng", "--user", "frank"]);
    assert!(
        listed.contains("  eng  @frank:eng.test  since "),
        "{listed}"
    );
    assert!(!listed.contains("grace"), "{listed}");

    let ended = sessions_command(w, &["end", "--department", "eng", "--user", "frank"]);
    assert!(
        ended.contains("@frank:eng.test") && ended.contains("ended at its homeserver"),
        "each homeserver's answer printed: {ended}"
    );
    until_token_dies(&frank).await;
    let (status, _) = whoami_status(&grace).await;
    assert_eq!(status, StatusCode::OK, "another person's session lives on");
    // Once ended, nothing is left to end.
    let again = sessions_command(w, &["end", "--department", "eng", "--user", "frank"]);
    assert_eq!(again, "no live session matches\n");
}

/// The bridge's count of upstream logout messages refused (or taken) as `reason`.
async fn upstream_logouts(reason: &str) -> f64 {
    let w = world();
    w.metric(
        &w.bridge_url,
        "sso_bridge_upstream_logouts_total",
        &[&format!("result=\"{reason}\"")],
    )
    .await
}

/// The token's verdict at the bridge's introspection, as a university service sees it.
async fn introspected_active(session: &LoggedIn) -> bool {
    let (status, body, _) = crate::introspection::introspect(
        &world().bridge_url,
        "sessions",
        &session.access_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["active"].as_bool().unwrap()
}

/// Ends the person's session at the test OIDC IdP the way they would: its
/// logout page (`/session/end`), confirmed. The IdP then sends its logout
/// tokens, and answers once the bridge has answered them.
async fn log_out_at_the_idp(browser: &Browser) {
    let w = world();
    let page = browser.get(&format!("{}/session/end", w.idp_url)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let xsrf = sso_bridge_testing::browser::hidden(&page, "xsrf")
        .unwrap_or_else(|| panic!("the IdP's logout form: {}", page.body));
    let done = browser
        .post_form(
            &format!("{}/session/end/confirm", w.idp_url),
            &[("xsrf".into(), xsrf), ("logout".into(), "yes".into())],
        )
        .await;
    assert!(
        done.status.is_success() || done.status.is_redirection(),
        "{} {}",
        done.status,
        done.body
    );
}

#[tokio::test]
async fn the_idps_logout_ends_the_persons_sessions_in_every_department() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // Erin belongs to two departments; one browser, one IdP session.
    let browser = Browser::new();
    let at_eng = login(&browser, &person("erin", "eng"), Some("eng")).await;
    let at_hist = login(&browser, &person("erin", "hist"), Some("hist")).await;
    assert_eq!(at_eng.user_id, "@erin:eng.test");
    assert_eq!(at_hist.user_id, "@erin:hist.test");
    // A service has validated both tokens: the verdicts are cached.
    assert!(introspected_active(&at_eng).await);
    assert!(introspected_active(&at_hist).await);
    let accepted_before = w
        .metric(
            &w.bridge_url,
            "sso_bridge_upstream_logouts_total",
            &["upstream=\"university\"", "result=\"accepted\""],
        )
        .await;

    log_out_at_the_idp(&browser).await;

    // The cache was dropped: inactive at once, in both departments.
    assert!(!introspected_active(&at_eng).await, "eng at once");
    assert!(!introspected_active(&at_hist).await, "hist at once");
    until_token_dies(&at_eng).await;
    until_token_dies(&at_hist).await;
    let accepted = w
        .metric(
            &w.bridge_url,
            "sso_bridge_upstream_logouts_total",
            &["upstream=\"university\"", "result=\"accepted\""],
        )
        .await;
    // Other tests may send this upstream's endpoint tokens meanwhile: at least ours.
    assert!(
        accepted > accepted_before,
        "the IdP's logout token was accepted"
    );
}

/// The test OIDC IdP's own signing key (its `jwks.json` holds the private part).
fn idp_key() -> rsa::RsaPrivateKey {
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(
            sso_bridge_testing::world::root().join("tests/peers/oidc-idp/jwks.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let key = &jwks["keys"][0];
    let big = |name: &str| {
        rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap())
    };
    rsa::RsaPrivateKey::from_components(big("n"), big("e"), big("d"), vec![big("p"), big("q")])
        .unwrap()
}

/// POSTs a logout token to the bridge's back-channel logout endpoint.
async fn send_logout_token(token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}_sso_bridge/upstream/oidc/university/backchannel-logout",
            world().bridge_url
        ))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn forged_old_replayed_or_misaddressed_logout_tokens_are_refused() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let key = idp_key();
    let header =
        serde_json::json!({ "alg": "RS256", "kid": "test-idp-key-1", "typ": "logout+jwt" });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let good = |jti: &str| {
        serde_json::json!({
            "iss": w.idp_url, "aud": "sso-bridge", "iat": now, "jti": jti,
            "sid": format!("no-such-session-{jti}"),
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        })
    };
    // The harness is right: a well-made token is taken (no session matches: 200 still).
    let (status, body) = send_logout_token(&sso_bridge_testing::jwt::sign_with_header(
        &key,
        &header,
        &good("ok-1"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let other_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let tripwires = sso_bridge_sys::tripwire::Tripwires::set();
    let with = |changes: Value| {
        let mut claims = good(&format!("jti-{}", rand::random::<u64>()));
        for (k, v) in changes.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another key",
            sso_bridge_testing::jwt::sign_with_header(
                &other_key,
                &header,
                &with(serde_json::json!({})),
            ),
            "signature",
        ),
        (
            "another audience",
            sso_bridge_testing::jwt::sign_with_header(
                &key,
                &header,
                &with(serde_json::json!({ "aud": "someone-else" })),
            ),
            "audience",
        ),
        (
            "another issuer",
            sso_bridge_testing::jwt::sign_with_header(
                &key,
                &header,
                &with(serde_json::json!({ "iss": "https://evil.example" })),
            ),
            "issuer",
        ),
        (
            "a nonce",
            sso_bridge_testing::jwt::sign_with_header(
                &key,
                &header,
                &with(serde_json::json!({ "nonce": "n" })),
            ),
            "nonce",
        ),
        (
            "an hour old",
            sso_bridge_testing::jwt::sign_with_header(
                &key,
                &header,
                &with(serde_json::json!({ "iat": now - 3600 })),
            ),
            "iat",
        ),
        (
            "no event",
            sso_bridge_testing::jwt::sign_with_header(
                &key,
                &header,
                &with(serde_json::json!({ "events": {} })),
            ),
            "events",
        ),
        (
            "a replayed jti",
            sso_bridge_testing::jwt::sign_with_header(&key, &header, &good("ok-1")),
            "replay",
        ),
        (
            "a key URL to fetch",
            sso_bridge_testing::jwt::sign_with_header(
                &key,
                &serde_json::json!({ "alg": "RS256", "jku": tripwires.http_url() }),
                &with(serde_json::json!({})),
            ),
            "malformed",
        ),
        (
            "no signature (alg none)",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
                URL_SAFE_NO_PAD.encode(with(serde_json::json!({})).to_string())
            ),
            "algorithm",
        ),
    ];
    for (what, token, reason) in cases {
        let before = upstream_logouts(reason).await;
        let (status, body) = send_logout_token(&token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}: {body}");
        let after = upstream_logouts(reason).await;
        assert_eq!(after, before + 1.0, "{what} refused as {reason}: {body}");
    }
    tripwires.assert_untouched();
}

#[tokio::test]
async fn a_logout_waits_for_a_homeserver_that_is_down_across_a_bridge_restart() {
    let w = world();
    // Exclusive: History's Synapse is frozen and the bridge restarted.
    let _exclusive = w.bridge_lock.write().await;
    let heidi = login(&Browser::new(), &person("heidi", "hist"), Some("hist")).await;
    w.pause_homeserver("hist");
    let ended = sessions_command(
        w,
        &[
            "end",
            "--department",
            "hist",
            "--user",
            "heidi",
            "--wait",
            "1",
        ],
    );
    assert!(
        ended.contains("@heidi:hist.test")
            && ended.contains("queued, the homeserver has not taken it yet"),
        "{ended}"
    );
    w.restart_bridge().await;
    w.resume_homeserver("hist");
    // The restarted bridge finds the delivery in the database and sends it
    // (the frozen Synapse may also act on the first attempt's request once it
    // runs again; the delivery still counts only when a 2xx came back).
    until_token_dies_within(&heidi, 40).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let delivered = w
            .metric(
                &w.bridge_url,
                "sso_bridge_logout_deliveries_total",
                &["department=\"hist\"", "outcome=\"delivered\""],
            )
            .await;
        if delivered >= 1.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the restarted bridge never delivered the queued logout"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Asks the test SAML IdP to log `username` out of their last login:
/// `binding` redirect or post, `sign` yes, no or wrong. Returns the last page
/// the browser shows (the IdP's, after the bridge's LogoutResponse, or the
/// bridge's refusal).
async fn saml_idp_logout(
    browser: &Browser,
    username: &'static str,
    binding: &str,
    sign: &str,
) -> sso_bridge_testing::browser::Page {
    let w = world();
    browser
        .drive(
            &format!(
                "{}/logout?user={username}&binding={binding}&sign={sign}",
                w.saml_idp_url
            ),
            &person(username, "phys"),
            "http://never.invalid/",
        )
        .await
        .stuck()
}

#[tokio::test]
async fn the_saml_idps_single_logout_ends_the_persons_sessions_by_either_binding() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    for binding in ["redirect", "post"] {
        let browser = Browser::new();
        let rosa = login(&browser, &person("rosa", "phys"), Some("phys")).await;
        assert_eq!(rosa.user_id, "@rosa:phys.test");
        assert!(introspected_active(&rosa).await);

        let page = saml_idp_logout(&browser, "rosa", binding, "yes").await;
        assert_eq!(page.status, StatusCode::OK, "{binding}: {}", page.body);
        assert!(
            page.url.as_str().starts_with(&w.saml_idp_url),
            "{binding}: back at the IdP: {}",
            page.url
        );
        assert!(
            page.body.contains(
                "LogoutResponse: urn:oasis:names:tc:SAML:2.0:status:Success; signature verified"
            ),
            "{binding}: the IdP got a signed Success: {}",
            page.body
        );
        assert!(
            !introspected_active(&rosa).await,
            "{binding}: inactive at once"
        );
        until_token_dies(&rosa).await;
    }
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_saml_logout_requests_end_nothing() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let browser = Browser::new();
    let sam = login(&browser, &person("sam", "phys"), Some("phys")).await;
    for (binding, sign, reason) in [
        ("redirect", "no", "saml_logout_unsigned"),
        ("redirect", "wrong", "saml_signature"),
        ("post", "no", "saml_logout_unsigned"),
        ("post", "wrong", "saml_signature"),
    ] {
        let before = upstream_logouts(reason).await;
        let page = saml_idp_logout(&browser, "sam", binding, sign).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{binding}/{sign}: {}",
            page.body
        );
        assert!(
            page.url.as_str().starts_with(&w.bridge_url),
            "{binding}/{sign}: {}",
            page.url
        );
        assert_eq!(
            page.title(),
            "This sign-out request could not be checked",
            "{binding}/{sign}"
        );
        let after = upstream_logouts(reason).await;
        assert_eq!(after, before + 1.0, "{binding}/{sign} refused as {reason}");
    }
    let (status, _) = whoami_status(&sam).await;
    assert_eq!(status, StatusCode::OK, "sam's session lives on");
}

#[tokio::test]
async fn two_instances_on_one_database_send_each_queued_logout_exactly_once() {
    let w = world();
    // Exclusive: the deliveries counted here are this test's only.
    let _exclusive = w.bridge_lock.write().await;
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(login(&Browser::new(), &person("judy", "eng"), Some("eng")).await);
    }
    // A second instance of the same bridge: the same public address (issuer),
    // its own listener, the same database.
    let (second, mut process) = w
        .start_extra_bridge(|c| {
            c.lines()
                .map(|line| {
                    if line.starts_with("public_base_url = ") {
                        format!("public_base_url = \"{}\"", w.bridge_url)
                    } else {
                        line.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .await;
    let delivered = |bridge: String| async move {
        w.metric(
            &bridge,
            "sso_bridge_logout_deliveries_total",
            &["department=\"eng\"", "outcome=\"delivered\""],
        )
        .await
    };
    let before = delivered(w.bridge_url.clone()).await;
    // Queued only: both running instances race for them.
    let queued = sessions_command(
        w,
        &[
            "end",
            "--department",
            "eng",
            "--user",
            "judy",
            "--wait",
            "0",
        ],
    );
    assert_eq!(
        queued.matches("queued for the running bridge").count(),
        6,
        "{queued}"
    );
    for session in &sessions {
        until_token_dies_within(session, 20).await;
    }
    // Every delivery landed, and none twice: the two instances' counts add up
    // to the six sessions.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let first = delivered(w.bridge_url.clone()).await - before;
        let other = delivered(second.clone()).await;
        if first + other >= 6.0 {
            assert_eq!(first + other, 6.0, "sent exactly once: {first} + {other}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {first} + {other} of 6 delivered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Give a duplicate the time to show, then count again.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let total = delivered(w.bridge_url.clone()).await - before + delivered(second.clone()).await;
    assert_eq!(total, 6.0, "no delivery sent twice");
    sso_bridge_testing::spawn::stop(&mut process);
}
