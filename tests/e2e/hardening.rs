//! Production hardening against the real binary: per-address rate limits
//! (behind a trusted proxy), request ids on every log line and error page,
//! and failures counted by department.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use sso_bridge_testing::browser::Browser;
use sso_bridge_testing::database::Cluster;
use sso_bridge_testing::login::{person, start_url};
use sso_bridge_testing::wait;
use sso_bridge_testing::world::{GENEROUS_RATE_LIMITS, TRUSTED_CLIENT, service_secret, world};

const TEN_SECONDS: std::time::Duration = std::time::Duration::from_secs(10);

/// Tight limits, and 127.0.0.1 as the trusted proxy so tests can speak for
/// several client addresses through `X-Forwarded-For`.
const TIGHT_RATE_LIMITS: &str = r#"[rate_limits]
login = { per_second = 0.01, burst = 3 }
saml_acs = { per_second = 0.01, burst = 3 }
token = { per_second = 0.01, burst = 2 }
introspection_failures = { per_second = 0.01, burst = 2 }
trusted_proxies = ["127.0.0.1/32", "::1"]
"#;

/// A GET as if from `address`, through the trusted proxy (127.0.0.1).
async fn get_from(client: &reqwest::Client, url: &str, address: &str) -> reqwest::Response {
    client.get(url).headers(from(address)).send().await.unwrap()
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where a Matrix client starts a login at the bridge instance `bridge`.
fn start_on(w: &sso_bridge_testing::world::World, bridge: &str, idp: Option<&str>) -> String {
    start_url(w, idp, TRUSTED_CLIENT).replace(&w.bridge_url, bridge)
}

/// A bridge config with its `database_url` replaced.
fn with_database(config: &str, database: &str) -> String {
    config
        .lines()
        .map(|line| {
            if line.starts_with("database_url = ") {
                format!("database_url = \"{database}\"")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn from(address: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", address.parse().unwrap());
    headers
}

#[tokio::test]
async fn each_client_address_has_its_own_limit_and_is_told_when_to_come_back() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (bridge, mut process) = w
        .start_extra_bridge(|c| c.replace(GENEROUS_RATE_LIMITS, TIGHT_RATE_LIMITS))
        .await;
    let client = no_redirects();
    let start = start_on(w, &bridge, None);

    // Login starts: three from one address, then a page saying when to retry.
    for _ in 0..3 {
        let r = get_from(&client, &start, "198.51.100.1").await;
        assert_eq!(r.status(), StatusCode::OK, "the picker");
    }
    let refused = get_from(&client, &start, "198.51.100.1").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=100).contains(&retry), "{retry}");
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("Too many attempts") && body.contains("seconds"),
        "{body}"
    );
    // The client cannot escape by prepending an address of its choice: the
    // nearest hop before the trusted proxy counts.
    let spoofed = get_from(&client, &start, "203.0.113.77, 198.51.100.1").await;
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let other = get_from(&client, &start, "198.51.100.2").await;
    assert_eq!(other.status(), StatusCode::OK, "the picker");

    // The bridge's POST /login shares the login limit, in Matrix JSON.
    let matrix = client
        .post(format!("{bridge}_matrix/client/v3/login"))
        .headers(from("198.51.100.1"))
        .json(&serde_json::json!({"type": "m.login.token", "token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(matrix.status(), StatusCode::TOO_MANY_REQUESTS);
    let json: serde_json::Value = matrix.json().await.unwrap();
    assert_eq!(json["errcode"], "M_LIMIT_EXCEEDED");
    assert!(json["retry_after_ms"].as_u64().unwrap() >= 1000, "{json}");

    // The token endpoint: OAuth JSON.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = client
            .post(format!("{bridge}_sso_bridge/op/token"))
            .headers(from("198.51.100.3"))
            .form(&[("grant_type", "authorization_code"), ("code", "nope")])
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let json: serde_json::Value = r.json().await.unwrap();
            assert_eq!(json["error"], "temporarily_unavailable");
        }
    }
    assert_eq!(statuses[2], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_ne!(statuses[0], StatusCode::TOO_MANY_REQUESTS);

    // Introspection: only failed client authentications count; past the
    // limit even the right secret is refused from that address, not others.
    let introspect = |address: &'static str, secret: String| {
        let client = client.clone();
        let url = format!("{bridge}_sso_bridge/introspect");
        async move {
            client
                .post(url)
                .headers(from(address))
                .basic_auth("portal", Some(secret))
                .form(&[("token", "syt_nothing")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..5 {
        // Valid calls never use up the failure budget.
        assert_eq!(
            introspect("198.51.100.4", service_secret("portal")).await,
            StatusCode::OK
        );
    }
    for _ in 0..2 {
        assert_eq!(
            introspect("198.51.100.4", "wrong".into()).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        introspect("198.51.100.4", service_secret("portal")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        introspect("198.51.100.5", service_secret("portal")).await,
        StatusCode::OK
    );

    for limit in ["login", "token", "introspection_failures"] {
        assert!(
            w.metric(
                &bridge,
                "sso_bridge_rate_limited_total",
                &[&format!("limit=\"{limit}\"")]
            )
            .await
                >= 1.0,
            "rate_limited_total{{limit={limit}}}"
        );
    }
    sso_bridge_testing::spawn::stop(&mut process);
}

#[tokio::test]
async fn every_log_line_and_error_page_of_a_request_carries_its_id() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let (bridge, mut process) = w
        .start_extra_bridge_with(|c| c, &[("SSO_BRIDGE_LOG_FORMAT", "json")])
        .await;
    let id = format!("e2e-{}", std::process::id());
    // A login that is not there: a page for the user, a warning for the operator.
    let response = reqwest::Client::new()
        .get(format!(
            "{bridge}_sso_bridge/complete?flow=gone&loginToken=x"
        ))
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-request-id"], id.as_str());
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("<code>{id}</code>")), "{page}");

    // The operator's log line for this failure, in JSON, names the request.
    let log = std::fs::read_to_string(w.dir.join("bridge.log")).unwrap();
    let line = log
        .lines()
        .filter(|l| l.starts_with('{') && l.contains(&id))
        .find(|l| l.contains("login failed"))
        .unwrap_or_else(|| panic!("no JSON log line with request id {id}"));
    let line: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(line["request_id"], id.as_str(), "{line}");
    assert_eq!(line["path"], "/_sso_bridge/complete", "{line}");
    assert_eq!(line["fields"]["reason"], "expired", "{line}");

    // Without an incoming id the bridge makes one, different each time.
    let ids: Vec<String> = futures_util::future::join_all((0..2).map(|_| async {
        reqwest::get(format!("{bridge}health"))
            .await
            .unwrap()
            .headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    }))
    .await;
    assert_ne!(ids[0], ids[1]);
    sso_bridge_testing::spawn::stop(&mut process);
}

#[tokio::test]
async fn failed_logins_are_counted_by_department_and_reason() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let labels = ["department=\"eng\"", "reason=\"not_a_member\""];
    let before = w
        .metric(&w.bridge_url, "sso_bridge_logins_failed_total", &labels)
        .await;
    let page = Browser::new()
        .drive(
            &start_url(w, None, TRUSTED_CLIENT),
            &person("mallory", "eng"),
            TRUSTED_CLIENT,
        )
        .await
        .stuck();
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let after = w
        .metric(&w.bridge_url, "sso_bridge_logins_failed_total", &labels)
        .await;
    assert!(after >= before + 1.0, "{before} → {after}");
    // Starts are counted by department too ("undecided" until the picker).
    assert!(
        w.metric(
            &w.bridge_url,
            "sso_bridge_logins_started_total",
            &["department=\"undecided\""]
        )
        .await
            >= 1.0
    );
}

/// A TCP gate in front of a real homeserver: closed, it accepts and drops every
/// connection; open, it forwards them to the homeserver. Closing cuts open
/// connections too. Its port stays bound all along, so while the gate is closed
/// no other test's listener can take the port and answer in the homeserver's place.
struct Gate {
    port: u16,
    target: u16,
    /// How long each connection waits before it is forwarded (a slow homeserver).
    delay: std::time::Duration,
    /// The request line of each connection it forwarded or is about to.
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    running: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<tokio::net::TcpListener>,
    )>,
}

#[derive(Clone, Copy)]
enum GateMode {
    Drop,
    Forward {
        target: u16,
        delay: std::time::Duration,
    },
}

/// Serves the gate's listener in `mode` until told to stop; gives the listener
/// back (the connections it forwarded are cut).
async fn serve_gate(
    listener: tokio::net::TcpListener,
    mode: GateMode,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::net::TcpListener {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => return listener,
            accepted = listener.accept() => {
                let Ok((mut inbound, _)) = accepted else { return listener };
                if let GateMode::Forward { target, delay } = mode {
                    let seen = seen.clone();
                    connections.spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        // The request's first bytes, read before the delay, say
                        // which request is waiting at the gate.
                        let mut first = vec![0u8; 8192];
                        let Ok(n) = inbound.read(&mut first).await else { return };
                        first.truncate(n);
                        let line = String::from_utf8_lossy(&first)
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        seen.lock().unwrap().push(line);
                        // The delay is the behaviour under test: a slow homeserver.
                        tokio::time::sleep(delay).await;
                        if let Ok(mut outbound) =
                            tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                            && outbound.write_all(&first).await.is_ok()
                        {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            }
        }
    }
}

impl Gate {
    fn new(target: u16) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the gate");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("the gate's address").port();
        let listener = tokio::net::TcpListener::from_std(listener).expect("the gate's listener");
        let mut gate = Self {
            port,
            target,
            delay: std::time::Duration::ZERO,
            seen: Default::default(),
            running: None,
        };
        gate.serve(listener, GateMode::Drop);
        gate
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener, mode: GateMode) {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let seen = self.seen.clone();
        self.running = Some((
            stop,
            tokio::spawn(serve_gate(listener, mode, seen, stopped)),
        ));
    }

    /// Whether a request whose request line contains `needle` reached the gate.
    fn has_seen(&self, needle: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(needle))
    }

    async fn listener(&mut self) -> tokio::net::TcpListener {
        let (stop, task) = self.running.take().expect("the gate is served");
        let _ = stop.send(());
        task.await.expect("the gate's task")
    }

    async fn open(&mut self) {
        let listener = self.listener().await;
        let (target, delay) = (self.target, self.delay);
        self.serve(listener, GateMode::Forward { target, delay });
    }

    async fn close(&mut self) {
        let listener = self.listener().await;
        self.serve(listener, GateMode::Drop);
    }
}

fn try_again_link(page: &sso_bridge_testing::browser::Page) -> String {
    let selector = scraper::Selector::parse("a.button").unwrap();
    let href = page
        .html()
        .select(&selector)
        .next()
        .and_then(|a| a.value().attr("href").map(str::to_owned))
        .unwrap_or_else(|| panic!("no Try again button: {}", page.body));
    assert!(href.contains("/_sso_bridge/resume?flow="), "{href}");
    href
}

#[tokio::test]
async fn a_homeserver_that_is_down_gets_a_clear_page_and_the_login_goes_on_when_it_is_back() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let eng_port: u16 = url::Url::parse(&w.eng.url).unwrap().port().unwrap();
    let mut gate = Gate::new(eng_port);
    let gate_url = gate.url();
    let (bridge, mut process, _port) = w
        .start_login_bridge(|c| {
            c.replace(
                &format!("base_url = \"{}\"", w.eng.url),
                &format!("base_url = \"{gate_url}\""),
            )
        })
        .await;
    let alice = person("alice", "eng");
    let title = "The Matrix server of Faculty of Engineering is not answering";

    // Down before the university login: said at once, nothing else asked of the user.
    let browser = Browser::new();
    let start = start_on(w, &bridge, Some("eng"));
    let page = browser.get(&start).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.title(), title);
    let again = try_again_link(&page);
    // Back: "Try again" goes on to the university login and on to the homeserver.
    gate.open().await;
    let reached = browser.drive(&again, &alice, &gate_url).await.reached();
    assert!(
        reached
            .path()
            .starts_with("/_matrix/client/v3/login/sso/redirect/"),
        "{reached}"
    );

    // Down after the university login: the login is kept, and resumes
    // without logging in at the IdP again.
    let browser = Browser::new();
    let at_idp = browser.drive(&start, &alice, &w.idp_url).await.reached();
    gate.close().await;
    // Until the bridge stops believing the homeserver's last answer (a new
    // login naming it is then refused at once).
    wait::until(
        "the bridge to see the homeserver down",
        TEN_SECONDS,
        || async {
            (Browser::new().get(&start).await.status == StatusCode::SERVICE_UNAVAILABLE)
                .then_some(())
        },
    )
    .await;
    let page = browser
        .drive(at_idp.as_str(), &alice, &gate_url)
        .await
        .stuck();
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert_eq!(page.title(), title);
    assert!(
        page.url.as_str().starts_with(&bridge),
        "refused at the bridge"
    );
    let again = url::Url::parse(&bridge)
        .unwrap()
        .join(&try_again_link(&page))
        .unwrap();
    // Still down: the same page again, the flow still kept.
    let still = browser.get(again.as_str()).await;
    assert_eq!(still.status, StatusCode::SERVICE_UNAVAILABLE);
    gate.open().await;
    let resumed = browser.get(again.as_str()).await;
    let location = resumed.location.expect("a redirect");
    assert!(location.as_str().starts_with(&gate_url), "{location}");

    let log = std::fs::read_to_string(w.dir.join("bridge.log")).unwrap();
    assert!(
        log.contains("homeserver_unavailable"),
        "no log line for the operator"
    );
    gate.close().await;
    sso_bridge_testing::spawn::stop(&mut process);
}

