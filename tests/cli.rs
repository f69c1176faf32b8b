//! The command line, as an operator meets it.

use std::process::Command;

fn bridge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sso-bridge"))
}

fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD: &str = r#"
public_base_url = "https://matrix.ac.cdl/"
[secrets]
encryption_key = "0123456789abcdef0123456789abcdef"
[[upstreams]]
kind = "oidc"
id = "university"
issuer = "https://login.ac.cdl"
client_id = "bridge"
client_secret = "s"
[[departments]]
id = "eng"
name = "Faculty of Engineering"
upstream = "university"
client_secret = "eng-secret-0123456789"
membership = { claim = "department", any_of = ["eng"] }
homeserver = { base_url = "https://matrix.eng.ac.cdl/", server_name = "eng.ac.cdl" }
"#;

#[test]
fn help_is_everywhere() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["config", "check", "--help"],
        vec!["homeserver-config", "--help"],
    ] {
        let out = bridge().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn config_check_accepts_a_good_file_and_names_the_key_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, GOOD);
    let out = bridge()
        .args(["config", "check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("configuration OK: 1 department(s)"));
    // What the IdP's administrator registers, back-channel logout included.
    assert!(
        stdout.contains("upstream university: back-channel logout URI https://")
            && stdout.contains("/_sso_bridge/upstream/oidc/university/backchannel-logout"),
        "{stdout}"
    );

    let bad = write(
        &dir,
        &GOOD.replace("upstream = \"university\"", "upstream = \"central\""),
    );
    let out = bridge()
        .args(["config", "check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`departments[0].upstream`") && stderr.contains("Fix:"),
        "{stderr}"
    );

    let out = bridge()
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "serve refuses a bad config at start"
    );
}

#[test]
fn homeserver_config_prints_what_synapse_needs() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(&dir, GOOD);
    let out = bridge()
        .args(["homeserver-config", "--config"])
        .arg(&config)
        .arg("eng")
        .output()
        .unwrap();
    assert!(out.status.success());
    let yaml = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "idp_id: \"university\"",
        "issuer: \"https://matrix.ac.cdl/\"",
        "client_id: \"eng\"",
        "client_secret: \"eng-secret-0123456789\"",
        "pkce_method: always",
        "client_whitelist: [\"https://matrix.ac.cdl/\"]",
    ] {
        assert!(yaml.contains(needle), "{needle} missing in\n{yaml}");
    }
    assert!(
        !yaml.contains("skip_verification"),
        "only for plain-HTTP test setups"
    );
    assert!(
        yaml.contains("x_forwarded: true") && !yaml.contains("\nserve_client_wellknown"),
        "proxy mode: the listener hint, no well-known setting\n{yaml}"
    );
    let redirect = write(
        &dir,
        &GOOD.replacen("\n[", "\ntoken_login = \"redirect\"\n[", 1),
    );
    let out = bridge()
        .args(["homeserver-config", "--config"])
        .arg(&redirect)
        .arg("eng")
        .output()
        .unwrap();
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{yaml}");
    assert!(
        yaml.contains("\nserve_client_wellknown: true\n"),
        "redirect mode: the department's login answers carry well_known\n{yaml}"
    );
    let out = bridge()
        .args(["homeserver-config", "--config"])
        .arg(&config)
        .arg("astro")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("configured: eng"));
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bridge.db");
    let config = write(
        &dir,
        &format!("database_url = \"sqlite:{}\"\n{GOOD}", db.display()),
    );
    let out = bridge()
        .args(["migrate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
    let again = bridge()
        .args(["migrate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(again.status.success(), "migrations are idempotent");
}
