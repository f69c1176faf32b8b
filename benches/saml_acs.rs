//! Benchmark (issue 8, item 2): the SAML2 ACS, in validated responses per second
//! (signature, every condition, the flow look-up, the replay-cache write), next
//! to the floor of that work: samael's bare signature verification of the same
//! responses, in this process, with the same parallelism; and next to two outside
//! verifiers of the same responses, the `xmlsec1` command line and pysaml2
//! (benches/saml/pysaml2_parse.py). Run by `scripts/bench.sh saml_acs` (release
//! build); results and how to read them: BENCHMARKS.md.
//!
//! Every response is distinct (its own AuthnRequest, flow, browser cookie,
//! Response and Assertion IDs) and signed before the clock starts, with the test
//! IdP key, as tests/saml_acs_checks.rs builds them (samael's xmlsec signing:
//! exclusive C14N, rsa-sha256, the Assertion signed, KeyInfo with the
//! certificate). The department's homeserver is a stand-in that answers
//! `/_matrix/client/versions` (the bridge asks before sending anyone there).
//!
//! Knobs: SSO_BRIDGE_BENCH_SAML_RESPONSES (per line and round, default 2,000),
//! SSO_BRIDGE_BENCH_SAML_IN_FLIGHT (per thread, default 8),
//! SSO_BRIDGE_BENCH_SAML_DB (`file`, the default: a SQLite file as deployed;
//! `memory`; or a database URL), SSO_BRIDGE_BENCH_SAML_ONLY (one in-process line
//! once, for profilers: floor, verify, remember, flow or actix).

use std::cell::RefCell;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{SecondsFormat, Utc};
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use sso_bridge::clock::SystemClock;
use sso_bridge::config::Config;
use sso_bridge::flow::{self, BrowserSecret, Next};
use sso_bridge::random::Random;
use sso_bridge::services::Services;

use saml_config::fixture;
use sso_bridge_testing::saml_config;

const IDP: &str = "https://idp.test/metadata";
const ACS: &str = "http://127.0.0.1:8008/_sso_bridge/upstream/saml/campus/acs";
const SP: &str = "http://127.0.0.1:8008/_sso_bridge/upstream/saml/campus/metadata";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";

/// Both cores: two threads, each an actix-style single-threaded runtime (like the
/// bridge's two workers), with this many responses in flight on each
/// (SSO_BRIDGE_BENCH_SAML_IN_FLIGHT).
const THREADS: usize = 2;
const IN_FLIGHT: usize = 8;
/// In-process measurements are repeated: the table shows each line's median
/// rate, and each ratio to the floor as the median of the rounds' own ratios
/// (a line and the floor measured minutes apart may see different loads).
const ROUNDS: usize = 5;
/// Distinct responses per in-process line and round (SSO_BRIDGE_BENCH_SAML_RESPONSES).
const RESPONSES: usize = 2_000;
/// The slow outside verifiers get fewer.
const XMLSEC1_RESPONSES: usize = 400;
const PYSAML2_RESPONSES: usize = 200;
/// Distinct people the responses are spread over (all known after round 1).
const PEOPLE: usize = 64;

const TARGET_RATE: f64 = 2_000.0;
const TARGET_SHARE_OF_FLOOR: f64 = 0.5;