#[tokio::test]
async fn with_its_database_down_the_bridge_says_so_and_recovers_by_itself() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    // A PostgreSQL of this test's own, to stop without disturbing the others.
    let cluster = tokio::task::spawn_blocking(|| Cluster::start("outage"))
        .await
        .unwrap();
    let database = cluster.database("outage");
    let (bridge, mut process) = w.start_extra_bridge(|c| with_database(&c, &database)).await;
    let client = no_redirects();
    // A start that stores its flow at once (the department is given).
    let start = start_on(w, &bridge, Some("eng"));
    let get = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    assert!(get(start.clone()).await.status().is_redirection());

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .unwrap();
    // A login at the picker needs no database yet…
    assert_eq!(
        get(start_on(w, &bridge, None)).await.status(),
        StatusCode::OK
    );
    // …past it, people get a page saying to try again shortly…
    let page = get(start.clone()).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("Something went wrong on our side")
            && body.contains("Try again in a few minutes"),
        "{body}"
    );
    // …Matrix clients a Matrix error…
    let matrix = client
        .post(format!("{bridge}_matrix/client/v3/login"))
        .json(&serde_json::json!({"type": "m.login.token", "token": "syl_whatever"}))
        .send()
        .await
        .unwrap();
    assert_eq!(matrix.status(), StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = matrix.json().await.unwrap();
    assert!(
        json["errcode"]
            .as_str()
            .is_some_and(|e| e.starts_with("M_")),
        "{json}"
    );
    // …the load balancer a failing readiness, while liveness holds.
    assert_eq!(
        get(format!("{bridge}ready")).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get(format!("{bridge}health")).await.status(),
        StatusCode::OK
    );

    // The database returns: the same process serves again, no restart.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.resume();
        cluster
    })
    .await
    .unwrap();
    wait::until(
        "the bridge to recover",
        std::time::Duration::from_secs(20),
        || async {
            get(start.clone())
                .await
                .status()
                .is_redirection()
                .then_some(())
        },
    )
    .await;
    assert_eq!(get(format!("{bridge}ready")).await.status(), StatusCode::OK);
    // The operator's log says what happened.
    let log = std::fs::read_to_string(w.dir.join("bridge.log")).unwrap();
    assert!(
        log.contains("readiness check: database unreachable"),
        "no readiness log line"
    );
    sso_bridge_testing::spawn::stop(&mut process);
    drop(cluster);
}

