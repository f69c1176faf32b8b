//! `sso-bridge doctor` against the real topology: all ✅ as it stands, and the
//! right ❌ for each way a copy of its config can be wrong.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sso_bridge_testing::spawn::{free_port, spawn, stop};
use sso_bridge_testing::world::{World, root, world};

struct Outcome {
    code: Option<i32>,
    stdout: String,
}

impl Outcome {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn failures(&self) -> Vec<&str> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with('❌'))
            .collect()
    }
}

async fn doctor(config: &Path) -> Outcome {
    doctor_with(config, &[]).await
}

async fn doctor_with(config: &Path, args: &[&str]) -> Outcome {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sso-bridge"))
        .arg("doctor")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .await
        .expect("run sso-bridge doctor");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "doctor --config {}:\n{stdout}{}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Outcome {
        code: out.status.code(),
        stdout,
    }
}

/// The run on the world's own config, once: it also creates the probe's
/// accounts, so the broken-config runs (in parallel) only log into them.
async fn healthy(w: &'static World) -> &'static Outcome {
    static HEALTHY: tokio::sync::OnceCell<Outcome> = tokio::sync::OnceCell::const_new();
    HEALTHY.get_or_init(|| doctor(&w.config_path)).await
}

/// A copy of the world's config with one edit; the edit must apply.
fn broken(w: &World, name: &str, from: &str, to: &str) -> std::path::PathBuf {
    let config = std::fs::read_to_string(&w.config_path).expect("the world's config");
    assert_eq!(config.matches(from).count(), 1, "{from:?} in the config");
    let path = w.dir.join(format!("doctor-{name}.toml"));
    std::fs::write(&path, config.replace(from, to)).expect("write the broken config");
    path
}

/// Exit 1 and exactly one ❌, the expected one.
async fn fails_with(w: &'static World, config: &Path, subject: &str, detail: &str) {
    healthy(w).await;
    let outcome = doctor(config).await;
    assert_eq!(outcome.code, Some(1), "{}", outcome.stdout);
    let failures = outcome.failures();
    assert_eq!(failures.len(), 1, "{}", outcome.stdout);
    assert!(
        failures[0].starts_with(&format!("❌ {subject} — ")) && failures[0].contains(detail),
        "expected ❌ {subject} … {detail}, got:\n{}",
        outcome.stdout
    );
    assert!(failures[0].contains(" → "), "a ❌ says what to do");
}

#[tokio::test]
async fn doctor_on_the_test_topology_is_all_green() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let outcome = healthy(w).await;
    assert_eq!(outcome.code, Some(0), "{}", outcome.stdout);
    let lines = outcome.lines();
    for line in &lines {
        assert!(line.starts_with("✅ "), "not ✅: {line}");
    }
    let mut expected = vec![
        format!("config {}", w.config_path.display()),
        "database ".to_owned(),
        "database migrations".to_owned(),
        "OpenID Provider signing key".to_owned(),
        "upstream university (OIDC): discovery".to_owned(),
        "upstream university (OIDC): signing keys".to_owned(),
        "upstream university (OIDC): back-channel logout".to_owned(),
        "upstream campus (SAML): metadata".to_owned(),
        "upstream campus (SAML): signing certificate".to_owned(),
    ];
    for hs in [&w.eng, &w.hist, &w.phys] {
        expected.push(format!("homeserver {} ({})", hs.id, hs.url));
        expected.push(format!("homeserver {}: login flows", hs.id));
        expected.push(format!("homeserver {}: back-channel logout", hs.id));
        expected.push(format!("homeserver {}: SSO redirect", hs.id));
        expected.push(format!("homeserver {}: client_whitelist", hs.id));
    }
    expected.push(format!("public base URL {}", w.bridge_url));
    assert_eq!(lines.len(), expected.len(), "{}", outcome.stdout);
    for subject in &expected {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("✅ {subject}"))),
            "no ✅ line for {subject}:\n{}",
            outcome.stdout
        );
    }
    // The redirect check names what it proved; the probe, what it saw.
    assert!(
        outcome.stdout.contains(&format!(
            "client_id \"eng\" and redirect_uri {}_synapse/client/oidc/callback",
            w.eng.url
        )),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("came straight back to"));
    // The probe's login token never reaches the output.
    assert!(!outcome.stdout.contains("loginToken"));
}

#[tokio::test]
async fn doctor_names_a_wrong_client_id() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let config = broken(w, "client-id", "id = \"eng\"\n", "id = \"engineering\"\n");
    fails_with(
        w,
        &config,
        "homeserver engineering: SSO redirect",
        "sends client_id \"eng\", the bridge expects \"engineering\"",
    )
    .await;
}

#[tokio::test]
async fn doctor_names_a_homeserver_that_does_not_answer() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let nowhere = format!("http://127.0.0.1:{}/", free_port());
    let config = broken(
        w,
        "homeserver-down",
        &format!("base_url = \"{}\"", w.hist.url),
        &format!("base_url = \"{nowhere}\""),
    );
    fails_with(
        w,
        &config,
        &format!("homeserver hist ({nowhere})"),
        "cannot connect",
    )
    .await;
}

#[tokio::test]
async fn doctor_names_a_wrong_upstream_issuer() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // The classic: a trailing slash the IdP does not write.
    let config = broken(
        w,
        "issuer",
        &format!("issuer = \"{}\"", w.idp_url),
        &format!("issuer = \"{}/\"", w.idp_url),
    );
    fails_with(
        w,
        &config,
        "upstream university (OIDC): discovery",
        &format!("has issuer \"{}\"", w.idp_url),
    )
    .await;
}