fn in_flight() -> usize {
    std::env::var("SSO_BRIDGE_BENCH_SAML_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(IN_FLIGHT)
}

fn main() {
    if !sso_bridge_testing::bench::is_bench_run("saml_acs") {
        return;
    }
    assert!(
        Command::new("xmlsec1").arg("--version").output().is_ok(),
        "the xmlsec1 command line is missing: scripts/setup.sh installs it"
    );
    let python = root().join(".peers/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/setup.sh installs pysaml2 there",
        python.display()
    );
    let responses = std::env::var("SSO_BRIDGE_BENCH_SAML_RESPONSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RESPONSES);
    let dir = tempfile::Builder::new()
        .prefix("saml-acs-bench")
        .tempdir()
        .expect("temporary directory");
    // The bridge logs as in production (`info,sqlx=warn` unless SSO_BRIDGE_LOG
    // says otherwise: a line per accepted login), into a file of the bench's.
    let filter = tracing_subscriber::EnvFilter::try_from_env("SSO_BRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let log = std::fs::File::create(dir.path().join("bridge.log")).expect("log file");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log))
        .try_init();
    let homeserver = fake_homeserver();
    let workers = Workers::start();
    // SSO_BRIDGE_BENCH_SAML_DB: `file` (default: a SQLite file, as deployed),
    // `memory` (SQLite in memory, one connection), or a database URL.
    let database = match std::env::var("SSO_BRIDGE_BENCH_SAML_DB").as_deref() {
        Err(_) | Ok("file") => format!("sqlite:{}", dir.path().join("bench.db").display()),
        Ok("memory") => "sqlite::memory:".to_owned(),
        Ok(url) => url.to_owned(),
    };
    let db_label = match database.as_str() {
        "sqlite::memory:" => "SQLite in memory (one connection)",
        d if d.starts_with("sqlite:") => "a SQLite file (WAL), as deployed by default",
        d => d.split(':').next().unwrap_or_default(),
    }
    .to_owned();
    let services = workers.on_one(move || Box::pin(services(database, homeserver)));
    let cert = idp_certificate();
    let signer = Signer::new();

    // For profilers: one line, once (floor, verify, remember, flow or actix).
    if let Ok(only) = std::env::var("SSO_BRIDGE_BENCH_SAML_ONLY") {
        let pending = start_flows(&workers, &services, responses);
        let cases = Arc::new(signer.sign_all(&pending, 1));
        eprintln!("bench: {only} only");
        let m = match only.as_str() {
            "floor" => measure_floor(&cases, &cert),
            "verify" => measure_verify(&workers, &services, &cases, false),
            "remember" => measure_verify(&workers, &services, &cases, true),
            "flow" => measure_flow_acs(&workers, &services, &cases, homeserver),
            "actix" => measure_actix_acs(&workers, &services, &cases, homeserver),
            other => {
                panic!("SSO_BRIDGE_BENCH_SAML_ONLY={other}: floor, verify, remember, flow or actix")
            }
        };
        println!(
            "{only}: {} responses/s, {:.0} CPU-µs per response ({:.0}% system), {:.2} cores busy, {:.1} context switches per response",
            thousands(m.per_second),
            m.cpu_us,
            100.0 * m.sys_share,
            m.cores,
            m.switches
        );
        drop(services);
        workers.stop();
        return;
    }

    let mut rounds: Vec<Round> = Vec::new();
    for round in 1..=ROUNDS {
        eprintln!("bench: round {round}/{ROUNDS}: {responses} flows and signed responses ×2");
        let pending = start_flows(&workers, &services, 2 * responses);
        let (set_a, set_b) = pending.split_at(responses);
        let cases_a = Arc::new(signer.sign_all(set_a, round));
        let cases_b = Arc::new(signer.sign_all(set_b, round));
        eprintln!("bench: round {round}: measuring");
        let floor = measure_floor(&cases_a, &cert);
        let verify = measure_verify(&workers, &services, &cases_a, false);
        let verify_remember = measure_verify(&workers, &services, &cases_a, true);
        let flow = measure_flow_acs(&workers, &services, &cases_a, homeserver);
        let actix = measure_actix_acs(&workers, &services, &cases_b, homeserver);
        rounds.push(Round {
            floor,
            verify,
            verify_remember,
            flow,
            actix,
        });
    }
    // The round in the middle, by rate, for each line.
    let median = |pick: fn(&Round) -> Measured| {
        let mut all: Vec<Measured> = rounds.iter().map(pick).collect();
        all.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
        all[all.len() / 2]
    };
    let floor = median(|r| r.floor);
    let verify = median(|r| r.verify);
    let verify_remember = median(|r| r.verify_remember);
    let flow = median(|r| r.flow);
    let actix = median(|r| r.actix);
    // Per round, against that round's floor: (rate ratio, CPU ratio).
    let ratio = |pick: fn(&Round) -> Measured| {
        let median_of = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        (
            median_of(
                rounds
                    .iter()
                    .map(|r| pick(r).per_second / r.floor.per_second)
                    .collect(),
            ),
            median_of(
                rounds
                    .iter()
                    .map(|r| r.floor.cpu_us / pick(r).cpu_us)
                    .collect(),
            ),
        )
    };

    eprintln!("bench: xmlsec1 --verify, {XMLSEC1_RESPONSES} responses, {THREADS} at a time");
    let pending = fake_pending(XMLSEC1_RESPONSES.max(PYSAML2_RESPONSES));
    let outside = signer.sign_all(&pending, 0);
    let xmlsec1 = measure_xmlsec1(dir.path(), &outside[..XMLSEC1_RESPONSES]);
    eprintln!("bench: pysaml2, {PYSAML2_RESPONSES} responses, {THREADS} processes");
    let pysaml2 = measure_pysaml2(&python, dir.path(), &outside[..PYSAML2_RESPONSES]);

    let size = signer.sign(&fake_pending(1)[0], 0, 0).xml.len();
    println!(
        "\n## SAML2 ACS: validated responses per second\n\n{THREADS} threads × {} responses in flight; in-process lines: median of {ROUNDS} rounds of {responses} distinct responses. Response: {size} bytes of XML (signed Assertion, rsa-sha256, exclusive C14N, KeyInfo with the certificate). Database: {db_label}. CPU: this process's (and its children's) user + system time over the run, divided by the responses; \"vs floor (CPU)\" is the floor's CPU per response over the line's, what the rate ratio would be if both had the 2 cores to themselves; the in-process lines' ratios are medians of each round's own ratio. The floor runs as many verifications at once as the bridge lines have responses in flight.\n",
        in_flight()
    );
    println!(
        "| measurement | responses/s | CPU-µs per response | of which system | context switches per response | cores busy | vs floor (rate) | vs floor (CPU) | ≥ {} /s | ≥ {:.0}% of floor |",
        thousands(TARGET_RATE),
        TARGET_SHARE_OF_FLOOR * 100.0
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    let mark = |ok: bool| if ok { "✅" } else { "❌" };
    // The outside verifiers run once, after the rounds: against the median floor.
    let once = |m: Measured| (m.per_second / floor.per_second, floor.cpu_us / m.cpu_us);
    let lines = [
        (
            "**floor**: samael `verify_signed_xml` (bare signature check, in-process, as many at once)",
            floor,
            (1.0, 1.0),
            false,
        ),
        (
            "`SamlIdp::verify` (signature, every condition, mapping; no database)",
            verify,
            ratio(|r| r.verify),
            false,
        ),
        (
            "`SamlIdp::verify` + replay-cache write (`remember_assertion`)",
            verify_remember,
            ratio(|r| r.verify_remember),
            false,
        ),
        (
            "`flow::saml_acs` (base64, pre-check, flow look-up, verify, replay cache, identity, flow advance, homeserver check)",
            flow,
            ratio(|r| r.flow),
            true,
        ),
        (
            "**ACS, whole**: form POST through the actix-web routes in-process (`actix_web::test`)",
            actix,
            ratio(|r| r.actix),
            true,
        ),
        (
            "`xmlsec1 --verify` command line, 2 processes at a time (includes process start)",
            xmlsec1,
            once(xmlsec1),
            false,
        ),
        (
            "pysaml2 7.5.5 `parse_authn_request_response`, 2 processes (runs xmlsec1 per signature)",
            pysaml2,
            once(pysaml2),
            false,
        ),
    ];
    for (name, m, (vs_rate, vs_cpu), target) in &lines {
        let (rate_ok, share_ok) = if *target {
            (
                mark(m.per_second >= TARGET_RATE),
                mark(*vs_rate >= TARGET_SHARE_OF_FLOOR),
            )
        } else {
            ("", "")
        };
        println!(
            "| {name} | {} | {} | {} | {} | {:.2} | {:.0}% | {:.0}% | {rate_ok} | {share_ok} |",
            thousands(m.per_second),
            thousands(m.cpu_us),
            if m.sys_share.is_nan() {
                "–".to_owned()
            } else {
                format!("{:.0}%", 100.0 * m.sys_share)
            },
            if m.switches.is_nan() {
                "–".to_owned()
            } else {
                format!("{:.1}", m.switches)
            },
            m.cores,
            100.0 * vs_rate,
            100.0 * vs_cpu,
        );
    }
    println!(
        "\nEach round (responses/s; the ACS's share of that round's floor by rate and by CPU):\n"
    );
    println!(
        "| round | floor | verify | verify + replay cache | flow::saml_acs | ACS (actix) | ACS ÷ floor | by CPU |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, r) in rounds.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0}% | {:.0}% |",
            i + 1,
            thousands(r.floor.per_second),
            thousands(r.verify.per_second),
            thousands(r.verify_remember.per_second),
            thousands(r.flow.per_second),
            thousands(r.actix.per_second),
            100.0 * r.actix.per_second / r.floor.per_second,
            100.0 * r.floor.cpu_us / r.actix.cpu_us,
        );
    }
    println!("\n| target (issue 8, item 2) | result |\n|---|---|");
    println!(
        "| ≥ {} validated responses/s on the {THREADS} cores | {} {} /s |",
        thousands(TARGET_RATE),
        mark(actix.per_second >= TARGET_RATE),
        thousands(actix.per_second)
    );
    let (actix_vs_rate, actix_vs_cpu) = ratio(|r| r.actix);
    println!(
        "| ≥ {:.0}% of samael's bare signature verification (median of the rounds) | {} {:.0}% by rate ({:.0}% by CPU per response) |",
        TARGET_SHARE_OF_FLOOR * 100.0,
        mark(actix_vs_rate >= TARGET_SHARE_OF_FLOOR),
        100.0 * actix_vs_rate,
        100.0 * actix_vs_cpu
    );
    drop(services);
    workers.stop();
}

struct Round {
    floor: Measured,
    verify: Measured,
    verify_remember: Measured,
    flow: Measured,
    actix: Measured,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The same configuration as tests/saml_acs_checks.rs, on the bench's database.
async fn services(database: String, homeserver: u16) -> Arc<Services> {
    let text = saml_config::saml_config(
        "idp-metadata.xml",
        &database,
        &format!("http://127.0.0.1:{homeserver}/"),
    );
    let config = Config::parse(&text).expect("bench config");
    Services::start(config, Arc::new(SystemClock), Random::from_os())
        .await
        .expect("services")
}

/// The bridge's routes as tests/saml_acs_checks.rs mounts them.
macro_rules! app {
    ($services:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::from($services.clone()))
                .wrap(actix_web::middleware::from_fn(sso_bridge::http::edge))
                .configure(sso_bridge::http::routes),
        )
        .await
    };
}

/// A login waiting at the IdP: the AuthnRequest ID, RelayState and browser cookie.
struct Pending {
    request_id: String,
    relay_state: String,
    cookie: Cookie<'static>,
}

/// Starts `n` logins for `eng` through the bridge, on both workers (not timed).
fn start_flows(workers: &Workers, services: &Arc<Services>, n: usize) -> Vec<Pending> {
    let services = services.clone();
    workers
        .on_all(move |t| {
            let services = services.clone();
            Box::pin(async move { start_some_flows(&services, share(n, t).len()).await })
        })
        .into_iter()
        .flatten()
        .collect()
}

async fn start_some_flows(services: &Arc<Services>, n: usize) -> Vec<Pending> {
    let app = app!(services);
    let mut pending = Vec::with_capacity(n);
    for _ in 0..n {
        let request = test::TestRequest::get()
            .uri("/_matrix/client/v3/login/sso/redirect/eng?redirectUrl=https%3A%2F%2Fapp.example%2Fcb")
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = url::Url::parse(
            response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .expect("a location"),
        )
        .expect("a URL");
        let cookie = response
            .response()
            .cookies()
            .find(|c| c.name() == "sso_bridge_browser")
            .expect("the browser cookie")
            .into_owned();
        let query = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no {name} in {location}"))
        };
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&STANDARD.decode(query("SAMLRequest")).unwrap()[..])
            .read_to_string(&mut xml)
            .expect("a deflated AuthnRequest");
        let request_id = roxmltree::Document::parse(&xml)
            .expect("AuthnRequest XML")
            .root_element()
            .attribute("ID")
            .expect("an ID")
            .to_owned();
        pending.push(Pending {
            request_id,
            relay_state: query("RelayState"),
            cookie,
        });
    }
    pending
}