#[tokio::test]
async fn on_sigterm_requests_in_flight_finish_and_new_ones_are_refused() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let eng_port: u16 = url::Url::parse(&w.eng.url).unwrap().port().unwrap();
    let mut slow = Gate::new(eng_port);
    slow.delay = std::time::Duration::from_millis(1_500);
    slow.open().await;
    let slow_url = slow.url();
    let (bridge, mut process) = w
        .start_extra_bridge(|c| {
            c.replace(
                &format!("base_url = \"{}\"", w.eng.url),
                &format!("base_url = \"{slow_url}\""),
            )
        })
        .await;
    // A token validation that waits on the slow homeserver.
    let in_flight = tokio::spawn({
        let url = format!("{bridge}_sso_bridge/introspect");
        async move {
            reqwest::Client::new()
                .post(url)
                .basic_auth("portal", Some(service_secret("portal")))
                .form(&[
                    ("token", "syt_in_flight_0123456789"),
                    ("homeserver", "eng.test"),
                ])
                .send()
                .await
        }
    });
    wait::until(
        "the token validation to wait at the homeserver",
        TEN_SECONDS,
        || async {
            slow.has_seen("/_matrix/client/v3/account/whoami")
                .then_some(())
        },
    )
    .await;
    let started = std::time::Instant::now();
    // SAFETY: signalling our own child process.
    assert!(sso_bridge_sys::process::signal_child(
        &process,
        sso_bridge_sys::process::SIGTERM
    ));
    // No new connections once the shutdown began…
    let health = format!("{bridge}health");
    wait::until(
        "new requests to be refused during shutdown",
        TEN_SECONDS,
        || async {
            reqwest::Client::new()
                .get(&health)
                .send()
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
    assert!(
        !in_flight.is_finished(),
        "the shutdown began before the request in flight was answered"
    );
    // …while the request in flight gets its full answer.
    let answer = in_flight
        .await
        .unwrap()
        .expect("the request in flight was cut");
    assert_eq!(answer.status(), StatusCode::OK);
    let json: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(json["active"], false, "{json}");
    // Then the process exits cleanly, well before the 10 s shutdown timeout.
    let status = tokio::task::spawn_blocking(move || process.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    slow.close().await;
}

/// An OIDC IdP of this test's own (the same program as the shared one), to stop and start.
fn start_own_idp(port: u16, bridge_url: &str) -> std::process::Child {
    let clients = serde_json::json!([{
        "client_id": "sso-bridge",
        "client_secret": sso_bridge_testing::world::UPSTREAM_CLIENT_SECRET,
        "redirect_uris": [format!("{bridge_url}_sso_bridge/upstream/oidc/university/callback")],
    }]);
    let mut idp = std::process::Command::new("node");
    idp.arg(sso_bridge_testing::world::root().join("tests/peers/oidc-idp/server.mjs"))
        .env("PORT", port.to_string())
        .env("ISSUER", format!("http://127.0.0.1:{port}"))
        .env("CLIENTS_JSON", clients.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    sso_bridge_testing::spawn::spawn(idp).expect("start the OIDC IdP")
}

#[tokio::test]
async fn an_idp_that_is_down_gets_a_clear_page_and_logins_work_again_when_it_is_back() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let idp_port = sso_bridge_testing::spawn::free_port();
    let idp_url = format!("http://127.0.0.1:{idp_port}");
    // The bridge starts while its IdP is down (it says so in its log and serves anyway).
    // Its own database: its IdP is another issuer, so its alice is another
    // identity, which must not take `alice` from the other tests' alice.
    let database = format!("sqlite:{}", w.dir.join("idp-down.db").display());
    let (bridge, mut process, _port) = w
        .start_login_bridge(|c| {
            let c = c.replace(
                &format!("issuer = \"{}\"", w.idp_url),
                &format!("issuer = \"{idp_url}\""),
            );
            with_database(&c, &database)
        })
        .await;
    assert_eq!(bridge, w.login_bridge_url());
    let start = start_on(w, &bridge, Some("eng"));
    let page = Browser::new().get(&start).await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{}", page.body);
    assert_eq!(
        page.title(),
        "The university login service is not answering"
    );

    // Back: the same bridge process sends the next login to it, and it completes.
    let mut idp = start_own_idp(idp_port, &bridge);
    let discovery = format!("{idp_url}/.well-known/openid-configuration");
    wait::until(
        "the test IdP to start",
        std::time::Duration::from_secs(30),
        || async { reqwest::get(&discovery).await.is_ok().then_some(()) },
    )
    .await;
    let reached = Browser::new()
        .drive(&start, &person("alice", "eng"), &w.eng.url)
        .await
        .reached();
    assert!(
        reached
            .path()
            .starts_with("/_matrix/client/v3/login/sso/redirect/"),
        "{reached}"
    );
    let log = std::fs::read_to_string(w.dir.join("bridge.log")).unwrap();
    assert!(
        log.contains("upstream_unavailable"),
        "no log line for the operator"
    );
    sso_bridge_testing::spawn::stop(&mut idp);
    sso_bridge_testing::spawn::stop(&mut process);
}

/// One HTTP/1.1 exchange on an open connection: the request's bytes out, the
/// answer's status line back (headers and a Content-Length body read in full).
async fn exchange(stream: &mut tokio::net::TcpStream, request: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    return text.lines().next().map(str::to_owned);
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn a_pooled_connection_redeems_codes_at_token_after_10_and_130_idle_seconds() {
    // Synapse keeps its connection to /token in a pool (120 s) and does not
    // retry a POST: the bridge must not close an idle connection first. One
    // connection, as a pool keeps it: a code redeemed at once, then after 10 s
    // and after 130 s of idleness (longer than Synapse's pool).
    use base64::Engine;
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let address = url::Url::parse(&w.bridge_url).unwrap();
    let mut stream =
        tokio::net::TcpStream::connect((address.host_str().unwrap(), address.port().unwrap()))
            .await
            .unwrap();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("eng:{}", w.eng.client_secret));
    // The 130 s wait once per run: the PostgreSQL pass keeps the 10 s one.
    let idle_times: &[u64] = if sso_bridge_testing::database::postgres() {
        eprintln!("130 s idle case: run in the SQLite pass only");
        &[0, 10]
    } else {
        &[0, 10, 130]
    };
    for &idle in idle_times {
        let since = std::time::Instant::now();
        // Not a wait for something: the idle time is what is tested here; the
        // code comes over other connections meanwhile, so this one stays idle.
        tokio::time::sleep(std::time::Duration::from_secs(idle)).await;
        let (verifier, challenge) = crate::login::pkce_pair();
        let (code, redirect_uri) = crate::login::authorize_as_homeserver(&challenge).await;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("code_verifier", &verifier)
            .finish();
        let request = format!(
            "POST /_sso_bridge/op/token HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {basic}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            address.authority(),
            body.len()
        );
        let answer = exchange(&mut stream, &request).await;
        assert_eq!(
            answer.as_deref(),
            Some("HTTP/1.1 200 OK"),
            "the same connection, reused after {} s idle, redeems a code",
            since.elapsed().as_secs()
        );
    }
}

/// Serves `body` as XML to every request on `listener` until dropped.
fn serve_file(listener: tokio::net::TcpListener, body: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/samlmetadata+xml\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
            });
        }
    })
}

