//! Rotating the OpenID Provider's signing key under running homeservers: the
//! new key is published before it signs, Synapse follows without a restart, and
//! the old key stays published while its id_tokens live.

use std::process::Command;
use std::time::{Duration, Instant};

use sso_bridge_testing::browser::Browser;
use sso_bridge_testing::login::{login, person};
use sso_bridge_testing::world::{World, world};

/// Seconds between publishing the new key and signing with it: enough for the
/// bridge to re-read its keys (5 s) and for one login in between.
const ACTIVATE_AFTER: u64 = 14;

async fn published_kids(w: &World) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(format!("{}_sso_bridge/op/jwks.json", w.bridge_url))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

fn keys_command(w: &World, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sso-bridge"))
        .arg("keys")
        .args(args)
        .arg("--config")
        .arg(&w.config_path)
        .output()
        .expect("run sso-bridge keys");
    assert!(
        out.status.success(),
        "sso-bridge keys {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How often a Synapse re-fetched the JWKS because a token carried an unknown key.
fn jwks_reloads(w: &World, homeserver: &str) -> usize {
    std::fs::read_to_string(w.dir.join(homeserver).join("homeserver.log"))
        .unwrap_or_default()
        .matches("Reloading JWKS after decode error")
        .count()
}

#[tokio::test]
async fn a_key_rotation_needs_no_restart_and_the_old_key_stays_published_for_its_tokens() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // Synapse eng caches the JWKS as it is now.
    login(&Browser::new(), &person("alice", "eng"), Some("eng")).await;
    let before = published_kids(w).await;
    assert_eq!(before.len(), 1, "one key before any rotation: {before:?}");
    let old = before[0].clone();
    // Counted before the rotation: only a token signed by the new key makes Synapse re-fetch.
    let reloads = jwks_reloads(w, "eng");

    let out = keys_command(
        w,
        &["rotate", "--activate-after", &ACTIVATE_AFTER.to_string()],
    );
    let rotated_at = Instant::now();
    let new = out
        .strip_prefix("added signing key ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("unexpected output: {out}"))
        .to_owned();
    let listed = keys_command(w, &["list"]);
    assert!(
        listed.contains(&format!("{new}  RS256")) && listed.contains("next: signs from"),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("{old}  RS256")) && listed.contains("signing"),
        "{listed}"
    );

    // The running bridge publishes the new key by itself, next to the old one.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !published_kids(w).await.contains(&new) {
        assert!(
            Instant::now() < deadline,
            "the new key was not published within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(published_kids(w).await, [new.clone(), old.clone()]);

    // Before activation the old key still signs, and Synapse hist accepts it
    // from a JWKS that already lists the new key.
    login(&Browser::new(), &person("bob", "hist"), Some("hist")).await;
    assert!(
        rotated_at.elapsed() < Duration::from_secs(ACTIVATE_AFTER),
        "the machine was too slow to log in before the new key activated"
    );

    // After activation the new key signs: Synapse eng, which cached the JWKS
    // with only the old key, re-fetches it and accepts the token.
    let wait = Duration::from_secs(ACTIVATE_AFTER + 1).saturating_sub(rotated_at.elapsed());
    tokio::time::sleep(wait).await;
    login(&Browser::new(), &person("alice", "eng"), Some("eng")).await;
    assert!(
        jwks_reloads(w, "eng") > reloads,
        "Synapse eng did not see a token signed by the new key"
    );
    // The old key is still published: id_tokens it signed are still valid.
    assert_eq!(published_kids(w).await, [new.clone(), old.clone()]);
    let listed = keys_command(w, &["list"]);
    assert!(listed.contains("retiring: published until"), "{listed}");
}
