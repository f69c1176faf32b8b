//! Benchmark: what one request costs the bridge's own code, without the network.
//! The whole app (every middleware, the real handlers) is called in-process,
//! next to an actix-web "hello" app called the same way, in one thread, batches
//! alternating so that machine noise hits both alike.
//!
//! The wrk benchmarks measure what a client sees; this one tells where the
//! bridge's CPU goes. `cargo bench --bench request_cost` prints nanoseconds per
//! request; `scripts/request_cost.sh` runs it under callgrind and prints
//! instructions per request, which do not depend on the machine at all.
//! `--case NAME` keeps only the matching requests (and the hello baseline);
//! `--requests N` sets the batch size.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sso_bridge::clock::SystemClock;
use sso_bridge::config::Config;
use sso_bridge::random::Random;
use sso_bridge::services::Services;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bridge's allocator (`src/main.rs`), so allocations cost what they cost there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 5;

/// Builds the same request again for each call.
type MakeRequest = Box<dyn Fn() -> Request>;

#[actix_web::main]
async fn main() {
    // `cargo test --all-targets` runs this binary too: nothing unless asked
    // (`cargo bench` passes `--bench`; the callgrind script passes its options).
    if !std::env::args().any(|a| ["--bench", "--requests", "--case"].contains(&a.as_str())) {
        eprintln!(
            "request_cost: a benchmark; run scripts/request_cost.sh (or cargo bench --bench request_cost)"
        );
        return;
    }
    let requests: usize = argument("--requests")
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    // `--case NAME`: only that request (and the hello baseline), for callgrind.
    let only = argument("--case");
    // Logging as in production (`info`): spans and filters cost what they cost there.
    sso_bridge::logging::init();
    let homeserver = whoami_stand_in().await;
    let services = services(&homeserver).await;
    let bridge = test::init_service(sso_bridge::http::app(web::Data::from(services))).await;
    let hello =
        test::init_service(App::new().route("/", web::get().to(|| async { "hello" }))).await;

    let forward_auth = || {
        test::TestRequest::get()
            .uri("/_sso_bridge/forward-auth?homeserver=eng.test")
            .insert_header(("Authorization", "Bearer syt_alice"))
            .insert_header((
                "X-SSO-Bridge-Client",
                format!(
                    "Basic {}",
                    STANDARD.encode("portal:portal-secret-0123456789")
                ),
            ))
            .to_request()
    };
    let introspect = || {
        test::TestRequest::post()
            .uri("/_sso_bridge/introspect")
            .insert_header((
                "Authorization",
                format!(
                    "Basic {}",
                    STANDARD.encode("portal:portal-secret-0123456789")
                ),
            ))
            .set_payload("token=syt_alice&homeserver=eng.test")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .to_request()
    };
    // The first call fills the cache from the stand-in; the rest are cache hits.
    expect(&bridge, forward_auth(), StatusCode::OK).await;
    // A browser's cookie, and the sealed login of one start (from its picker).
    let start = || {
        test::TestRequest::get()
            .uri("/_matrix/client/v3/login/sso/redirect?redirectUrl=https%3A%2F%2Fapp.example%2Fcb")
            .insert_header(("Cookie", format!("sso_bridge_browser={}", "b".repeat(43))))
            .to_request()
    };
    let first = test::call_service(&bridge, start()).await;
    assert_eq!(
        first.status(),
        StatusCode::OK,
        "login start shows the picker"
    );
    let body = test::read_body(first).await;
    let flow = std::str::from_utf8(&body)
        .ok()
        .and_then(sso_bridge_testing::inprocess::sealed_flow)
        .expect("the sealed login in the picker")
        .to_owned();
    let picker = format!("/_sso_bridge/pick?flow={flow}");
    let show_picker = move || {
        test::TestRequest::get()
            .uri(&picker)
            .insert_header(("Cookie", format!("sso_bridge_browser={}", "b".repeat(43))))
            .to_request()
    };
    expect(&bridge, show_picker(), StatusCode::OK).await;
    let cases: Vec<(&str, MakeRequest)> = vec![
        (
            "GET /health",
            Box::new(|| test::TestRequest::get().uri("/health").to_request()),
        ),
        ("forward-auth, cached", Box::new(forward_auth)),
        ("introspection, cached", Box::new(introspect)),
        (
            "login start: GET /login/sso/redirect, picker shown",
            Box::new(start),
        ),
        ("the picker's own route (its search)", Box::new(show_picker)),
    ];

    let cases: Vec<_> = cases
        .into_iter()
        .filter(|(name, _)| only.as_deref().is_none_or(|o| name.contains(o)))
        .collect();
    let mut hello_ns = Vec::new();
    let mut case_ns = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        hello_ns.push(
            per_request(&hello, requests, || {
                test::TestRequest::get().uri("/").to_request()
            })
            .await,
        );
        for (i, (_, make)) in cases.iter().enumerate() {
            case_ns[i].push(per_request(&bridge, requests, make).await);
        }
    }
    let hello = median(&mut hello_ns);
    println!("\nIn-process cost per request ({requests} requests × {ROUNDS} rounds, median):\n");
    println!("| request | ns/request | vs hello |");
    println!("|---|---:|---:|");
    println!("| actix-web \"hello\" (baseline) | {hello:.0} | 1.0× |");
    for ((name, _), ns) in cases.iter().zip(case_ns.iter_mut()) {
        let ns = median(ns);
        println!("| {name} | {ns:.0} | {:.1}× |", ns / hello);
    }
}