#[tokio::test]
async fn a_saml_idp_whose_metadata_is_down_at_start_stops_only_its_departments_until_it_loads() {
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let metadata_port = sso_bridge_testing::spawn::free_port();
    let metadata_url = format!("http://127.0.0.1:{metadata_port}/idp-metadata.xml");
    let metadata_file = w.dir.join("saml-idp/idp-metadata.xml");
    // The bridge starts although the metadata URL answers nothing.
    let (bridge, mut process) = w
        .start_extra_bridge(|c| {
            c.replace(
                &format!("metadata_file = \"{}\"", metadata_file.display()),
                &format!("metadata_url = \"{metadata_url}\""),
            )
        })
        .await;
    let client = no_redirects();

    // The OIDC department is not affected: on to its IdP.
    let eng = client
        .get(start_on(w, &bridge, Some("eng")))
        .send()
        .await
        .unwrap();
    assert!(eng.status().is_redirection(), "{}", eng.status());
    assert!(
        eng.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&w.idp_url)
    );

    // The SAML department: a clear page, the login kept, a way to go on.
    let browser = Browser::new();
    let page = browser.get(&start_on(w, &bridge, Some("phys"))).await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert_eq!(
        page.title(),
        "The university login for Department of Physics is not available yet"
    );
    assert!(page.body.contains("Other departments are not affected"));
    let again = try_again_link(&page);
    let again = reqwest::Url::parse(&bridge).unwrap().join(&again).unwrap();
    let refused = browser.get(again.as_str()).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "still down"
    );

    // The metadata comes up: within seconds, "Try again" goes on to the IdP.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", metadata_port))
        .await
        .unwrap();
    let server = serve_file(listener, std::fs::read_to_string(&metadata_file).unwrap());
    let location = wait::until(
        "the metadata to be tried again",
        std::time::Duration::from_secs(20),
        || async {
            let page = browser.get(again.as_str()).await;
            if page.location.is_none() {
                assert_eq!(
                    page.status,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{}",
                    page.body
                );
            }
            page.location.map(|location| location.to_string())
        },
    )
    .await;
    assert!(location.contains("SAMLRequest="), "{location}");
    let log = std::fs::read_to_string(w.dir.join("bridge.log")).unwrap();
    assert!(
        log.contains("SAML IdP metadata unavailable at start"),
        "no log line for the operator"
    );
    server.abort();
    sso_bridge_testing::spawn::stop(&mut process);
}

