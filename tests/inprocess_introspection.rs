//! Token validation's cache rules, with a mock clock and a scripted homeserver
//! (its answers, headers and failures are set per test). The real Synapse,
//! Redis and nginx runs are in `tests/e2e/introspection.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sso_bridge::clock::MockClock;
use sso_bridge::config::Config;
use sso_bridge::introspection::{IntrospectionError, Verdict};
use sso_bridge::random::Random;
use sso_bridge::services::Services;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the scripted homeserver answers to `Bearer syt_alice` (others get 401).
struct Script {
    status: u16,
    body: String,
    cache_control: Option<String>,
}

struct Homeserver {
    url: String,
    calls: Arc<AtomicUsize>,
    script: Arc<Mutex<Script>>,
}

async fn homeserver() -> Homeserver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(Mutex::new(Script {
        status: 200,
        body: r#"{"user_id":"@alice:eng.test","device_id":"DEV1"}"#.into(),
        cache_control: None,
    }));
    let (c, s) = (calls.clone(), script.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request).to_lowercase();
            assert!(request.starts_with("get /_matrix/client/v3/account/whoami "));
            c.fetch_add(1, Ordering::SeqCst);
            let (status, body, cache_control) =
                if request.contains("authorization: bearer syt_alice\r\n") {
                    let s = s.lock().unwrap();
                    (s.status, s.body.clone(), s.cache_control.clone())
                } else {
                    (
                        401,
                        r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown token"}"#.into(),
                        None,
                    )
                };
            let extra = cache_control
                .map(|v| format!("Cache-Control: {v}\r\n"))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    Homeserver { url, calls, script }
}

/// A closed port: connection refused.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/", listener.local_addr().unwrap())
}

async fn services(clock: Arc<MockClock>, eng_url: &str, hist_url: &str) -> Arc<Services> {
    services_with(clock, eng_url, hist_url, "").await
}

async fn services_with(
    clock: Arc<MockClock>,
    eng_url: &str,
    hist_url: &str,
    introspection: &str,
) -> Arc<Services> {
    let config = Config::parse(&sso_bridge_testing::database::in_config(&format!(
        r#"
public_base_url = "http://127.0.0.1:8008/"
database_url = "sqlite::memory:"
[secrets]
encryption_key = "inprocess-encryption-key-0123456789"
[introspection]
cache_ttl_seconds = 60
inactive_ttl_seconds = 5
{introspection}
[[introspection.clients]]
id = "portal"
secret = "portal-secret-0123456789"
{departments}"#,
        departments = sso_bridge_testing::inprocess::university_with(&[
            ("eng", "Engineering", eng_url),
            ("hist", "History", hist_url),
        ]),
    )))
    .expect("config");
    Services::start(config, clock, Random::seeded(7))
        .await
        .expect("services")
}

async fn ask(
    services: &Services,
    token: &str,
    hint: Option<&str>,
) -> Result<Verdict, IntrospectionError> {
    let client = services
        .config
        .introspection
        .client("portal")
        .unwrap()
        .clone();
    services.introspector.introspect(&client, token, hint).await
}

