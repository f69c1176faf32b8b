//! Token validation for university services, against real Synapses and a real
//! Redis shared by two bridge instances.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;

use sso_bridge_testing::browser::Browser;
use sso_bridge_testing::login::{login, person};
use sso_bridge_testing::matrix::LoggedIn;
use sso_bridge_testing::world::{TOKEN_CACHE_TTL_SECONDS, World, service_secret, world};

fn basic(service: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{service}:{}", service_secret(service)))
    )
}

/// RFC 7662 introspection at `bridge_url` as `service`.
pub(crate) async fn introspect(
    bridge_url: &str,
    service: &str,
    token: &str,
    hint: Option<&str>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut form = vec![("token", token)];
    if let Some(hint) = hint {
        form.push(("homeserver", hint));
    }
    let response = reqwest::Client::new()
        .post(format!("{bridge_url}_sso_bridge/introspect"))
        .header("Authorization", basic(service))
        .form(&form)
        .send()
        .await
        .expect("introspection request");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

async fn active(bridge_url: &str, service: &str, token: &str, hint: Option<&str>) -> Value {
    let (status, body, _) = introspect(bridge_url, service, token, hint).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn random_token() -> String {
    use rand::Rng;
    let random: String = rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("syt_{random}")
}

async fn lookups(w: &World, bridge_url: &str, service: &str, source: &str) -> f64 {
    w.metric(
        bridge_url,
        "sso_bridge_token_lookups_total",
        &[
            &format!("client=\"{service}\""),
            &format!("source=\"{source}\""),
        ],
    )
    .await
}

async fn logged_in(username: &'static str, department: &'static str) -> LoggedIn {
    login(&Browser::new(), &person(username, department), None).await
}

#[tokio::test]
async fn a_fresh_token_is_active_with_its_user_device_and_department() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let session = logged_in("alice", "eng").await;
    for hint in [
        Some(w.eng.url.as_str()),
        Some(w.eng.url.trim_end_matches('/')),
        Some("eng.test"),
        Some("@alice:eng.test"),
        None,
    ] {
        let body = active(&w.bridge_url, "portal", &session.access_token, hint).await;
        assert_eq!(body["active"], true, "hint {hint:?}: {body}");
        assert_eq!(body["sub"], session.user_id.as_str());
        assert_eq!(body["username"], "alice");
        assert_eq!(body["device_id"], session.device_id.as_str());
        assert_eq!(body["homeserver"], w.eng.url.as_str());
        assert_eq!(body["department"], "eng");
        assert_eq!(body["is_guest"], false);
        assert_eq!(body["token_type"], "Bearer");
    }
    // The token of one department is not active at another's homeserver.
    let body = active(
        &w.bridge_url,
        "portal",
        &session.access_token,
        Some("hist.test"),
    )
    .await;
    assert_eq!(body, serde_json::json!({ "active": false }));
    // client_secret_post works too; a wrong secret does not.
    let secret = service_secret("portal");
    let response = reqwest::Client::new()
        .post(format!("{}_sso_bridge/introspect", w.bridge_url))
        .form(&[
            ("token", session.access_token.as_str()),
            ("client_id", "portal"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = reqwest::Client::new()
        .post(format!("{}_sso_bridge/introspect", w.bridge_url))
        .basic_auth("portal", Some("not-the-secret"))
        .form(&[("token", session.access_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    w.assert_not_logged(&session.access_token, "a Matrix access token");
}

#[tokio::test]
async fn after_logout_the_token_turns_inactive_within_the_ttl() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let session = logged_in("bob", "hist").await;
    let body = active(&w.bridge_url, "logout", &session.access_token, None).await;
    assert_eq!(body["active"], true);
    let response = reqwest::Client::new()
        .post(format!("{}_matrix/client/v3/logout", w.hist.url))
        .bearer_auth(&session.access_token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let logged_out = Instant::now();
    loop {
        let body = active(&w.bridge_url, "logout", &session.access_token, None).await;
        if body["active"] == false {
            break;
        }
        assert!(
            logged_out.elapsed()
                < Duration::from_secs(TOKEN_CACHE_TTL_SECONDS) + Duration::from_millis(1500),
            "still active {:?} after logout (TTL {TOKEN_CACHE_TTL_SECONDS} s)",
            logged_out.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The other instance learns it too (its own memory, then Redis, then Synapse).
    let body = active(
        &w.redirect_bridge_url,
        "logout",
        &session.access_token,
        None,
    )
    .await;
    assert_eq!(body["active"], false);
}

#[tokio::test]
async fn a_random_token_is_inactive_and_its_answer_is_reused_briefly() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let token = random_token();
    let before = lookups(w, &w.bridge_url, "random", "homeserver").await;
    let body = active(&w.bridge_url, "random", &token, Some("eng.test")).await;
    assert_eq!(body, serde_json::json!({ "active": false }));
    assert_eq!(
        lookups(w, &w.bridge_url, "random", "homeserver").await,
        before + 1.0
    );
    let body = active(&w.bridge_url, "random", &token, Some("eng.test")).await;
    assert_eq!(body["active"], false);
    assert_eq!(
        lookups(w, &w.bridge_url, "random", "homeserver").await,
        before + 1.0,
        "the inactive answer was reused"
    );
    // Without a hint every department's homeserver is asked.
    let token = random_token();
    let body = active(&w.bridge_url, "random", &token, None).await;
    assert_eq!(body["active"], false);
    assert_eq!(
        lookups(w, &w.bridge_url, "random", "homeserver").await,
        before + 4.0
    );
    // Things that cannot be Matrix tokens are inactive without asking anyone.
    for token in ["tok en", "tök", &"x".repeat(5000)] {
        let body = active(&w.bridge_url, "random", token, Some("eng.test")).await;
        assert_eq!(body["active"], false);
    }
    assert_eq!(
        lookups(w, &w.bridge_url, "random", "homeserver").await,
        before + 4.0
    );
    let (status, body, _) = introspect(&w.bridge_url, "random", "", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn a_homeserver_hint_that_is_not_configured_is_refused_without_any_call() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let before = lookups(w, &w.bridge_url, "hint", "homeserver").await;
    for hint in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://127.0.0.1:{port}"),
        format!("127.0.0.1:{port}"),
        "evil.test".to_owned(),
        format!("@alice:127.0.0.1:{port}"),
    ] {
        let (status, body, _) =
            introspect(&w.bridge_url, "hint", &random_token(), Some(&hint)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hint}: {body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("not the homeserver"),
            "{body}"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "the bridge connected to a server it does not know"
    );
    assert_eq!(
        lookups(w, &w.bridge_url, "hint", "homeserver").await,
        before
    );
}

/// Resumes a paused Synapse even when an assertion fails.
struct Resume<'a>(&'a World, &'static str);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        self.0.resume_homeserver(self.1);
    }
}

#[tokio::test]
async fn a_homeserver_that_does_not_answer_gives_an_error_never_an_inactive_answer() {
    let w = world();
    // Exclusive: Engineering's Synapse stops answering for a few seconds.
    let _exclusive = w.bridge_lock.write().await;
    let alice = logged_in("alice", "eng").await;
    let bob = logged_in("bob", "hist").await;
    {
        w.pause_homeserver("eng");
        let _resume = Resume(w, "eng");
        let (status, body, headers) =
            introspect(&w.bridge_url, "down", &alice.access_token, Some("eng.test")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.contains(&w.eng.url) && description.contains("no answer within 2 s"),
            "{description}"
        );
        assert!(headers.contains_key("retry-after"));
        // Without a hint: Bob's token is found at History all the same…
        let body = active(&w.bridge_url, "down", &bob.access_token, None).await;
        assert_eq!(body["sub"], bob.user_id.as_str());
        // …but a token no one claims may be Engineering's: that is an error, not "inactive".
        let (status, _, _) = introspect(&w.bridge_url, "down", &random_token(), None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    // Back up: the failure was not kept as "inactive".
    let body = active(&w.bridge_url, "down", &alice.access_token, Some("eng.test")).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["sub"], alice.user_id.as_str());
}

#[tokio::test]
async fn concurrent_requests_for_one_uncached_token_make_one_homeserver_call() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let session = logged_in("alice", "eng").await;
    let before = lookups(w, &w.bridge_url, "coalesce", "homeserver").await;
    let answers = futures_util::future::join_all((0..16).map(|_| {
        active(
            &w.bridge_url,
            "coalesce",
            &session.access_token,
            Some("eng.test"),
        )
    }))
    .await;
    for body in answers {
        assert_eq!(body["sub"], session.user_id.as_str());
    }
    assert_eq!(
        lookups(w, &w.bridge_url, "coalesce", "homeserver").await,
        before + 1.0,
        "16 concurrent validations of a new token made one whoami call"
    );
}

#[tokio::test]
async fn a_token_validated_on_one_instance_is_a_redis_hit_on_the_other() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let session = logged_in("bob", "hist").await;
    let first = active(&w.bridge_url, "shared", &session.access_token, None).await;
    assert_eq!(first["active"], true);
    let (redis_before, homeserver_before) = (
        lookups(w, &w.redirect_bridge_url, "shared", "redis").await,
        lookups(w, &w.redirect_bridge_url, "shared", "homeserver").await,
    );
    let second = active(
        &w.redirect_bridge_url,
        "shared",
        &session.access_token,
        None,
    )
    .await;
    assert_eq!(second, first);
    assert_eq!(
        lookups(w, &w.redirect_bridge_url, "shared", "redis").await,
        redis_before + 3.0,
        "the three homeservers' verdicts (History: active, the others: inactive) came from Redis"
    );
    assert_eq!(
        lookups(w, &w.redirect_bridge_url, "shared", "homeserver").await,
        homeserver_before,
        "the second instance did not call a homeserver"
    );
}

#[tokio::test]
async fn a_flood_of_random_tokens_is_rate_limited_per_service() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // "flooder" may make 3 homeserver look-ups, then one per 100 s.
    let tokens: Vec<String> = (0..3).map(|_| random_token()).collect();
    for token in &tokens {
        let body = active(&w.bridge_url, "flooder", token, Some("phys.test")).await;
        assert_eq!(body["active"], false);
    }
    let (status, body, headers) =
        introspect(&w.bridge_url, "flooder", &random_token(), Some("phys.test")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=100).contains(&retry), "Retry-After {retry}");
    for _ in 0..20 {
        let (status, _, _) =
            introspect(&w.bridge_url, "flooder", &random_token(), Some("phys.test")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        lookups(w, &w.bridge_url, "flooder", "homeserver").await,
        3.0,
        "only the burst reached the homeserver"
    );
    // Answers already known are still given.
    let body = active(&w.bridge_url, "flooder", &tokens[0], Some("phys.test")).await;
    assert_eq!(body["active"], false);
    // Other services are not affected.
    let body = active(&w.bridge_url, "random", &random_token(), Some("phys.test")).await;
    assert_eq!(body["active"], false);
    // The flood does not flood the log: one warning for the 21 refusals.
    let log = std::fs::read_to_string(w.dir.join("bridge.log")).unwrap();
    let warnings = log
        .lines()
        .filter(|l| {
            l.contains("WARN") && l.contains("rate-limited") && l.contains("client=flooder")
        })
        .count();
    assert_eq!(warnings, 1, "one rate-limit warning a minute per service");
}

async fn forward_auth(
    w: &World,
    proxy: Option<&str>,
    bearer: Option<&str>,
    hint: Option<&str>,
) -> reqwest::Response {
    let mut url = url::Url::parse(&format!("{}_sso_bridge/forward-auth", w.bridge_url)).unwrap();
    if let Some(hint) = hint {
        url.query_pairs_mut().append_pair("homeserver", hint);
    }
    let mut request = reqwest::Client::new().get(url);
    if let Some(proxy) = proxy {
        request = request.header("X-SSO-Bridge-Client", proxy);
    }
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("forward-auth request")
}

#[tokio::test]
async fn forward_auth_answers_reverse_proxies() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let session = logged_in("alice", "eng").await;
    let proxy = basic("proxy");
    for hint in [None, Some("eng.test")] {
        let response = forward_auth(w, Some(&proxy), Some(&session.access_token), hint).await;
        assert_eq!(response.status(), StatusCode::OK);
        let h = response.headers();
        assert_eq!(h["x-matrix-user-id"], session.user_id.as_str());
        assert_eq!(h["remote-user"], session.user_id.as_str());
        assert_eq!(h["x-matrix-localpart"], "alice");
        assert_eq!(h["x-matrix-device-id"], session.device_id.as_str());
        assert_eq!(h["x-matrix-homeserver"], w.eng.url.as_str());
        assert_eq!(h["x-matrix-department"], "eng");
    }
    // The user's failures are 401 with a Bearer challenge.
    for bearer in [Some(random_token()), None] {
        let response = forward_auth(w, Some(&proxy), bearer.as_deref(), None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"sso-bridge\""),
            "{challenge}"
        );
        assert!(!response.headers().contains_key("x-matrix-user-id"));
    }
    // The proxy's own failures are 403, so they are not mistaken for the user's.
    for proxy in [None, Some("Basic cHJveHk6d3Jvbmc=".to_owned())] {
        let response = forward_auth(w, proxy.as_deref(), Some(&session.access_token), None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let response = forward_auth(
        w,
        Some(&proxy),
        Some(&session.access_token),
        Some("evil.test"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// The README's nginx snippet (`docs/nginx-forward-auth.conf`), run by a real
/// nginx in front of a stand-in application that echoes what it was given.
#[tokio::test]
async fn the_documented_nginx_snippet_protects_a_service() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let session = logged_in("alice", "eng").await;
    let snippet = std::fs::read_to_string(
        sso_bridge_testing::world::root().join("docs/nginx-forward-auth.conf"),
    )
    .expect("docs/nginx-forward-auth.conf");
    let (proxy_port, app_port) = (
        sso_bridge_testing::spawn::free_port(),
        sso_bridge_testing::spawn::free_port(),
    );
    let credentials = basic("proxy");
    let mut server = snippet.clone();
    for (documented, here) in [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{proxy_port};")),
        ("https://matrix.ac.cdl/", w.bridge_url.clone()),
        ("Basic Y291cnNlLXBvcnRhbDpzZWNyZXQ=", credentials.clone()),
        (
            "http://127.0.0.1:3000",
            format!("http://127.0.0.1:{app_port}"),
        ),
    ] {
        assert!(
            server.contains(documented),
            "the snippet no longer contains {documented:?}"
        );
        server = server.replace(documented, &here);
    }
    let dir = w.dir.join(format!("nginx-{proxy_port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        r#"daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    {server}
    server {{
        listen 127.0.0.1:{app_port};
        location / {{
            default_type text/plain;
            return 200 "user=$http_x_matrix_user_id device=$http_x_matrix_device_id department=$http_x_matrix_department";
        }}
    }}
}}
"#,
        dir = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let mut nginx = std::process::Command::new("nginx");
    nginx
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    let mut nginx = sso_bridge_testing::spawn::spawn(nginx)
        .expect("start nginx (scripts/setup.sh installs it)");
    let portal = format!("http://127.0.0.1:{proxy_port}/courses");
    let client = reqwest::Client::new();
    let mut answer = None;
    for _ in 0..50 {
        if let Ok(response) = client
            .get(&portal)
            .bearer_auth(&session.access_token)
            .send()
            .await
        {
            answer = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = answer.expect("nginx did not start; see its error.log");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.text().await.unwrap(),
        format!(
            "user={} device={} department=eng",
            session.user_id, session.device_id
        )
    );
    // A forged header does not get through; a bad or missing token is 401.
    let forged = client
        .get(&portal)
        .header("X-Matrix-User-Id", "@admin:eng.test")
        .bearer_auth(random_token())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let anonymous = client.get(&portal).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let sneaky = client
        .get(&portal)
        .header("X-Matrix-User-Id", "@admin:eng.test")
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert!(
        sneaky
            .text()
            .await
            .unwrap()
            .starts_with(&format!("user={} ", session.user_id))
    );
    sso_bridge_testing::spawn::stop(&mut nginx);
}