/// Requests no bridge knows of: for the outside verifiers, which keep no flows.
fn fake_pending(n: usize) -> Vec<Pending> {
    (0..n)
        .map(|i| Pending {
            request_id: format!("_outside{i:05}{:016x}", rand::random::<u64>()),
            relay_state: String::new(),
            cookie: Cookie::new("unused", "unused"),
        })
        .collect()
}

/// One signed response to one pending login.
struct Case {
    request_id: String,
    relay_state: String,
    cookie: Cookie<'static>,
    xml: String,
    base64: String,
    /// The HTTP-POST binding's form body, encoded before the clock starts.
    form: String,
}

struct Signer {
    key_der: Vec<u8>,
    cert_body: String,
}

impl Signer {
    fn new() -> Self {
        let pem = std::fs::read(fixture("idp.key")).expect("idp.key");
        let key_der = openssl::pkey::PKey::private_key_from_pem(&pem)
            .and_then(|k| k.private_key_to_der())
            .expect("the test IdP key");
        let cert_body = std::fs::read_to_string(fixture("idp.crt"))
            .expect("idp.crt")
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        Self { key_der, cert_body }
    }

    /// Signs one response per pending login, on both cores (not timed).
    fn sign_all(&self, pending: &[Pending], round: usize) -> Vec<Case> {
        let chunk = pending.len().div_ceil(THREADS).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = pending
                .chunks(chunk)
                .enumerate()
                .map(|(c, part)| {
                    s.spawn(move || {
                        part.iter()
                            .enumerate()
                            .map(|(i, p)| self.sign(p, round, c * chunk + i))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("signing thread"))
                .collect()
        })
    }

    fn sign(&self, pending: &Pending, round: usize, index: usize) -> Case {
        let xml = Crypto::sign_xml(self.template(pending, round, index), &self.key_der)
            .expect("xmlsec signs");
        let base64 = STANDARD.encode(&xml);
        let form = serde_urlencoded::to_string([
            ("SAMLResponse", base64.as_str()),
            ("RelayState", pending.relay_state.as_str()),
        ])
        .expect("form body");
        Case {
            request_id: pending.request_id.clone(),
            relay_state: pending.relay_state.clone(),
            cookie: pending.cookie.clone(),
            base64,
            form,
            xml,
        }
    }

    /// The response of tests/saml_acs_checks.rs (`build(&spec(request_id))`),
    /// for one of `PEOPLE` people, with fresh IDs.
    fn template(&self, pending: &Pending, round: usize, index: usize) -> String {
        let now = Utc::now();
        let t = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let (now_s, nb, nooa) = (
            t(now),
            t(now - chrono::Duration::seconds(5)),
            t(now + chrono::Duration::minutes(5)),
        );
        let irt = &pending.request_id;
        let person = index % PEOPLE;
        let suffix = format!("{round}x{index}x{:016x}", rand::random::<u64>());
        let aid = format!("_a{suffix}");
        let rid = format!("_r{suffix}");
        let cert = &self.cert_body;
        let signature = format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{aid}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##
        );
        let assertion = format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{now_s}"><saml:Issuer>{IDP}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">persistent-person{person}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{nooa}" Recipient="{ACS}" InResponseTo="{irt}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{nooa}"><saml:AudienceRestriction><saml:Audience>{SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now_s}" SessionIndex="s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="urn:oid:2.5.4.11" FriendlyName="ou" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute><saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.1" FriendlyName="uid" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>person{person}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="urn:oid:2.16.840.1.113730.3.1.241" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>Person {person}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#
        );
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{now_s}" Destination="{ACS}" InResponseTo="{irt}"><saml:Issuer>{IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#
        )
    }
}

