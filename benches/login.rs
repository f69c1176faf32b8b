//! Benchmark: the login path (issue 8, items 1, 3, 5 and 6), against the real
//! peers (OIDC IdP, Synapses, the release bridge), every figure next to a
//! baseline from the same run:
//! - starting a login (`/login/sso/redirect` + the picker it sends to) and
//!   `GET /login`, next to the actix-web "hello" ceiling and Synapse's own
//!   `/login/sso/redirect`;
//! - the OpenID Provider's `/token` (distinct codes, RS256 id_tokens), next to
//!   one RS256 signature in-process;
//! - a full scripted login: total time and the bridge's own share;
//! - resident memory idle and with 1,000 logins in progress; start-up time.
//!
//! Run by `scripts/bench.sh login` (release build, wrk).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sso_bridge::crypto::{Sealer, hash_secret, pkce_s256};
use sso_bridge::provider::SigningKeys;
use sso_bridge::random::Random;
use sso_bridge::store::{NewAuthCode, NewIdentity, Store};
use sso_bridge_testing::bench::{Load, hello_world, mib, rss_kib, static_page};
use sso_bridge_testing::browser::Browser;
use sso_bridge_testing::login::{person, start_url};
use sso_bridge_testing::matrix::{login_with_token, token_and_homeserver};
use sso_bridge_testing::world::{
    GENEROUS_RATE_LIMITS, TRUSTED_CLIENT, UPSTREAM_CLIENT_SECRET, World, world,
};

/// Load: concurrent connections and seconds per wrk measurement.
const CONNECTIONS: u32 = 16;
const SECONDS: u32 = 10;
/// Full logins measured (after one warm-up login).
const LOGINS: usize = 20;
/// Logins in progress for the memory figure.
const FLOWS: usize = 1_000;
/// Starts timed for the start-up figure.
const STARTS: usize = 5;
/// Authorization codes made for the `/token` run: more than it can redeem in SECONDS.
const CODES: usize = 40_000;
/// The benchmark bridges: every per-address limit off (all the load comes from 127.0.0.1).
const NO_RATE_LIMITS: &str = r#"[rate_limits]
login = { per_second = 0.0, burst = 0 }
saml_acs = { per_second = 0.0, burst = 0 }
token = { per_second = 0.0, burst = 0 }
introspection_failures = { per_second = 0.0, burst = 0 }
"#;
/// The benchmark bridges log as in production by default (not the tests' debug level).
const LOG_LEVEL: &str = "info,sqlx=warn";
const HISTOGRAM: &str = "sso_bridge_http_request_duration_seconds";

fn main() {
    sso_bridge_testing::bench::run_http_bench("login", || run(world()));
}

async fn run(w: &World) {
    let dir = w.dir.join("bench");
    std::fs::create_dir_all(&dir).expect("bench dir");

    // Item 5 first, while the peers are quiet: full logins through the main
    // bridge (the one the Synapses are configured with).
    let logins = full_logins(w, &dir).await;

    // Item 1: starting a login, on a bridge instance of its own.
    let (bridge, mut child) = start_bench_bridge(w).await;
    let pid = child.id();
    let redirect = format!(
        "_matrix/client/v3/login/sso/redirect?redirectUrl={}",
        encode(TRUSTED_CLIENT)
    );
    let (cookie, picker, page) = first_start(&format!("{bridge}{redirect}")).await;
    let page_bytes = page.len();
    let synapse_redirect = format!("{}{redirect}", w.eng.url);
    check_synapse_redirect(&synapse_redirect).await;

    let hello = wrk(&format!("http://127.0.0.1:{}/", hello_world()), &[], None);
    let synapse_start = wrk(&synapse_redirect, &[], None);
    let synapse_login = wrk(&format!("{}_matrix/client/v3/login", w.eng.url), &[], None);
    let bridge_login = wrk(&format!("{bridge}_matrix/client/v3/login"), &[], None);
    let with_cookie = [("Cookie", cookie.as_str())];
    let perf = perf_record(pid, &dir, "login-start");
    let start = wrk(&format!("{bridge}{redirect}"), &with_cookie, None);
    perf_stop(perf);
    let picker_search = wrk(&format!("{picker}&q=eng"), &with_cookie, None);
    // The same page, fixed, from the hello server: the cost of sending it.
    let static_picker = wrk(
        &format!("http://127.0.0.1:{}/", static_page(page.leak())),
        &[],
        None,
    );

    // Item 3: the token endpoint, with codes made through the store API.
    let floor = rs256_floor().await;
    let token_script = token_codes(w, &dir).await;
    let perf = perf_record(pid, &dir, "token");
    let token = wrk(
        &format!("{bridge}_sso_bridge/op/token"),
        &[],
        Some(&token_script),
    );
    perf_stop(perf);
    let after_load = rss_kib(pid);
    sso_bridge_testing::spawn::stop(&mut child);

    // Item 6: memory of a fresh instance, then start-up time.
    let memory = memory(w).await;
    let startup = startup_ms(&dir, &memory.config);

    report(
        &hello,
        &[
            (
                "Synapse `GET /login/sso/redirect` (baseline)",
                &synapse_start,
            ),
            ("Synapse `GET /_matrix/client/v3/login`", &synapse_login),
            ("bridge `GET /_matrix/client/v3/login`", &bridge_login),
            (
                "**bridge `GET /login/sso/redirect`**: a new login sealed, the picker rendered",
                &start,
            ),
            (
                "bridge picker search (`GET /_sso_bridge/pick?flow=…&q=eng`)",
                &picker_search,
            ),
        ],
        (page_bytes, &static_picker),
        &token,
        &floor,
        &logins,
        &memory,
        after_load,
        &startup,
    );
}