#[tokio::test]
async fn metrics_are_never_public_a_token_or_a_listener_of_their_own() {
    use sso_bridge_testing::world::METRICS_TOKEN;
    let w = world();
    let _shared = w.bridge_lock.read().await;
    let client = reqwest::Client::new();
    // On the main listener, only with the bearer token.
    let anonymous = client
        .get(format!("{}metrics", w.bridge_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer ")
    );
    assert!(!anonymous.text().await.unwrap().contains("sso_bridge_"));
    let wrong = client
        .get(format!("{}metrics", w.bridge_url))
        .bearer_auth(format!("{METRICS_TOKEN}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let text = sso_bridge_testing::world::metrics_text(&w.bridge_url).await;
    assert!(text.contains("sso_bridge_logins_started_total"), "{text}");

    // With a listener of their own: not on the main listener at all.
    let port = sso_bridge_testing::spawn::free_port();
    let (bridge, mut process) = w
        .start_extra_bridge(|c| {
            c.replace(
                &format!("[metrics]\nbearer_token = \"{METRICS_TOKEN}\"\n"),
                &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
            )
        })
        .await;
    let main = client.get(format!("{bridge}metrics")).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND);
    let own = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert!(own.text().await.unwrap().contains("sso_bridge_"));
    sso_bridge_testing::spawn::stop(&mut process);
}