/// The IdP's signing certificate as the metadata gives it to samael.
fn idp_certificate() -> CertificateDer {
    let pem = std::fs::read(fixture("idp.crt")).expect("idp.crt");
    openssl::x509::X509::from_pem(&pem)
        .and_then(|c| c.to_der())
        .expect("idp.crt")
        .into()
}

/// A moment: the clock, and what this process and its reaped children used:
/// CPU time (user + system), system time, context switches.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    cpu: f64,
    sys: f64,
    switches: f64,
}

impl Mark {
    fn now() -> Self {
        let usage = |children| {
            let u = sso_bridge_sys::process::usage(children);
            (u.cpu_seconds, u.sys_seconds, u.context_switches)
        };
        let (own, children) = (usage(false), usage(true));
        Self {
            at: Instant::now(),
            cpu: own.0 + children.0,
            sys: own.1 + children.1,
            switches: own.2 + children.2,
        }
    }
}

/// What a line measured.
#[derive(Clone, Copy)]
struct Measured {
    per_second: f64,
    /// CPU time (all threads, and child processes) per response, µs.
    cpu_us: f64,
    /// Cores busy on average over the run.
    cores: f64,
    /// The kernel's part of the CPU time.
    sys_share: f64,
    /// Context switches per response (NaN where not known).
    switches: f64,
}

