//! The SAML ACS under a flood, against the real binary: 200 concurrent posts of
//! expensive-but-invalid responses from several loopback addresses, sent as an
//! attacker would (no IdP key; each flow from an anonymous login start), while a
//! real login through the test SAML IdP completes. The login stays fast, every
//! flood response is refused, nothing follows the forged references, and the
//! bridge's thread count stays bounded (it verifies on a fixed pool instead of
//! growing tokio's blocking pool).

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;

use sso_bridge_sys::tripwire::Tripwires;
use sso_bridge_testing::login::{NO_PICKER, full_login, person, start_url};
use sso_bridge_testing::world::{TRUSTED_CLIENT, World, world};

const FLOOD: usize = 200;
const ADDRESSES: u8 = 8;
const ACS_PATH: &str = "_sso_bridge/upstream/saml/campus/acs";
const FAILED: &str = "sso_bridge_logins_failed_total";

/// A client whose connections come from 127.0.0.`n`.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// An anonymous login start for the SAML department: the AuthnRequest ID and
/// the cookie that binds the flow to this "browser".
async fn anonymous_flow(w: &World, client: &reqwest::Client) -> (String, String) {
    let response = client
        .get(start_url(w, Some("phys"), TRUSTED_CLIENT))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sso_bridge_browser="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let request = location
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .into_owned();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&STANDARD.decode(request).unwrap()[..])
        .read_to_string(&mut xml)
        .unwrap();
    let id = roxmltree::Document::parse(&xml)
        .unwrap()
        .root_element()
        .attribute("ID")
        .unwrap()
        .to_owned();
    (id, cookie)
}

fn response(in_response_to: &str, signature: &str, assertion_extra: &str, padding: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{in_response_to}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" InResponseTo="{in_response_to}"><saml:Issuer>x</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{padding}<saml:Assertion ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>x</saml:Issuer>{signature}<saml:Subject><saml:NameID>p</saml:NameID></saml:Subject><saml:AttributeStatement>{assertion_extra}</saml:AttributeStatement></saml:Assertion></samlp:Response>"#
    )
}

fn signature(uri: &str, extra_transform: &str) -> String {
    format!(
        r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="{uri}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>{extra_transform}<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"#
    )
}

/// The five kinds of flood response; `i` picks one. The first four are refused
/// by the pre-check; the fifth (half of the flood) is well shaped (the profile, 100 attributes, 150 KB of
/// text) and reaches the signature check, which it fails.
fn flood_response(i: usize, in_response_to: &str, wires: &Tripwires) -> (&'static str, String) {
    let elements = "<e><f/></e>".repeat(400);
    match i % 8 {
        0 => (
            "xpath filter",
            response(
                in_response_to,
                &signature(
                    "#_a",
                    r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//*[count(//*) &gt; 0]) &gt; 0</ds:XPath></ds:Transform>"#,
                ),
                "",
                &format!("<samlp:Extensions>{elements}</samlp:Extensions>"),
            ),
        ),
        1 => (
            "xslt",
            response(
                in_response_to,
                &signature(
                    "#_a",
                    r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:for-each select="//*"><xsl:for-each select="//*"><xsl:for-each select="//*"><xsl:value-of select="name()"/></xsl:for-each></xsl:for-each></xsl:for-each></xsl:template></xsl:stylesheet></ds:Transform>"#,
                ),
                "",
                &format!("<samlp:Extensions>{}</samlp:Extensions>", "<e/>".repeat(80)),
            ),
        ),
        2 => {
            let attributes: String = (0..16_000).map(|n| format!(" a{n}=\"x\"")).collect();
            (
                "16,000 attributes",
                response(in_response_to, &signature("#_a", ""), "", "").replacen(
                    "<saml:Issuer>",
                    &format!("<saml:Issuer{attributes}>"),
                    1,
                ),
            )
        }
        3 => (
            "reference to a silent listener",
            response(in_response_to, &signature(&wires.http_url(), ""), "", ""),
        ),
        _ => {
            let attributes: String = (0..100)
                .map(|n| {
                    format!(
                        r#"<saml:Attribute Name="urn:oid:1.3.6.1.4.1.99999.{n}"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute>"#,
                        "v".repeat(1_500)
                    )
                })
                .collect();
            (
                "well shaped, bad signature",
                response(in_response_to, &signature("#_a", ""), &attributes, ""),
            )
        }
    }
}