/// SSO_BRIDGE_BENCH_PERF=1: a `perf` profile (call graphs) of a bridge process
/// during one measurement, in the bench directory.
fn perf_record(pid: u32, dir: &Path, name: &str) -> Option<Child> {
    std::env::var_os("SSO_BRIDGE_BENCH_PERF")?;
    let data = dir.join(format!("perf-{name}.data"));
    eprintln!("bench: perf record → {}", data.display());
    let child = Command::new("perf")
        .args(["record", "-q", "-g", "-F", "999", "-o"])
        .arg(&data)
        .args(["-p", &pid.to_string()])
        .spawn()
        .expect("perf");
    std::thread::sleep(Duration::from_millis(300));
    Some(child)
}

fn perf_stop(perf: Option<Child>) {
    if let Some(mut perf) = perf {
        // SAFETY: signalling our own child.
        sso_bridge_sys::process::signal_child(&perf, sso_bridge_sys::process::SIGINT);
        let _ = perf.wait();
    }
}

fn wrk(url: &str, headers: &[(&str, &str)], script: Option<&Path>) -> Load {
    sso_bridge_testing::bench::wrk(url, headers, script, CONNECTIONS, SECONDS)
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A bridge instance for the load runs: no rate limits, production log level.
async fn start_bench_bridge(w: &World) -> (String, Child) {
    w.start_extra_bridge_with(
        |config| {
            assert!(
                config.contains(GENEROUS_RATE_LIMITS),
                "the rate-limit block of the test config changed"
            );
            config.replace(GENEROUS_RATE_LIMITS, NO_RATE_LIMITS)
        },
        &[("SSO_BRIDGE_LOG", LOG_LEVEL)],
    )
    .await
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// One login start by hand: the browser cookie it sets, the URL of the
/// picker's own route for the login sealed in the picker it answers with, and
/// that page.
async fn first_start(url: &str) -> (String, String, String) {
    let response = http_client().get(url).send().await.expect("login start");
    assert_eq!(response.status().as_u16(), 200, "login start: {response:?}");
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sso_bridge_browser="))
        .and_then(|v| v.split(';').next())
        .expect("the browser cookie")
        .to_owned();
    let page = response.text().await.expect("the picker");
    let flow =
        sso_bridge_testing::inprocess::sealed_flow(&page).expect("the sealed login in the picker");
    let base = url.split("_matrix/").next().unwrap_or_default();
    let picker = format!("{base}_sso_bridge/pick?flow={flow}");
    (cookie, picker, page)
}

/// Synapse's SSO redirect must be a redirect to the bridge (SSO configured),
/// not an error page, or the baseline would be meaningless.
async fn check_synapse_redirect(url: &str) {
    let response = http_client()
        .get(url)
        .send()
        .await
        .expect("Synapse redirect");
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        response.status().is_redirection() && location.contains("/_sso_bridge/op/authorize"),
        "Synapse's /login/sso/redirect did not redirect to the bridge: {} {location}",
        response.status()
    );
}

/// The floor of `/token`: one id_token signature, with the bridge's own key
/// ring (RS256, RSA 2048), on one thread of this process.
struct Floor {
    micros: f64,
    per_second: f64,
}

async fn rs256_floor() -> Floor {
    let store = Store::connect("sqlite::memory:").await.expect("store");
    store.migrate().await.expect("migrate");
    let random = Random::from_os();
    let now = chrono::Utc::now().timestamp();
    let keys = SigningKeys::load_or_create(&store, &Sealer::new([7; 32]), &random, now, 3600)
        .await
        .expect("signing key");
    let ring = keys.current();
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:1/", "sub": random.id(), "aud": "eng",
        "iat": now, "exp": now + 3600, "auth_time": now,
        "preferred_username": "alice", "name": "Alice", "nonce": random.token(16),
    });
    for _ in 0..20 {
        ring.sign(&claims, now).expect("sign");
    }
    let started = Instant::now();
    let mut signatures = 0u32;
    while signatures < 200 || started.elapsed() < Duration::from_secs(3) {
        ring.sign(&claims, now).expect("sign");
        signatures += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    Floor {
        micros: seconds * 1e6 / f64::from(signatures),
        per_second: f64::from(signatures) / seconds,
    }
}