impl Measured {
    fn new(count: usize, seconds: f64, cpu_seconds: f64) -> Self {
        Self {
            per_second: count as f64 / seconds,
            cpu_us: cpu_seconds * 1e6 / count as f64,
            cores: cpu_seconds / seconds,
            sys_share: f64::NAN,
            switches: f64::NAN,
        }
    }
}

/// Over the union of the threads' spans (from the first start to the last end).
fn measured(count: usize, spans: &[(Mark, Mark)]) -> Measured {
    let start = spans
        .iter()
        .map(|s| s.0)
        .min_by_key(|m| m.at)
        .expect("spans");
    let end = spans
        .iter()
        .map(|s| s.1)
        .max_by_key(|m| m.at)
        .expect("spans");
    Measured {
        sys_share: (end.sys - start.sys) / (end.cpu - start.cpu),
        switches: (end.switches - start.switches) / count as f64,
        ..Measured::new(
            count,
            (end.at - start.at).as_secs_f64(),
            end.cpu - start.cpu,
        )
    }
}

/// (b) The floor: samael's bare signature verification (parse, key from the
/// certificate, xmlsec verify), with the bridge lines' parallelism: as many
/// verifications at once as they have responses in flight (`THREADS` ×
/// `in_flight()`), each on a thread of its own as the bridge's blocking pool
/// runs them. (With only `THREADS` threads, a machine shared with other work
/// gives the floor a smaller share of the cores than the bridge's many threads.)
fn measure_floor(cases: &[Case], cert: &CertificateDer) -> Measured {
    let threads = THREADS * in_flight();
    let barrier = std::sync::Barrier::new(threads);
    let spans: Vec<(Mark, Mark)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Mark::now();
                    for case in cases.iter().skip(t).step_by(threads) {
                        Crypto::verify_signed_xml(&case.xml, cert, Some("ID"))
                            .expect("the signature verifies");
                    }
                    (start, Mark::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("floor thread"))
            .collect()
    });
    measured(cases.len(), &spans)
}

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// `THREADS` threads, each a single-threaded actix runtime that lives as long as
/// the bench (like the bridge's workers): the bridge's shared clients (the SQLite
/// pool, the HTTP client of the homeserver check) keep connections that belong
/// to the runtime that opened them, which must therefore keep running.
struct Workers {
    senders: Vec<tokio::sync::mpsc::UnboundedSender<Job>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn start() -> Self {
        let (senders, threads) = (0..THREADS)
            .map(|t| {
                let (sender, mut jobs) = tokio::sync::mpsc::unbounded_channel::<Job>();
                let thread = std::thread::Builder::new()
                    .name(format!("bench-worker-{t}"))
                    .spawn(move || {
                        actix_web::rt::System::new().block_on(async move {
                            while let Some(job) = jobs.recv().await {
                                job().await;
                            }
                        })
                    })
                    .expect("worker thread");
                (sender, thread)
            })
            .unzip();
        Self { senders, threads }
    }

