//! Helpers shared by the benchmarks: the actix-web "hello" ceiling, running
//! `wrk` and reading its figures, and a process's resident memory.

use std::path::Path;
use std::process::Command;

/// What `wrk` measured.
pub struct Load {
    pub requests_per_second: f64,
    pub p99_ms: f64,
    /// Answers that were neither 2xx nor 3xx.
    pub non_2xx: u64,
    pub requests: u64,
    /// wrk's whole output, for what a script's `done()` printed.
    pub output: String,
}

/// Exits unless run by `cargo bench` (which passes `--bench`), so that
/// `cargo test --all-targets` does not start the peers.
pub fn is_bench_run(name: &str) -> bool {
    if std::env::args().any(|a| a == "--bench") {
        return true;
    }
    eprintln!("{name}: a benchmark; run scripts/bench.sh (or cargo bench --bench {name})");
    false
}

/// The start of a benchmark that drives HTTP load against the real peers:
/// nothing unless run with `--bench`, then wrk checked and `run` on a runtime.
pub fn run_http_bench<F: std::future::Future<Output = ()>>(name: &str, run: impl FnOnce() -> F) {
    if !is_bench_run(name) {
        return;
    }
    assert_wrk_installed();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

pub fn assert_wrk_installed() {
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is missing: scripts/bench.sh installs it"
    );
}

/// The HTTP ceiling on this machine: actix-web answering "hello", with as many
/// workers as the bridge (one per core), on a thread of this process.
pub fn hello_world() -> u16 {
    serve(|| async { "hello" })
}

/// The same server answering `body` (fixed, made once) as a page: what sending
/// a page of that size costs on this machine, whatever makes it.
pub fn static_page(body: &'static str) -> u16 {
    serve(move || async move {
        actix_web::HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(body)
    })
}

fn serve<F>(handler: F) -> u16
where
    F: actix_web::Handler<()> + Clone + Send + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the hello server");
    let port = listener.local_addr().expect("hello server address").port();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(move || {
                actix_web::App::new().route("/", actix_web::web::get().to(handler.clone()))
            })
            .listen(listener)
            .expect("listen on the hello server's socket")
            .run()
            .await
        })
    });
    // No wait for the server: the socket listens already, so connections
    // queue until its workers accept them.
    port
}

/// Runs wrk (2 threads, `connections` connections, `seconds` long) and reads its figures.
pub fn wrk(
    url: &str,
    headers: &[(&str, &str)],
    script: Option<&Path>,
    connections: u32,
    seconds: u32,
) -> Load {
    let mut command = Command::new("wrk");
    command
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .args(["--timeout", "10s"]);
    for (name, value) in headers {
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.arg(url);
    eprintln!("bench: wrk {url}");
    let output = command.output().expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {text}");
    let number_after = |label: &str| -> Option<String> {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| {
                l.trim_start()[label.len()..]
                    .split_whitespace()
                    .next()
                    .map(str::to_owned)
            })
    };
    let requests_per_second = number_after("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in: {text}"));
    let p99_ms = number_after("99%")
        .map(|v| duration_ms(&v))
        .unwrap_or(f64::NAN);
    let non_2xx = number_after("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Load {
        requests_per_second,
        p99_ms,
        non_2xx,
        requests,
        output: text,
    }
}

/// wrk writes `812.00us`, `1.23ms` or `1.02s`.
pub fn duration_ms(value: &str) -> f64 {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => f64::NAN,
    }
}

/// Resident memory of a process (VmRSS), in KiB; 0 if it is gone.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