/// The database URL of the world's bridges (SQLite file, or PostgreSQL).
fn database_url(w: &World) -> String {
    std::fs::read_to_string(&w.config_path)
        .expect("bridge config")
        .lines()
        .find_map(|l| l.strip_prefix("database_url = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("database_url in the bridge config")
        .to_owned()
}

/// Valid authorization codes, inserted with the store API as the authorize
/// step does (hashed code, PKCE S256 challenge, client = department, the
/// homeserver's callback as redirect_uri), and a wrk script that redeems each
/// once (the two wrk threads take alternate codes).
async fn token_codes(w: &World, dir: &Path) -> PathBuf {
    let store = Store::connect(&database_url(w)).await.expect("store");
    let random = Random::from_os();
    let now = chrono::Utc::now().timestamp();
    let identity = format!("bench-{}", random.id());
    store
        .insert_identity(NewIdentity {
            id: &identity,
            department: "eng",
            issuer: &w.idp_url,
            subject: &identity,
            localpart: &format!("bench_{}", &identity[6..14]),
            display_name: Some("Token Bench"),
            now,
        })
        .await
        .expect("identity");
    let verifier = random.token(48);
    let challenge = pkce_s256(&verifier);
    let redirect_uri = format!("{}_synapse/client/oidc/callback", w.eng.url);
    let started = Instant::now();
    let mut codes = String::new();
    for _ in 0..CODES {
        let code = random.token(32);
        store
            .insert_auth_code(NewAuthCode {
                code_hash: &hash_secret(&code),
                client_id: "eng",
                redirect_uri: &redirect_uri,
                code_challenge: &challenge,
                nonce: Some(&random.token(16)),
                scope: "openid profile",
                identity_id: &identity,
                flow_id: &random.id(),
                now,
                expires_at: now + 3600,
            })
            .await
            .expect("auth code");
        codes.push_str(&code);
        codes.push('\n');
    }
    eprintln!(
        "bench: {CODES} authorization codes inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let codes_file = dir.join("codes.txt");
    std::fs::write(&codes_file, codes).expect("write codes");
    let auth = format!(
        "Basic {}",
        STANDARD.encode(format!("eng:{}", w.eng.client_secret))
    );
    let path = dir.join("token.lua");
    std::fs::write(
        &path,
        format!(
            r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "{auth}"
local codes = {{}}
local count = 0
setup = function(thread)
  count = count + 1
  thread:set("first", count)
end
init = function(args)
  for line in io.lines("{codes}") do
    codes[#codes + 1] = line
  end
  next_code = first
end
request = function()
  local code = codes[next_code] or "exhausted"
  next_code = next_code + 2
  return wrk.format(nil, nil, nil,
    "grant_type=authorization_code&code=" .. code ..
    "&redirect_uri={redirect_uri}&code_verifier={verifier}")
end
"#,
            codes = codes_file.display(),
            redirect_uri = encode(&redirect_uri),
        ),
    )
    .expect("write the token script");
    path
}

/// Server-side time and count per route, from a bridge's latency histogram
/// (its own `/metrics` scrapes left out).
async fn request_times(bridge: &str) -> BTreeMap<String, (f64, f64)> {
    let text = sso_bridge_testing::world::metrics_text(bridge).await;
    let mut routes: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for line in text.lines() {
        let (is_sum, rest) = if let Some(rest) = line.strip_prefix(&format!("{HISTOGRAM}_sum{{")) {
            (true, rest)
        } else if let Some(rest) = line.strip_prefix(&format!("{HISTOGRAM}_count{{")) {
            (false, rest)
        } else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let route = labels
            .split("route=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("?")
            .to_owned();
        if route == "/metrics" {
            continue;
        }
        let value: f64 = value.parse().unwrap_or(0.0);
        let entry = routes.entry(route).or_default();
        if is_sum {
            entry.0 += value;
        } else {
            entry.1 += value;
        }
    }
    routes
}

/// The process of a bridge serving `config` (the world keeps its child private).
fn bridge_pid(config: &Path) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let is_it = args.len() >= 4
                && args[0].ends_with(b"sso-bridge")
                && args[1] == b"serve"
                && args[2] == b"--config"
                && Path::new(std::str::from_utf8(args[3]).ok()?) == config;
            is_it.then_some(pid)
        })
}

/// Time on CPU of all of a process's threads, in nanoseconds (schedstat).
fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

struct Logins {
    total_ms: Vec<f64>,
    bridge_ms: Vec<f64>,
    cpu_ms: Vec<f64>,
    /// The IdP's token endpoint as the bridge's callback calls it, timed by us.
    idp_token_ms: Vec<f64>,
    requests: Vec<f64>,
    /// Route → (server time, requests), summed over the measured logins.
    routes: BTreeMap<String, (f64, f64)>,
}

/// Full logins as a Matrix client and its user make them: the bridge's
/// redirect, the picker, the IdP's login form, back to the bridge, on to
/// Synapse (which redeems the code at the bridge), back to the client, then
/// `m.login.token` at Synapse. One warm-up login, then LOGINS measured.
async fn full_logins(w: &World, dir: &Path) -> Logins {
    let pid = bridge_pid(&w.config_path).expect("the main bridge's process");
    let idp = IdpProbe::discover(w).await;
    let who = person("alice", "eng");
    let start = start_url(w, None, TRUSTED_CLIENT);
    let mut logins = Logins {
        total_ms: Vec::new(),
        bridge_ms: Vec::new(),
        cpu_ms: Vec::new(),
        idp_token_ms: Vec::new(),
        requests: Vec::new(),
        routes: BTreeMap::new(),
    };
    eprintln!("bench: {LOGINS} full logins (alice, Engineering), after one warm-up");
    let perf = perf_record(pid, dir, "logins");
    for i in 0..=LOGINS {
        let before = request_times(&w.bridge_url).await;
        let cpu_before = cpu_ns(pid);
        let started = Instant::now();
        let browser = Browser::new();
        let reached = browser.drive(&start, &who, TRUSTED_CLIENT).await.reached();
        let (login_token, homeserver) = token_and_homeserver(&reached);
        let session = login_with_token(&homeserver, &login_token)
            .await
            .unwrap_or_else(|e| panic!("m.login.token at {homeserver}: {e:?}"));
        let total = started.elapsed();
        let cpu = cpu_ns(pid) - cpu_before;
        let after = request_times(&w.bridge_url).await;
        assert!(session.user_id.starts_with("@alice"), "{}", session.user_id);
        if i == 0 {
            continue;
        }
        logins.idp_token_ms.push(idp.token_ms(&who).await);
        let (mut seconds, mut count) = (0.0, 0.0);
        for (route, (sum, n)) in &after {
            let (sum_before, n_before) = before.get(route).copied().unwrap_or_default();
            let entry = logins.routes.entry(route.clone()).or_default();
            entry.0 += sum - sum_before;
            entry.1 += n - n_before;
            seconds += sum - sum_before;
            count += n - n_before;
        }
        logins.total_ms.push(total.as_secs_f64() * 1000.0);
        logins.bridge_ms.push(seconds * 1000.0);
        logins.cpu_ms.push(cpu as f64 / 1e6);
        logins.requests.push(count);
    }
    perf_stop(perf);
    logins.routes.retain(|_, (_, n)| *n > 0.0);
    logins
}

/// The wait the bridge's OIDC callback spends at the IdP: the same code
/// redemption (client `sso-bridge`, client_secret_basic, PKCE), made by us on a
/// login of our own at the IdP, and timed.
struct IdpProbe {
    authorization_endpoint: String,
    token_endpoint: String,
    redirect_uri: String,
}

impl IdpProbe {
    async fn discover(w: &World) -> Self {
        let discovery: serde_json::Value =
            reqwest::get(format!("{}/.well-known/openid-configuration", w.idp_url))
                .await
                .expect("IdP discovery")
                .json()
                .await
                .expect("IdP discovery JSON");
        let endpoint = |name: &str| {
            discovery[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in the IdP's discovery"))
                .to_owned()
        };
        Self {
            authorization_endpoint: endpoint("authorization_endpoint"),
            token_endpoint: endpoint("token_endpoint"),
            redirect_uri: format!(
                "{}_sso_bridge/upstream/oidc/university/callback",
                w.bridge_url
            ),
        }
    }

    /// Logs in at the IdP (not timed), then times the code redemption.
    async fn token_ms(&self, who: &sso_bridge_testing::browser::Person) -> f64 {
        let random = Random::from_os();
        let verifier = random.token(48);
        let mut authorize = url::Url::parse(&self.authorization_endpoint).expect("URL");
        authorize
            .query_pairs_mut()
            .append_pair("client_id", "sso-bridge")
            .append_pair("response_type", "code")
            .append_pair("scope", "openid profile email")
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", &random.token(16))
            .append_pair("nonce", &random.token(16))
            .append_pair("code_challenge", &pkce_s256(&verifier))
            .append_pair("code_challenge_method", "S256");
        let back = Browser::new()
            .drive(authorize.as_str(), who, &self.redirect_uri)
            .await
            .reached();
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code from the IdP");
        let started = Instant::now();
        let response = http_client()
            .post(&self.token_endpoint)
            .basic_auth("sso-bridge", Some(UPSTREAM_CLIENT_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .expect("IdP token request");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert!(
            status.is_success() && body.contains("id_token"),
            "IdP token endpoint: {status} {body}"
        );
        ms
    }
}

struct Memory {
    idle: u64,
    picker_flows: u64,
    parked_flows: u64,
    config: PathBuf,
}

/// A fresh instance: RSS idle, with FLOWS logins started (each a new browser,
/// waiting at the picker), then with FLOWS more parked at the IdP.
async fn memory(w: &World) -> Memory {
    let (url, mut child) = start_bench_bridge(w).await;
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kib(pid);
    let redirect = format!(
        "{url}_matrix/client/v3/login/sso/redirect?redirectUrl={}",
        encode(TRUSTED_CLIENT)
    );
    start_logins(&redirect, 200).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let picker_flows = rss_kib(pid);
    let parked = format!(
        "{url}_matrix/client/v3/login/sso/redirect/eng?redirectUrl={}",
        encode(TRUSTED_CLIENT)
    );
    start_logins(&parked, 302).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let parked_flows = rss_kib(pid);
    sso_bridge_testing::spawn::stop(&mut child);
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .expect("port")
        .to_owned();
    Memory {
        idle,
        picker_flows,
        parked_flows,
        config: w.dir.join(format!("bridge-{port}.toml")),
    }
}

/// FLOWS login starts by as many browsers (no cookie: each gets its own), 16 at a time.
async fn start_logins(url: &str, status: u16) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        let url = url.to_owned();
        let client = http_client();
        tasks.spawn(async move {
            for _ in 0..FLOWS / CONNECTIONS as usize {
                let response = client.get(&url).send().await.expect("login start");
                assert_eq!(response.status().as_u16(), status, "{url}");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("login starts");
    }
}

/// From spawn to the first 200 from `/health`, STARTS times, on the migrated
/// database; in milliseconds.
fn startup_ms(dir: &Path, config: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(config).expect("config");
    let port: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("listen = \"127.0.0.1:"))
        .and_then(|p| p.trim_end_matches('"').parse().ok())
        .expect("listen port");
    let log = dir.join("startup.log");
    (0..STARTS)
        .map(|_| {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("startup log");
            let mut command = Command::new(env!("CARGO_BIN_EXE_sso-bridge"));
            command
                .args(["serve", "--config"])
                .arg(config)
                .env("SSO_BRIDGE_LOG", LOG_LEVEL)
                .stdout(Stdio::from(file.try_clone().expect("log")))
                .stderr(Stdio::from(file));
            let started = Instant::now();
            let mut child = sso_bridge_testing::spawn::spawn(command).expect("start the bridge");
            while !health_ok(port) {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the bridge did not start; see {}",
                    log.display()
                );
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("the bridge exited ({status}); see {}", log.display());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            sso_bridge_testing::spawn::stop(&mut child);
            ms
        })
        .collect()
}

fn health_ok(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/1.1 200"
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        })
}

fn mark(met: bool) -> &'static str {
    if met { "✅" } else { "❌" }
}

#[allow(clippy::too_many_arguments)]
fn report(
    hello: &Load,
    rows: &[(&str, &Load)],
    (page_bytes, static_picker): (usize, &Load),
    token: &Load,
    floor: &Floor,
    logins: &Logins,
    memory: &Memory,
    after_load: u64,
    startup: &[f64],
) {
    let synapse = rows[0].1.requests_per_second;
    println!("\n## Starting a login ({CONNECTIONS} connections, {SECONDS} s each, wrk)\n");
    println!(
        "HTTP ceiling: a minimal actix-web \"hello\" server, same workers: {:.0} requests/s, p99 {:.2} ms.\n",
        hello.requests_per_second, hello.p99_ms
    );
    println!(
        "| measurement | requests/s | logins started/s | p99 | vs Synapse redirect | vs hello |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, (name, load)) in rows.iter().enumerate() {
        let starts_column = match i {
            0 | 3 => format!("{:.0}", load.requests_per_second),
            _ => String::new(),
        };
        println!(
            "| {name} | {:.0} | {starts_column} | {:.2} ms | {:.1}× | {:.0}% |",
            load.requests_per_second,
            load.p99_ms,
            load.requests_per_second / synapse,
            100.0 * load.requests_per_second / hello.requests_per_second
        );
        assert_eq!(
            load.non_2xx, 0,
            "{name}: {} answers were errors",
            load.non_2xx
        );
    }
    println!(
        "| the hello server sending the picker page as a fixed {page_bytes}-byte page (the cost of sending it) | {:.0} | | {:.2} ms | | {:.0}% |",
        static_picker.requests_per_second,
        static_picker.p99_ms,
        100.0 * static_picker.requests_per_second / hello.requests_per_second
    );
    println!(
        "\nThe login start runs at {:.0}% of the rate at which this machine sends its page at all (the fixed page above).",
        100.0 * rows[3].1.requests_per_second / static_picker.requests_per_second
    );
    println!(
        "\nA login start is one request: the answer to `/login/sso/redirect` is the picker, with a new login sealed in its forms (its row is written when a department is chosen). Every answer counted was that page (200)."
    );

    println!(
        "\n## OpenID Provider `/token` ({CONNECTIONS} connections, {SECONDS} s, wrk, a distinct code per request)\n"
    );
    println!("| measurement | per second | time each | p99 |");
    println!("|---|---:|---:|---:|");
    println!(
        "| one id_token signature in-process (RS256, RSA 2048, one thread): the floor | {:.0} | {:.0} µs | |",
        floor.per_second, floor.micros
    );
    println!(
        "| `/token` redemptions (code → access token + signed id_token) | {:.0} | | {:.2} ms |",
        token.requests_per_second, token.p99_ms
    );
    println!(
        "\n`/token` redeemed {:.0}% of what one core signs in-process ({} codes redeemed).",
        100.0 * token.requests_per_second / floor.per_second,
        token.requests
    );
    assert_eq!(
        token.non_2xx, 0,
        "/token: {} redemptions refused (out of codes? raise CODES)",
        token.non_2xx
    );

    let (total_lo, total_hi) = min_max(&logins.total_ms);
    let (bridge_lo, bridge_hi) = min_max(&logins.bridge_ms);
    let (cpu_lo, cpu_hi) = min_max(&logins.cpu_ms);
    println!(
        "\n## A full scripted login, {LOGINS} logins (after one warm-up)\n\n\
         Picker → IdP login form → bridge callback → Synapse (redeems the code at the bridge) → client → `m.login.token`.\n"
    );
    println!("| per login | median | min | max |");
    println!("|---|---:|---:|---:|");
    println!(
        "| total, as the client sees it | {:.1} ms | {total_lo:.1} ms | {total_hi:.1} ms |",
        median(&logins.total_ms)
    );
    println!(
        "| bridge: server-side time of the requests it served | {:.2} ms | {bridge_lo:.2} ms | {bridge_hi:.2} ms |",
        median(&logins.bridge_ms)
    );
    println!(
        "| bridge: CPU time, all threads | {:.2} ms | {cpu_lo:.2} ms | {cpu_hi:.2} ms |",
        median(&logins.cpu_ms)
    );
    let (idp_lo, idp_hi) = min_max(&logins.idp_token_ms);
    println!(
        "| the IdP's token endpoint, which the bridge's callback waits for (timed separately) | {:.2} ms | {idp_lo:.2} ms | {idp_hi:.2} ms |",
        median(&logins.idp_token_ms)
    );
    println!(
        "| bridge: server-side time less that wait (difference of the medians) | {:.2} ms | | |",
        median(&logins.bridge_ms) - median(&logins.idp_token_ms)
    );
    println!(
        "| requests the bridge served | {:.0} | | |",
        median(&logins.requests)
    );
    println!("\n| bridge route | requests per login | server time per login (mean) |");
    println!("|---|---:|---:|");
    let n = LOGINS as f64;
    for (route, (sum, count)) in &logins.routes {
        println!(
            "| `{route}` | {:.1} | {:.2} ms |",
            count / n,
            sum * 1000.0 / n
        );
    }

    let (start_lo, start_hi) = min_max(startup);
    println!("\n## Memory and start-up\n");
    println!("| moment | RSS |");
    println!("|---|---:|");
    println!("| fresh instance, idle | {:.1} MiB |", mib(memory.idle));
    println!(
        "| with {FLOWS} logins started (new browsers, at the picker) | {:.1} MiB |",
        mib(memory.picker_flows)
    );
    println!(
        "| with {FLOWS} more parked at the IdP ({} in progress) | {:.1} MiB |",
        2 * FLOWS,
        mib(memory.parked_flows)
    );
    println!(
        "| the load instance after all the runs above | {:.1} MiB |",
        mib(after_load)
    );
    println!(
        "\nStart-up, spawn → first 200 from `/health` (migrated database), {STARTS} starts: median {:.0} ms (min {start_lo:.0}, max {start_hi:.0}).",
        median(startup)
    );

    let flows_rss = memory.picker_flows.max(memory.parked_flows);
    let start = rows[3].1;
    let targets = [
        (
            "login start (picker rendered) ≥ 50% of the hello-world rate".to_owned(),
            start.requests_per_second >= 0.5 * hello.requests_per_second,
        ),
        (
            "login start ≥ 30× Synapse's `/login/sso/redirect`".to_owned(),
            start.requests_per_second >= 30.0 * synapse,
        ),
        (
            format!("login start p99 < 10 ms at {CONNECTIONS} connections"),
            start.p99_ms < 10.0,
        ),
        (
            "`/token` ≥ 1,000 redemptions/s".to_owned(),
            token.requests_per_second >= 1000.0,
        ),
        (
            "the bridge's own share of a full login < 5 ms (median server-side time less its wait on the IdP's token endpoint)".to_owned(),
            median(&logins.bridge_ms) - median(&logins.idp_token_ms) < 5.0,
        ),
        (
            "RSS < 40 MB idle".to_owned(),
            memory.idle * 1024 < 40_000_000,
        ),
        (
            format!("RSS < 150 MB with {FLOWS} logins in progress"),
            flows_rss * 1024 < 150_000_000,
        ),
        (
            "ready < 300 ms after start (median)".to_owned(),
            median(startup) < 300.0,
        ),
    ];
    println!("\n| target (issue 8) | met |\n|---|---|");
    for (target, met) in targets {
        println!("| {target} | {} |", mark(met));
    }
}