    /// Runs `work(worker)` on every worker at once; the results in worker order.
    fn on_all<R, F>(&self, work: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(usize) -> Pin<Box<dyn Future<Output = R>>> + Clone + Send + 'static,
    {
        let (done, results) = std::sync::mpsc::channel();
        for (t, sender) in self.senders.iter().enumerate() {
            let (work, done) = (work.clone(), done.clone());
            let job: Job = Box::new(move || {
                Box::pin(async move {
                    let _ = done.send((t, work(t).await));
                })
            });
            assert!(sender.send(job).is_ok(), "worker {t} is gone");
        }
        drop(done);
        let mut results: Vec<(usize, R)> = results.iter().collect();
        assert_eq!(results.len(), THREADS, "a worker panicked");
        results.sort_by_key(|(t, _)| *t);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// Runs `work` on the first worker.
    fn on_one<R, F>(&self, work: F) -> R
    where
        R: Send + 'static,
        F: FnOnce() -> Pin<Box<dyn Future<Output = R>>> + Send + 'static,
    {
        let (done, result) = std::sync::mpsc::channel();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                let _ = done.send(work().await);
            })
        });
        assert!(self.senders[0].send(job).is_ok(), "worker 0 is gone");
        result.recv().expect("worker 0 panicked")
    }

    fn stop(self) {
        drop(self.senders);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Runs `work(worker, barrier)` on all workers; each does its untimed setup,
/// waits on the barrier and returns its timed span. The rate is over the union
/// of the spans.
fn on_workers<F>(workers: &Workers, count: usize, work: F) -> Measured
where
    F: Fn(usize, Arc<tokio::sync::Barrier>) -> Pin<Box<dyn Future<Output = (Mark, Mark)>>>
        + Clone
        + Send
        + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(THREADS));
    let spans = workers.on_all(move |t| work(t, barrier.clone()));
    measured(count, &spans)
}

/// A stand-in for the department's homeserver: the bridge asks
/// `/_matrix/client/versions` before sending anyone there (and believes an
/// answer for 2 s). Its own thread and runtime; returns the port.
fn fake_homeserver() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the homeserver");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(|| {
                App::new().route(
                    "/_matrix/client/versions",
                    web::get().to(|| async {
                        actix_web::HttpResponse::Ok()
                            .content_type("application/json")
                            .body(r#"{"versions":["v1.11"]}"#)
                    }),
                )
            })
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run()
            .await
        })
    });
    port
}

