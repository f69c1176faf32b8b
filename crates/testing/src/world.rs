//! The real peers, started once per test binary: an upstream OIDC IdP (npm
//! `oidc-provider`), the bridge binary, and two departmental Synapses.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::homeserver::Homeserver;
use crate::matrix::{LoggedIn, login_with_token};
use crate::spawn::{free_port, spawn, stop};

pub const UPSTREAM_CLIENT_SECRET: &str = "upstream-client-secret";
pub const PASSWORD: &str = "correct horse";
/// A Matrix client origin on the bridge's allow-list (nothing listens there: the
/// tests read the final redirect instead of following it).
pub const TRUSTED_CLIENT: &str = "http://127.0.0.1:9/client/";
/// University services that validate tokens through the bridge, one per test so
/// each test reads its own metrics; "flooder" may make three homeserver
/// look-ups and then almost none.
pub const SERVICES: &[&str] = &[
    "portal", "flooder", "coalesce", "shared", "random", "hint", "down", "logout", "proxy",
    "sessions",
];

pub fn service_secret(id: &str) -> String {
    format!("{id}-secret-0123456789abcdef")
}
/// Every test logs in from 127.0.0.1: per-address limits out of the way
/// (tests that check them replace this block).
pub const GENEROUS_RATE_LIMITS: &str = r#"[rate_limits]
login = { per_second = 1000.0, burst = 100000 }
saml_acs = { per_second = 1000.0, burst = 100000 }
token = { per_second = 1000.0, burst = 100000 }
introspection_failures = { per_second = 1000.0, burst = 100000 }
"#;

/// How long the test bridges keep an active token's verdict.
pub const TOKEN_CACHE_TTL_SECONDS: u64 = 3;

/// `[metrics] bearer_token` of every bridge the tests start: `/metrics` is
/// served on the main listener only with it.
pub const METRICS_TOKEN: &str = "e2e-metrics-token-0123456789";