/// The bridge's threads, from `/proc`.
fn threads_of(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_flooded_acs_refuses_the_flood_and_a_genuine_login_stays_fast() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let pid = w.bridge_pid().expect("the bridge runs");
    let wires = Tripwires::set();
    let acs = format!("{}{ACS_PATH}", w.bridge_url);
    let threads_before = threads_of(pid);
    let genuine_login = || async {
        let started = Instant::now();
        let (user, homeserver) = full_login(
            &sso_bridge_testing::browser::Browser::new(),
            &person("paula", NO_PICKER),
            Some("phys"),
        )
        .await;
        assert_eq!(user, "@paula:phys.test");
        assert_eq!(homeserver, w.phys.client_url());
        started.elapsed()
    };
    let login_alone = genuine_login().await;

    // The attacker's flows and bodies, all made before the flood starts.
    let mut posts = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let client = client_from(2 + (i % usize::from(ADDRESSES)) as u8);
        let (request_id, cookie) = anonymous_flow(w, &client).await;
        let (kind, xml) = flood_response(i, &request_id, &wires);
        let body = serde_urlencoded::to_string([
            ("SAMLResponse", STANDARD.encode(xml)),
            ("RelayState", "x".to_owned()),
        ])
        .unwrap();
        assert!(body.len() < 256 * 1024, "{kind}: {} bytes", body.len());
        posts.push((kind, client, cookie, body));
    }

    let verified_before = w
        .metric(&w.bridge_url, FAILED, &[r#"reason="saml_signature""#])
        .await;

    // Sample the thread count while everything below runs.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut most = 0;
            let mut interval = tokio::time::interval(Duration::from_millis(20));
            let deadline = Instant::now() + Duration::from_secs(120);
            while sampling.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                interval.tick().await;
                most = most.max(threads_of(pid));
            }
            most
        })
    };

    let flood_started = Instant::now();
    let flood: Vec<_> = posts
        .into_iter()
        .map(|(kind, client, cookie, body)| {
            let acs = acs.clone();
            tokio::spawn(async move {
                let status = client
                    .post(&acs)
                    .header("cookie", cookie)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status());
                (kind, status, Instant::now())
            })
        })
        .collect();

    let login_took = genuine_login().await;

    let mut statuses: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut flood_ended = flood_started;
    for task in flood {
        let (kind, status, answered) = task.await.unwrap();
        flood_ended = flood_ended.max(answered);
        let answer = match status {
            Ok(status) if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE => {
                status.to_string()
            }
            Ok(status) => {
                wrong.push(format!("{kind}: answered {status}"));
                status.to_string()
            }
            Err(e) => {
                wrong.push(format!("{kind}: {e}"));
                "no answer".to_owned()
            }
        };
        *statuses.entry((kind, answer)).or_default() += 1;
    }
    // From the first post to the last answer (the login is awaited first, so
    // the time at which each answer came is taken in its own task).
    let flood_took = flood_ended - flood_started;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let most_threads = sampler.await.unwrap();

    eprintln!("genuine login alone: {} ms", login_alone.as_millis());
    eprintln!(
        "genuine login during ACS flood: {} ms",
        login_took.as_millis()
    );
    eprintln!(
        "flood of {FLOOD} responses from {ADDRESSES} addresses: {} ms",
        flood_took.as_millis()
    );
    eprintln!("bridge threads: {threads_before} before, at most {most_threads} during");
    for ((kind, status), count) in &statuses {
        eprintln!("  {count:>4} × {status} — {kind}");
    }
    assert!(
        wrong.is_empty(),
        "{} flood responses not refused, first: {:?}",
        wrong.len(),
        wrong.first()
    );
    wires.assert_untouched();
    // The well-shaped kind is the expensive one: it passes every pre-check and
    // fails only at the signature check (unless the bridge was too busy for it).
    let verified = w
        .metric(&w.bridge_url, FAILED, &[r#"reason="saml_signature""#])
        .await
        - verified_before;
    let well_shaped_refused = statuses
        .get(&(
            "well shaped, bad signature",
            StatusCode::BAD_REQUEST.to_string(),
        ))
        .copied()
        .unwrap_or(0);
    eprintln!("refused at the signature check: {verified}");
    assert!(
        verified >= well_shaped_refused as f64,
        "{well_shaped_refused} well-shaped responses refused with 400, \
         only {verified} of them at the signature check"
    );
    assert!(
        login_took < Duration::from_secs(20),
        "the genuine login took {login_took:?}"
    );
    // Unbounded, tokio's blocking pool grows towards one thread per response in
    // flight (its cap is 512; 58 were seen here before the fixed pool, 16 since).
    assert!(
        most_threads < 40,
        "the bridge grew to {most_threads} threads (from {threads_before})"
    );
}