async fn per_request<S, B>(app: &S, requests: usize, make: impl Fn() -> Request) -> f64
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let started = Instant::now();
    CountedBatch(Box::pin(async {
        for _ in 0..requests {
            let response = test::call_service(app, make()).await;
            // The body is read, as a server would write it.
            std::hint::black_box(test::read_body(response).await);
        }
    }))
    .await;
    started.elapsed().as_nanos() as f64 / requests as f64
}

/// The request loop, behind a poll that is never inlined: callgrind counts
/// only inside it (`--toggle-collect='*CountedBatch*'`).
struct CountedBatch<F>(Pin<Box<F>>);

impl<F: Future> Future for CountedBatch<F> {
    type Output = F::Output;

    #[inline(never)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.as_mut().poll(cx)
    }
}

async fn expect<S, B>(app: &S, request: Request, status: StatusCode)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, request).await;
    assert_eq!(response.status(), status, "warm-up request");
}

fn argument(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn services(homeserver: &str) -> Arc<Services> {
    let config = Config::parse(&format!(
        r#"
public_base_url = "http://127.0.0.1:8008/"
database_url = "sqlite::memory:"
[secrets]
encryption_key = "bench-encryption-key-0123456789abcdef"
[redirects]
allowed_origins = ["https://app.example"]
[rate_limits]
login = {{ per_second = 1000.0, burst = 100000 }}
introspection_failures = {{ per_second = 1000.0, burst = 100000 }}
[introspection]
cache_ttl_seconds = 600
[[introspection.clients]]
id = "portal"
secret = "portal-secret-0123456789"
{departments}"#,
        departments =
            sso_bridge_testing::inprocess::university_with(&[("eng", "Engineering", homeserver)]),
    ))
    .expect("bench config");
    Services::start(config, Arc::new(SystemClock), Random::from_os())
        .await
        .expect("services")
}

/// A homeserver that knows one token, `syt_alice`, and says it is up.
async fn whoami_stand_in() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the stand-in");
    let url = format!("http://{}/", listener.local_addr().expect("its address"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).to_lowercase();
            let (status, body) = if head.starts_with("get /_matrix/client/versions") {
                (200, r#"{"versions":["v1.11"]}"#)
            } else if head.contains("authorization: bearer syt_alice\r\n") {
                (200, r#"{"user_id":"@alice:eng.test","device_id":"DEV1"}"#)
            } else {
                (
                    401,
                    r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Unknown token"}"#,
                )
            };
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    url
}