/// A bridge instance's `/metrics` text, read with the token.
pub async fn metrics_text(bridge_url: &str) -> String {
    reqwest::Client::new()
        .get(format!("{bridge_url}metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("metrics")
        .error_for_status()
        .expect("metrics with the token")
        .text()
        .await
        .expect("metrics text")
}

/// A department's real Synapse, configured by `sso-bridge homeserver-config`.
pub struct Synapse {
    pub id: &'static str,
    /// As configured at the bridge, with a trailing slash.
    pub url: String,
    pub server_name: String,
    pub client_secret: String,
}

impl Synapse {
    /// What clients are given as `homeserver` and `well_known` base URL.
    pub fn client_url(&self) -> &str {
        self.url.trim_end_matches('/')
    }
}

impl Homeserver for Synapse {
    fn department(&self) -> &str {
        self.id
    }

    fn base_url(&self) -> &str {
        &self.url
    }

    fn client_secret(&self) -> &str {
        &self.client_secret
    }

    async fn login_with_token(&self, token: &str) -> Result<LoggedIn, (u16, serde_json::Value)> {
        login_with_token(Synapse::client_url(self), token).await
    }
}

pub struct World {
    pub dir: PathBuf,
    pub bridge_url: String,
    pub idp_url: String,
    pub config_path: PathBuf,
    pub eng: Synapse,
    pub hist: Synapse,
    /// Served by the SAML2 IdP.
    pub phys: Synapse,
    pub saml_idp_url: String,
    /// The second bridge instance, in `token_login = "redirect"` mode.
    pub redirect_bridge_url: String,
    /// A port for one more instance that users log in through (its callback is
    /// registered at the OIDC IdP): see [`World::start_login_bridge`].
    login_bridge_port: u16,
    login_bridge_taken: tokio::sync::Mutex<()>,
    bridge: Mutex<Option<Child>>,
    /// Process ids of the Synapses, to pause one (SIGSTOP) and resume it.
    synapse_pids: Mutex<Vec<(&'static str, u32)>>,
    _others: Mutex<Vec<Child>>,
    /// Tests take it shared; the restart test takes it exclusively.
    pub bridge_lock: tokio::sync::RwLock<()>,
}

pub use crate::paths::root;

fn venv_python() -> PathBuf {
    root().join(".peers/venv/bin/python")
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // Start-up blocks; run it on a thread of its own with its own runtime.
        std::thread::spawn(start_world)
            .join()
            .unwrap_or_else(|_| panic!("starting the test peers failed; see the messages above"))
    })
}

fn log_file(dir: &Path, name: &str) -> (Stdio, Stdio) {
    let file = std::fs::File::create(dir.join(name)).expect("log file");
    let err = file.try_clone().expect("log file");
    (Stdio::from(file), Stdio::from(err))
}

fn start_world() -> World {
    assert!(
        venv_python().exists() && root().join("tests/peers/oidc-idp/node_modules").exists(),
        "the test peers are not installed: run scripts/setup.sh (the README's test command does)"
    );
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let dir = root().join(format!("target/e2e/{stamp}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("e2e dir");
    eprintln!("e2e: peers' files and logs in {}", dir.display());

    let (idp_port, bridge_port, eng_port, hist_port) =
        (free_port(), free_port(), free_port(), free_port());
    let (saml_port, phys_port, redis_port) = (free_port(), free_port(), free_port());
    let saml_idp_url = format!("http://127.0.0.1:{saml_port}");
    let phys = Synapse {
        id: "phys",
        url: format!("http://127.0.0.1:{phys_port}/"),
        server_name: "phys.test".into(),
        client_secret: "phys-client-secret-0123456789".into(),
    };
    let idp_url = format!("http://127.0.0.1:{idp_port}");
    let bridge_url = format!("http://127.0.0.1:{bridge_port}/");
    // A second instance on the same database, answering MSC1730 logins with 307.
    let redirect_bridge_port = free_port();
    let redirect_bridge_url = format!("http://127.0.0.1:{redirect_bridge_port}/");
    let login_bridge_port = free_port();
    let eng = Synapse {
        id: "eng",
        url: format!("http://127.0.0.1:{eng_port}/"),
        server_name: "eng.test".into(),
        client_secret: "eng-client-secret-0123456789".into(),
    };
    let hist = Synapse {
        id: "hist",
        url: format!("http://127.0.0.1:{hist_port}/"),
        server_name: "hist.test".into(),
        client_secret: "hist-client-secret-0123456789".into(),
    };

    // The upstream IdP.
    let clients = serde_json::json!([{
        "client_id": "sso-bridge",
        "client_secret": UPSTREAM_CLIENT_SECRET,
        "redirect_uris": [
            format!("{bridge_url}_sso_bridge/upstream/oidc/university/callback"),
            format!("{redirect_bridge_url}_sso_bridge/upstream/oidc/university/callback"),
            format!("http://127.0.0.1:{login_bridge_port}/_sso_bridge/upstream/oidc/university/callback"),
        ],
        "backchannel_logout_uri": format!("{bridge_url}_sso_bridge/upstream/oidc/university/backchannel-logout"),
    }]);
    let (out, err) = log_file(&dir, "idp.log");
    let mut idp = Command::new("node");
    idp.arg(root().join("tests/peers/oidc-idp/server.mjs"))
        .env("PORT", idp_port.to_string())
        .env("ISSUER", &idp_url)
        .env("CLIENTS_JSON", clients.to_string())
        .stdout(out)
        .stderr(err);
    let idp = spawn(idp).expect("start the OIDC IdP (node)");

    // The SAML2 IdP (pysaml2): it writes its metadata at start, and reads the
    // bridge's SP metadata when the first request comes.
    let (out, err) = log_file(&dir, "saml-idp.log");
    let mut saml_idp = Command::new(venv_python());
    saml_idp
        .arg(root().join("tests/peers/saml-idp/idp.py"))
        .args(["--port", &saml_port.to_string()])
        .arg("--sp-metadata")
        .arg(dir.join("sp-metadata.xml"))
        .arg("--state-dir")
        .arg(dir.join("saml-idp"))
        .stdout(out)
        .stderr(err);
    let saml_idp = spawn(saml_idp).expect("start the SAML IdP (pysaml2)");

    // Redis, for the token cache both bridge instances share.
    let (out, err) = log_file(&dir, "redis.log");
    let mut redis = Command::new("redis-server");
    redis
        .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(out)
        .stderr(err);
    let redis = spawn(redis).expect("start redis-server (scripts/setup.sh installs it)");

    // The bridge.
    let config_path = dir.join("bridge.toml");
    std::fs::write(
        &config_path,
        bridge_config(
            &dir,
            bridge_port,
            &idp_url,
            redis_port,
            &[&eng, &hist, &phys],
        ),
    )
    .expect("write bridge config");

    // Synapses: base config, then the overlay printed by the bridge itself.
    let mut synapse_dirs = Vec::new();
    for (hs, port) in [(&eng, eng_port), (&hist, hist_port), (&phys, phys_port)] {
        let hs_dir = dir.join(hs.id);
        let status = Command::new(venv_python())
            .arg(root().join("tests/peers/synapse/configure.py"))
            .args([
                "--dir",
                &hs_dir.to_string_lossy(),
                "--server-name",
                &hs.server_name,
                "--port",
                &port.to_string(),
            ])
            .status()
            .expect("run configure.py");
        assert!(status.success(), "configuring Synapse {} failed", hs.id);
        let overlay = Command::new(crate::paths::bridge_binary())
            .args([
                "homeserver-config",
                "--config",
                &config_path.to_string_lossy(),
                hs.id,
            ])
            .output()
            .expect("run sso-bridge homeserver-config");
        assert!(
            overlay.status.success(),
            "homeserver-config failed: {}",
            String::from_utf8_lossy(&overlay.stderr)
        );
        // Both instances' completion URLs are the homeserver's trusted clients.
        let overlay = String::from_utf8_lossy(&overlay.stdout).replace(
            &format!("client_whitelist: [\"{bridge_url}\"]"),
            &format!("client_whitelist: [\"{bridge_url}\", \"{redirect_bridge_url}\"]"),
        );
        std::fs::write(hs_dir.join("bridge.yaml"), overlay).expect("write overlay");
        synapse_dirs.push(hs_dir);
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(wait_ready(
        &format!("{saml_idp_url}/health"),
        "the SAML IdP",
        &dir.join("saml-idp.log"),
    ));
    let world = World {
        bridge: Mutex::new(Some(start_bridge_process(&dir, &config_path))),
        _others: Mutex::new(vec![idp, saml_idp, redis]),
        synapse_pids: Mutex::new(Vec::new()),
        dir: dir.clone(),
        bridge_url: bridge_url.clone(),
        idp_url: idp_url.clone(),
        config_path,
        eng,
        hist,
        phys,
        saml_idp_url,
        redirect_bridge_url: redirect_bridge_url.clone(),
        login_bridge_port,
        login_bridge_taken: tokio::sync::Mutex::new(()),
        bridge_lock: tokio::sync::RwLock::new(()),
    };
    runtime.block_on(wait_ready(
        &format!("{bridge_url}health"),
        "the bridge",
        &dir.join("bridge.log"),
    ));
    let sp_metadata = Command::new(crate::paths::bridge_binary())
        .args([
            "saml-metadata",
            "--config",
            &world.config_path.to_string_lossy(),
            "campus",
        ])
        .output()
        .expect("run sso-bridge saml-metadata");
    assert!(
        sp_metadata.status.success(),
        "saml-metadata failed: {}",
        String::from_utf8_lossy(&sp_metadata.stderr)
    );
    std::fs::write(dir.join("sp-metadata.xml"), &sp_metadata.stdout).expect("write SP metadata");
    let redirect_config = dir.join("bridge-redirect.toml");
    std::fs::write(
        &redirect_config,
        format!(
            "token_login = \"redirect\"\n{}",
            bridge_config(
                &dir,
                redirect_bridge_port,
                &world.idp_url,
                redis_port,
                &[&world.eng, &world.hist, &world.phys]
            )
        ),
    )
    .expect("write the second bridge's config");
    let second = start_bridge_process(&dir, &redirect_config);
    world._others.lock().expect("lock").push(second);
    runtime.block_on(wait_ready(
        &format!("{redirect_bridge_url}health"),
        "the second bridge",
        &dir.join("bridge.log"),
    ));
    for (hs_dir, id) in synapse_dirs.iter().zip(["eng", "hist", "phys"]) {
        let (out, err) = log_file(hs_dir, "stdout.log");
        let mut synapse = Command::new(root().join("tests/peers/synapse/start.sh"));
        synapse
            .arg(hs_dir)
            .arg(hs_dir.join("bridge.yaml"))
            .stdout(out)
            .stderr(err);
        let child = spawn(synapse).expect("start Synapse");
        world
            .synapse_pids
            .lock()
            .expect("lock")
            .push((id, child.id()));
        world._others.lock().expect("lock").push(child);
    }
    runtime.block_on(async {
        wait_ready(
            &format!("{idp_url}/.well-known/openid-configuration"),
            "the OIDC IdP",
            &dir.join("idp.log"),
        )
        .await;
        for hs in [&world.eng, &world.hist, &world.phys] {
            wait_ready(
                &format!("{}_matrix/client/versions", hs.url),
                &format!("Synapse {}", hs.id),
                &dir.join(hs.id).join("stdout.log"),
            )
            .await;
        }
    });
    world
}

fn bridge_config(
    dir: &Path,
    port: u16,
    idp_url: &str,
    redis_port: u16,
    homeservers: &[&Synapse],
) -> String {
    let mut config = format!(
        r#"public_base_url = "http://127.0.0.1:{port}/"
listen = "127.0.0.1:{port}"
database_url = "{db}"
demo = true

[secrets]
encryption_key = "e2e-encryption-key-0123456789abcdef"

[redirects]
allowed_origins = ["{client}"]

[metrics]
bearer_token = "{METRICS_TOKEN}"

[pages]
university_name = "Test University"
university_logo_url = "http://127.0.0.1:{port}/_sso_bridge/static/demo/university.svg"

{GENEROUS_RATE_LIMITS}
[introspection]
cache_ttl_seconds = {TOKEN_CACHE_TTL_SECONDS}
inactive_ttl_seconds = 2
homeserver_timeout_seconds = 2
redis_url = "redis://127.0.0.1:{redis_port}/0"

[[upstreams]]
kind = "oidc"
id = "university"
name = "Test University SSO"
issuer = "{idp_url}"
client_id = "sso-bridge"
client_secret = "{UPSTREAM_CLIENT_SECRET}"
scopes = ["openid", "profile", "email"]

[[upstreams]]
kind = "saml"
id = "campus"
name = "Test University SAML"
metadata_file = "{saml_metadata}"
sp_private_key = {{ file = "{sp_key}" }}
sp_certificate_file = "{sp_cert}"
"#,
        saml_metadata = dir.join("saml-idp/idp-metadata.xml").display(),
        sp_key = root().join("tests/fixtures/saml/sp.key").display(),
        sp_cert = root().join("tests/fixtures/saml/sp.crt").display(),
        db = database_url(dir),
        client = TRUSTED_CLIENT.trim_end_matches("/client/"),
    );
    for id in SERVICES {
        let (rate, burst) = if *id == "flooder" {
            (0.01, 3)
        } else {
            (1000.0, 1000)
        };
        config.push_str(&format!(
            "\n[[introspection.clients]]\nid = \"{id}\"\nsecret = \"{secret}\"\n\
             lookups_per_second = {rate}\nlookup_burst = {burst}\n",
            secret = service_secret(id),
        ));
    }
    for hs in homeservers {
        let (name, name_fr, upstream, rules) = match hs.id {
            "eng" => (
                "Faculty of Engineering",
                "Faculté d’ingénierie",
                "university",
                "membership = { claim = \"department\", any_of = [\"eng\"] }",
            ),
            "hist" => (
                "Department of History",
                "Département d’histoire",
                "university",
                "membership = { claim = \"department\", any_of = [\"hist\"] }",
            ),
            _ => (
                "Department of Physics",
                "Département de physique",
                "campus",
                "membership = { claim = \"eduPersonScopedAffiliation\", scopes = [\"phys.ac.cdl\"] }\n\
                 localpart_template = \"{uid}\"\ndisplay_name_template = \"{displayName}\"",
            ),
        };
        config.push_str(&format!(
            r#"
[[departments]]
id = "{id}"
name = "{name}"
names = {{ fr = "{name_fr}" }}
logo_url = "http://127.0.0.1:{port}/_sso_bridge/static/demo/{id}.svg"
email_domains = ["{id}.ac.cdl"]
upstream = "{upstream}"
client_secret = "{secret}"
{rules}
[departments.homeserver]
base_url = "{url}"
server_name = "{server_name}"
"#,
            id = hs.id,
            secret = hs.client_secret,
            url = hs.url,
            server_name = hs.server_name,
        ));
    }
    config
}

/// One database for all the bridge instances of this run (they share it).
fn database_url(dir: &Path) -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| crate::database::url(&format!("sqlite:{}", dir.join("bridge.db").display())))
        .clone()
}

fn start_bridge_process(dir: &Path, config: &Path) -> Child {
    start_bridge_process_with(dir, config, &[])
}

fn start_bridge_process_with(dir: &Path, config: &Path, env: &[(&str, &str)]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("bridge.log"))
        .expect("bridge log");
    let mut bridge = Command::new(crate::paths::bridge_binary());
    bridge
        .args(["serve", "--config", &config.to_string_lossy()])
        .env("SSO_BRIDGE_LOG", "info,sso_bridge=debug,sqlx=warn")
        .envs(env.iter().copied())
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log));
    spawn(bridge).expect("start the bridge")
}