/// `in_flight()` tasks on this thread's runtime take the next response until none
/// is left; every one must be accepted. Returns the timed span.
async fn drive<F, Fut>(
    items: Vec<usize>,
    barrier: Arc<tokio::sync::Barrier>,
    handle: F,
) -> (Mark, Mark)
where
    F: Fn(usize) -> Fut + 'static,
    Fut: Future<Output = Result<(), String>> + 'static,
{
    let queue = Rc::new(RefCell::new(items.into_iter()));
    let handle = Rc::new(handle);
    barrier.wait().await;
    let start = Mark::now();
    let tasks: Vec<_> = (0..in_flight())
        .map(|_| {
            let (queue, handle) = (queue.clone(), handle.clone());
            actix_web::rt::spawn(async move {
                loop {
                    let next = queue.borrow_mut().next();
                    let Some(item) = next else {
                        return Ok::<(), String>(());
                    };
                    handle(item).await?;
                }
            })
        })
        .collect();
    for task in tasks {
        if let Err(e) = task.await.expect("bench task") {
            panic!("a valid response was refused: {e}");
        }
    }
    (start, Mark::now())
}

fn share(len: usize, thread: usize) -> Vec<usize> {
    (thread..len).step_by(THREADS).collect()
}

/// `saml::precheck` + `SamlIdp::verify`: shape limits, signature profile,
/// signature, algorithms, InResponseTo, Destination,
/// Recipient, Issuer, validity window, Status, Audience, the mapping; and, with
/// `remember`, the replay-cache write (under an IdP name of its own, so the
/// later lines still find these assertion IDs unused).
fn measure_verify(
    workers: &Workers,
    services: &Arc<Services>,
    cases: &Arc<Vec<Case>>,
    remember: bool,
) -> Measured {
    let (services, cases) = (services.clone(), cases.clone());
    on_workers(workers, cases.len(), move |t, barrier| {
        let (services, cases) = (services.clone(), cases.clone());
        Box::pin(drive(share(cases.len(), t), barrier, move |i| {
            let (services, cases) = (services.clone(), cases.clone());
            async move {
                let case = &cases[i];
                let idp = services.upstreams.saml("campus").expect("campus");
                let (xml, prechecked) = sso_bridge::upstream::saml::precheck(case.xml.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                let verified = idp
                    .verify(
                        xml,
                        prechecked,
                        case.request_id.clone(),
                        services.clock.now(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                if remember
                    && !services
                        .store
                        .remember_assertion(
                            "bench-verify",
                            &verified.assertion_id,
                            verified.expires_at,
                        )
                        .await
                        .map_err(|e| e.to_string())?
                {
                    return Err("replay".into());
                }
                Ok(())
            }
        }))
    })
}

/// (a) `flow::saml_acs`, the whole ACS below HTTP.
fn measure_flow_acs(
    workers: &Workers,
    services: &Arc<Services>,
    cases: &Arc<Vec<Case>>,
    homeserver: u16,
) -> Measured {
    let (services, cases) = (services.clone(), cases.clone());
    on_workers(workers, cases.len(), move |t, barrier| {
        let (services, cases) = (services.clone(), cases.clone());
        Box::pin(drive(share(cases.len(), t), barrier, move |i| {
            let (services, cases) = (services.clone(), cases.clone());
            async move {
                let case = &cases[i];
                let browser = BrowserSecret::from_cookie(case.cookie.value());
                match flow::saml_acs(
                    &services.flow(),
                    browser.as_ref(),
                    "campus",
                    &case.base64,
                    Some(&case.relay_state),
                )
                .await
                {
                    Ok((Next::Redirect(url), None)) if url.port() == Some(homeserver) => Ok(()),
                    Ok((next, _)) => Err(format!("unexpected {:?}", std::mem::discriminant(&next))),
                    Err(e) => Err(e.to_string()),
                }
            }
        }))
    })
}

/// (a) The whole ACS as deployed, minus TCP: the form POST through the bridge's
/// actix-web routes, in-process.
fn measure_actix_acs(
    workers: &Workers,
    services: &Arc<Services>,
    cases: &Arc<Vec<Case>>,
    homeserver: u16,
) -> Measured {
    let (services, cases) = (services.clone(), cases.clone());
    let expected = format!("http://127.0.0.1:{homeserver}/");
    on_workers(workers, cases.len(), move |t, barrier| {
        let (services, cases, expected) = (services.clone(), cases.clone(), expected.clone());
        Box::pin(async move {
            let app = Rc::new(app!(services));
            drive(share(cases.len(), t), barrier, move |i| {
                let (app, cases, expected) = (app.clone(), cases.clone(), expected.clone());
                async move {
                    let case = &cases[i];
                    let request = test::TestRequest::post()
                        .uri("/_sso_bridge/upstream/saml/campus/acs")
                        .cookie(case.cookie.clone())
                        .insert_header((
                            actix_web::http::header::CONTENT_TYPE,
                            "application/x-www-form-urlencoded",
                        ))
                        .set_payload(case.form.clone())
                        .to_request();
                    let response = test::call_service(&*app, request).await;
                    let location = response
                        .headers()
                        .get("location")
                        .and_then(|l| l.to_str().ok())
                        .unwrap_or_default();
                    if response.status() == StatusCode::FOUND && location.starts_with(&expected) {
                        Ok(())
                    } else {
                        Err(format!("{} {location}", response.status()))
                    }
                }
            })
            .await
        })
    })
}

/// (c) The xmlsec1 command line, `THREADS` processes at a time; each run pays
/// for its own process start, library initialisation and key loading.
fn measure_xmlsec1(dir: &Path, cases: &[Case]) -> Measured {
    let files: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let path = dir.join(format!("response-{i}.xml"));
            std::fs::write(&path, &case.xml).expect("write a response");
            path
        })
        .collect();
    let cert = fixture("idp.crt");
    let barrier = std::sync::Barrier::new(THREADS);
    let spans: Vec<(Mark, Mark)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (barrier, files, cert) = (&barrier, &files, &cert);
                s.spawn(move || {
                    barrier.wait();
                    let start = Mark::now();
                    for file in files.iter().skip(t).step_by(THREADS) {
                        let output = Command::new("xmlsec1")
                            .arg("--verify")
                            .arg("--pubkey-cert-pem")
                            .arg(cert)
                            .args(["--id-attr:ID", ASSERTION])
                            .arg(file)
                            .output()
                            .expect("run xmlsec1");
                        assert!(
                            output.status.success(),
                            "xmlsec1 refused {}: {}",
                            file.display(),
                            String::from_utf8_lossy(&output.stderr)
                        );
                    }
                    (start, Mark::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("xmlsec1 thread"))
            .collect()
    });
    measured(files.len(), &spans)
}

/// (d) pysaml2 (benches/saml/pysaml2_parse.py), `THREADS` processes side by side,
/// each timing its own loop; the rate is over the union of their loops.
fn measure_pysaml2(python: &Path, dir: &Path, cases: &[Case]) -> Measured {
    let tsv = dir.join("pysaml2-responses.tsv");
    let mut file = std::fs::File::create(&tsv).expect("responses file");
    for case in cases {
        writeln!(file, "{}\t{}", case.request_id, case.base64).expect("write responses");
    }
    drop(file);
    let children: Vec<_> = (0..THREADS)
        .map(|shard| {
            Command::new(python)
                .arg(root().join("benches/saml/pysaml2_parse.py"))
                .arg("--responses")
                .arg(&tsv)
                .args(["--shard", &shard.to_string()])
                .args(["--shards", &THREADS.to_string()])
                .arg("--idp-metadata")
                .arg(fixture("idp-metadata.xml"))
                .args(["--sp-entity-id", SP, "--acs", ACS])
                .arg("--sp-key")
                .arg(fixture("sp.key"))
                .arg("--sp-cert")
                .arg(fixture("sp.crt"))
                .stdout(Stdio::piped())
                .spawn()
                .expect("run pysaml2_parse.py")
        })
        .collect();
    let mut count = 0;
    let (mut start, mut end, mut cpu) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for child in children {
        let output = child.wait_with_output().expect("pysaml2_parse.py");
        assert!(output.status.success(), "pysaml2_parse.py failed");
        let line = output
            .stdout
            .as_slice()
            .lines()
            .map_while(Result::ok)
            .last()
            .expect("a result line");
        let result: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        count += result["count"].as_u64().expect("count") as usize;
        start = start.min(result["start"].as_f64().expect("start"));
        end = end.max(result["end"].as_f64().expect("end"));
        cpu += result["cpu"].as_f64().expect("cpu");
    }
    assert_eq!(count, cases.len());
    Measured::new(count, end - start, cpu)
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