fn user(verdict: &Result<Verdict, IntrospectionError>) -> Option<String> {
    match verdict {
        Ok(Verdict::Active(active)) => Some(active.holder.user_id.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn answers_live_for_their_ttl_on_the_bridges_clock() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let hs = homeserver().await;
    let services = services(clock.clone(), &hs.url, &closed_url()).await;

    let first = ask(&services, "syt_alice", Some("eng.test")).await;
    assert_eq!(user(&first).as_deref(), Some("@alice:eng.test"));
    clock.advance(59);
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
    assert_eq!(
        hs.calls.load(Ordering::SeqCst),
        1,
        "reused within cache_ttl_seconds"
    );
    clock.advance(1);
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
    assert_eq!(hs.calls.load(Ordering::SeqCst), 2, "asked again at expiry");

    // Inactive answers live inactive_ttl_seconds.
    assert_eq!(
        ask(&services, "syt_nobody", Some("eng.test")).await.ok(),
        Some(Verdict::Inactive)
    );
    clock.advance(4);
    assert_eq!(
        ask(&services, "syt_nobody", Some("eng.test")).await.ok(),
        Some(Verdict::Inactive)
    );
    assert_eq!(hs.calls.load(Ordering::SeqCst), 3);
    clock.advance(1);
    assert_eq!(
        ask(&services, "syt_nobody", Some("eng.test")).await.ok(),
        Some(Verdict::Inactive)
    );
    assert_eq!(hs.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn the_homeservers_max_age_caps_the_ttl() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let hs = homeserver().await;
    hs.script.lock().unwrap().cache_control = Some("private, max-age=10".into());
    let services = services(clock.clone(), &hs.url, &closed_url()).await;
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
    clock.advance(9);
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
    assert_eq!(hs.calls.load(Ordering::SeqCst), 1);
    clock.advance(1);
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
    assert_eq!(
        hs.calls.load(Ordering::SeqCst),
        2,
        "max-age=10 beat cache_ttl_seconds = 60"
    );
}

#[tokio::test]
async fn failures_are_errors_and_are_never_cached() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let hs = homeserver().await;
    let closed = closed_url();
    let services = services(clock.clone(), &hs.url, &closed).await;

    // Connection refused: an error naming the homeserver, on every ask.
    for _ in 0..2 {
        match ask(&services, "syt_alice", Some("hist.test")).await {
            Err(IntrospectionError::HomeserverUnavailable { homeserver, .. }) => {
                assert_eq!(homeserver, closed)
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
    // With no hint, Engineering's "active" wins over History's failure…
    assert!(user(&ask(&services, "syt_alice", None).await).is_some());
    // …but "inactive" at Engineering cannot rule History out.
    assert!(matches!(
        ask(&services, "syt_nobody", None).await,
        Err(IntrospectionError::HomeserverUnavailable { .. })
    ));
    clock.advance(61);

    for (status, body) in [
        (500, "oops".to_owned()),
        (429, r#"{"errcode":"M_LIMIT_EXCEEDED"}"#.to_owned()),
        (200, "not json".to_owned()),
        // A homeserver answering for another server's user is misconfigured.
        (200, r#"{"user_id":"@alice:evil.test"}"#.to_owned()),
    ] {
        {
            let mut script = hs.script.lock().unwrap();
            script.status = status;
            script.body = body.clone();
        }
        let before = hs.calls.load(Ordering::SeqCst);
        for _ in 0..2 {
            assert!(
                matches!(
                    ask(&services, "syt_alice", Some("eng.test")).await,
                    Err(IntrospectionError::HomeserverUnavailable { .. })
                ),
                "{status} {body}"
            );
        }
        assert_eq!(
            hs.calls.load(Ordering::SeqCst),
            before + 2,
            "{status} {body}: not cached"
        );
        clock.advance(61);
    }
    // Healthy again: active, nothing stale was kept.
    {
        let mut script = hs.script.lock().unwrap();
        script.status = 200;
        script.body = r#"{"user_id":"@alice:eng.test","device_id":"DEV1"}"#.into();
    }
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
}

#[tokio::test]
async fn an_unknown_hint_reaches_no_server_and_an_empty_token_is_refused() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let hs = homeserver().await;
    let services = services(clock.clone(), &hs.url, &closed_url()).await;
    assert!(matches!(
        ask(&services, "syt_alice", Some("https://evil.example/")).await,
        Err(IntrospectionError::UnknownHomeserver(_))
    ));
    assert_eq!(hs.calls.load(Ordering::SeqCst), 0);
    assert!(matches!(
        ask(&services, "", None).await,
        Err(IntrospectionError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn when_redis_is_away_the_homeserver_answers() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let hs = homeserver().await;
    let redis = closed_url().replace("http://", "redis://");
    let services = services_with(
        clock.clone(),
        &hs.url,
        &closed_url(),
        &format!("redis_url = \"{redis}0\""),
    )
    .await;
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
    assert!(user(&ask(&services, "syt_alice", Some("eng.test")).await).is_some());
    assert_eq!(hs.calls.load(Ordering::SeqCst), 1, "memory still caches");
    let metrics = services.metrics.render();
    assert!(
        metrics
            .contains("sso_bridge_token_lookups_total{client=\"portal\",source=\"homeserver\"} 1"),
        "{metrics}"
    );
}

/// The introspection endpoint reads its form by hand (`src/http/form_body.rs`):
/// what `Form` refused, it refuses, as OAuth JSON.
#[actix_web::test]
async fn the_introspection_form_is_read_strictly() {
    use actix_web::{test, web};
    use base64::Engine;

    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let hs = homeserver().await;
    let services = services(clock, &hs.url, &closed_url()).await;
    let app = test::init_service(sso_bridge::http::app(web::Data::from(services))).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("portal:portal-secret-0123456789")
    );
    let post = |content_type: &str, body: String| {
        test::TestRequest::post()
            .uri("/_sso_bridge/introspect")
            .insert_header(("Authorization", basic.as_str()))
            .insert_header(("Content-Type", content_type))
            .set_payload(body)
            .to_request()
    };
    let form = "application/x-www-form-urlencoded";
    let answer = |request| {
        let app = &app;
        async move {
            let response = test::call_service(app, request).await;
            let status = response.status().as_u16();
            let json: serde_json::Value = test::read_body_json(response).await;
            (status, json)
        }
    };

    let (status, json) = answer(post(
        "application/x-www-form-urlencoded; charset=UTF-8",
        "token=syt_alice&homeserver=eng.test&token_type_hint=access_token".into(),
    ))
    .await;
    assert_eq!(
        (status, json["active"].as_bool()),
        (200, Some(true)),
        "{json}"
    );
    assert_eq!(json["sub"], "@alice:eng.test");

    for (content_type, body, status) in [
        (
            "application/json",
            r#"{"token":"syt_alice"}"#.to_owned(),
            400,
        ),
        (form, "token=syt_alice&token=syt_bob".to_owned(), 400),
        (form, format!("token={}", "x".repeat(20 * 1024)), 413),
    ] {
        let (got, json) = answer(post(content_type, body)).await;
        assert_eq!(got, status, "{content_type}: {json}");
        assert_eq!(json["error"], "invalid_request", "{json}");
    }
}