#[tokio::test]
async fn doctor_names_an_encryption_key_that_does_not_open_the_signing_key() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let config = broken(
        w,
        "encryption-key",
        "encryption_key = \"e2e-encryption-key-0123456789abcdef\"",
        "encryption_key = \"another-encryption-key-0123456789abcdef\"",
    );
    fails_with(
        w,
        &config,
        "OpenID Provider signing key",
        "cannot be decrypted with `secrets.encryption_key`",
    )
    .await;
}

#[tokio::test]
async fn doctor_names_saml_metadata_that_is_not_there() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let config = std::fs::read_to_string(&w.config_path).expect("the world's config");
    let line = config
        .lines()
        .find(|l| l.starts_with("metadata_file = "))
        .expect("the SAML upstream's metadata_file")
        .to_owned();
    let config = broken(
        w,
        "saml-metadata",
        &line,
        &format!("metadata_url = \"{}/no-such-metadata\"", w.saml_idp_url),
    );
    fails_with(
        w,
        &config,
        "upstream campus (SAML): metadata",
        "answered HTTP 404",
    )
    .await;
}

#[tokio::test]
async fn without_the_login_probe_the_whitelist_is_a_warning_not_a_pass() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let outcome = doctor_with(&w.config_path, &["--no-login-probe"]).await;
    assert_eq!(
        outcome.code,
        Some(0),
        "warnings alone pass: {}",
        outcome.stdout
    );
    let warnings: Vec<&str> = outcome
        .lines()
        .into_iter()
        .filter(|l| !l.starts_with("✅ "))
        .collect();
    assert_eq!(warnings.len(), 3, "{}", outcome.stdout);
    for (line, hs) in warnings.iter().zip(["eng", "hist", "phys"]) {
        assert!(
            line.starts_with(&format!(
                "⚠️ homeserver {hs}: client_whitelist — not checked"
            )),
            "{line}"
        );
    }
}

/// A Synapse stopped when the test ends, however it ends.
struct Stopping(Child);

impl Drop for Stopping {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

/// One more Synapse, configured like History's but without `client_whitelist`
/// and with back-channel logout off; returns its URL and the process.
async fn untrusting_synapse(w: &World) -> (String, Stopping) {
    let port = free_port();
    let dir = w.dir.join("doctor-untrusting");
    let status = tokio::process::Command::new(root().join(".peers/venv/bin/python"))
        .arg(root().join("tests/peers/synapse/configure.py"))
        .arg("--dir")
        .arg(&dir)
        .args([
            "--server-name",
            "untrusting.test",
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .await
        .expect("run configure.py");
    assert!(status.success(), "configuring the extra Synapse failed");
    let overlay = tokio::process::Command::new(env!("CARGO_BIN_EXE_sso-bridge"))
        .args(["homeserver-config", "--config"])
        .arg(&w.config_path)
        .arg("hist")
        .output()
        .await
        .expect("run homeserver-config");
    assert!(overlay.status.success());
    let overlay = String::from_utf8_lossy(&overlay.stdout);
    let whitelist = overlay
        .lines()
        .find(|l| l.contains("client_whitelist:"))
        .expect("the overlay's client_whitelist");
    let overlay = overlay
        .replace(whitelist, "  client_whitelist: []")
        .replace(
            "backchannel_logout_enabled: true",
            "backchannel_logout_enabled: false",
        );
    std::fs::write(dir.join("bridge.yaml"), overlay).expect("write the overlay");
    let log = std::fs::File::create(dir.join("stdout.log")).expect("log file");
    let mut synapse = std::process::Command::new(root().join("tests/peers/synapse/start.sh"));
    synapse
        .arg(&dir)
        .arg(dir.join("bridge.yaml"))
        .stdout(Stdio::from(log.try_clone().expect("log file")))
        .stderr(Stdio::from(log));
    let child = Stopping(spawn(synapse).expect("start the extra Synapse"));
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::get(format!("{url}_matrix/client/versions"))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the extra Synapse did not start; see {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (url, child)
}

#[tokio::test]
async fn doctor_names_a_homeserver_that_neither_whitelists_the_bridge_nor_takes_its_logouts() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (url, _synapse) = untrusting_synapse(w).await;
    let config = broken(
        w,
        "untrusting",
        &format!("base_url = \"{}\"", w.hist.url),
        &format!("base_url = \"{url}\""),
    );
    healthy(w).await;
    let outcome = doctor(&config).await;
    assert_eq!(outcome.code, Some(1), "{}", outcome.stdout);
    let failures = outcome.failures();
    assert_eq!(failures.len(), 2, "{}", outcome.stdout);
    for (subject, detail) in [
        (
            "homeserver hist: back-channel logout",
            "disabled for the bridge's provider",
        ),
        (
            "homeserver hist: client_whitelist",
            "shows its own \"Continue to …\" confirmation page",
        ),
    ] {
        assert!(
            failures
                .iter()
                .any(|f| f.starts_with(&format!("❌ {subject} — "))
                    && f.contains(detail)
                    && f.contains(" → ")),
            "expected ❌ {subject} … {detail}, got:\n{}",
            outcome.stdout
        );
    }
}

#[tokio::test]
async fn doctor_stops_at_a_config_that_does_not_load() {
    let w = world();
    let config = broken(
        w,
        "invalid",
        "upstream = \"campus\"",
        "upstream = \"nowhere\"",
    );
    let outcome = doctor(&config).await;
    assert_eq!(outcome.code, Some(2), "{}", outcome.stdout);
    let lines = outcome.lines();
    assert_eq!(lines.len(), 1, "{}", outcome.stdout);
    assert!(
        lines[0].starts_with("❌ config ") && lines[0].contains("upstream"),
        "{}",
        outcome.stdout
    );
}