async fn wait_ready(url: &str, what: &str, log: &Path) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        if Instant::now() > deadline {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let tail: String = tail
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "{what} did not become ready at {url}; last log lines of {}:\n{tail}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl World {
    /// The main bridge's process id (to read its `/proc` entry).
    pub fn bridge_pid(&self) -> Option<u32> {
        self.bridge.lock().expect("lock").as_ref().map(Child::id)
    }

    /// Stops the bridge and starts it again on the same port and database.
    pub async fn restart_bridge(&self) {
        let old = self.bridge.lock().expect("lock").take();
        if let Some(mut child) = old {
            tokio::task::spawn_blocking(move || stop(&mut child))
                .await
                .expect("stop bridge");
        }
        let child = start_bridge_process(&self.dir, &self.config_path);
        *self.bridge.lock().expect("lock") = Some(child);
        wait_ready(
            &format!("{}health", self.bridge_url),
            "the restarted bridge",
            &self.dir.join("bridge.log"),
        )
        .await;
    }

    /// Secrets must never reach the bridge's log.
    pub fn assert_not_logged(&self, secret: &str, what: &str) {
        assert!(secret.len() >= 8, "too short to search for: {what}");
        let log = std::fs::read_to_string(self.dir.join("bridge.log")).unwrap_or_default();
        assert!(!log.contains(secret), "{what} appears in the bridge's log");
    }

    /// Starts one more bridge instance on the same database and peers, with its
    /// config passed through `edit` first; returns its URL and process.
    pub async fn start_extra_bridge(&self, edit: impl FnOnce(String) -> String) -> (String, Child) {
        self.start_extra_bridge_with(edit, &[]).await
    }

    /// The same, with more environment variables for the bridge process.
    pub async fn start_extra_bridge_with(
        &self,
        edit: impl FnOnce(String) -> String,
        env: &[(&str, &str)],
    ) -> (String, Child) {
        self.start_extra_bridge_on(free_port(), edit, env).await
    }

    /// The address [`World::start_login_bridge`] serves on.
    pub fn login_bridge_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.login_bridge_port)
    }

    /// An extra instance users can log in through (OIDC departments): one at a
    /// time; the guard keeps the port until the caller is done with it.
    pub async fn start_login_bridge(
        &self,
        edit: impl FnOnce(String) -> String,
    ) -> (String, Child, tokio::sync::MutexGuard<'_, ()>) {
        let guard = self.login_bridge_taken.lock().await;
        let (url, child) = self
            .start_extra_bridge_on(self.login_bridge_port, edit, &[])
            .await;
        (url, child, guard)
    }

    async fn start_extra_bridge_on(
        &self,
        port: u16,
        edit: impl FnOnce(String) -> String,
        env: &[(&str, &str)],
    ) -> (String, Child) {
        let redis_port = std::fs::read_to_string(&self.config_path)
            .ok()
            .and_then(|c| {
                c.split("redis://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next())
                    .and_then(|p| p.parse().ok())
            })
            .expect("the redis port in the bridge's config");
        let config = edit(bridge_config(
            &self.dir,
            port,
            &self.idp_url,
            redis_port,
            &[&self.eng, &self.hist, &self.phys],
        ));
        let path = self.dir.join(format!("bridge-{port}.toml"));
        std::fs::write(&path, config).expect("write the extra bridge's config");
        let child = start_bridge_process_with(&self.dir, &path, env);
        let url = format!("http://127.0.0.1:{port}/");
        wait_ready(
            &format!("{url}health"),
            "the extra bridge",
            &self.dir.join("bridge.log"),
        )
        .await;
        (url, child)
    }

    /// Freezes a Synapse (SIGSTOP): it accepts connections and never answers.
    pub fn pause_homeserver(&self, id: &str) {
        self.signal_homeserver(id, sso_bridge_sys::process::SIGSTOP);
    }

    pub fn resume_homeserver(&self, id: &str) {
        self.signal_homeserver(id, sso_bridge_sys::process::SIGCONT);
    }

    fn signal_homeserver(&self, id: &str, signal: i32) {
        let pids = self.synapse_pids.lock().expect("lock");
        let (_, pid) = pids
            .iter()
            .find(|(hs, _)| *hs == id)
            .unwrap_or_else(|| panic!("no Synapse {id}"));
        assert!(
            sso_bridge_sys::process::signal(*pid, signal),
            "signal {signal} to Synapse {id}"
        );
    }

    /// A counter or gauge from a bridge instance's `/metrics`, summed over the
    /// series whose labels include all of `labels` (e.g. `source="redis"`).
    pub async fn metric(&self, bridge_url: &str, name: &str, labels: &[&str]) -> f64 {
        let text = metrics_text(bridge_url).await;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .filter(|(series, _)| {
                (series.starts_with(&format!("{name}{{")) || *series == name)
                    && labels.iter().all(|l| series.contains(l))
            })
            .filter_map(|(_, value)| value.parse::<f64>().ok())
            .sum()
    }

    pub fn homeserver(&self, id: &str) -> &Synapse {
        match id {
            "eng" => &self.eng,
            "hist" => &self.hist,
            "phys" => &self.phys,
            other => panic!("no homeserver {other}"),
        }
    }
}
