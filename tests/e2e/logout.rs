//! Logout that reaches every department: sessions ended at the bridge, each
//! department's Synapse told by OIDC Back-Channel Logout (configured only by
//! `homeserver-config`), the bridge's token-validation cache dropped.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::login::{login, person};
use crate::support::matrix::LoggedIn;
use crate::support::world::{World, world};

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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
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
