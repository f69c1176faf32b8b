//! Benchmark: token validation through the bridge's cache, next to Synapse's own
//! `whoami` on the same machine in the same run; and memory under a flood of
//! distinct random tokens. Run by `scripts/bench.sh` (release build, wrk).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use support::browser::Browser;
use support::login::{login, person};
use support::world::{World, service_secret, world};

/// Load: concurrent connections and seconds per measurement.
const CONNECTIONS: u32 = 16;
const SECONDS: u32 = 10;
/// The benchmark bridge's cache bound, small enough for a flood to reach it.
const CACHE_MAX_ENTRIES: u64 = 5_000;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "token_validation: a benchmark; run scripts/bench.sh (or cargo bench --bench token_validation)"
        );
        return;
    }
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is missing: scripts/bench.sh installs it"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(world()));
}

struct Load {
    requests_per_second: f64,
    p99_ms: f64,
    non_2xx: u64,
    requests: u64,
}

async fn run(w: &World) {
    eprintln!("bench: logging in alice (Engineering) for a real access token");
    let session = login(&Browser::new(), &person("alice", "eng"), None).await;
    let token = session.access_token;
    // A bridge instance of its own: long cache lifetimes, a small cache bound.
    let (bridge, mut child) = w
        .start_extra_bridge(|config| {
            config
                .replace(
                    "cache_ttl_seconds = 3",
                    &format!("cache_ttl_seconds = 600\ncache_max_entries = {CACHE_MAX_ENTRIES}"),
                )
                .replace("inactive_ttl_seconds = 2", "inactive_ttl_seconds = 600")
        })
        .await;
    let pid = child.id();
    let portal = basic("portal");
    let dir = w.dir.join("bench");
    std::fs::create_dir_all(&dir).expect("bench dir");

    let hello = wrk(
        &format!("http://127.0.0.1:{}/", hello_world()),
        &[],
        None,
        CONNECTIONS,
    );
    let whoami = wrk(
        &format!("{}_matrix/client/v3/account/whoami", w.eng.url),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
        CONNECTIONS,
    );
    // SSO_BRIDGE_BENCH_PERF=1: a flat `perf` profile of the bridge during forward-auth.
    let perf = std::env::var_os("SSO_BRIDGE_BENCH_PERF").map(|_| {
        let data = dir.join("perf.data");
        eprintln!("bench: perf record → {}", data.display());
        Command::new("perf")
            .args(["record", "-F", "2000", "-o"])
            .arg(&data)
            .args(["-p", &pid.to_string()])
            .spawn()
            .expect("perf")
    });
    let forward_auth = wrk(
        &format!("{bridge}_sso_bridge/forward-auth?homeserver=eng.test"),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("X-SSO-Bridge-Client", &portal),
        ],
        None,
        CONNECTIONS,
    );
    if let Some(mut perf) = perf {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(perf.id() as i32, libc::SIGINT) };
        let _ = perf.wait();
    }
    let introspect_script = post_script(
        &dir,
        "introspect.lua",
        &portal,
        &format!("token={token}&homeserver=eng.test"),
    );
    let introspect = wrk(
        &format!("{bridge}_sso_bridge/introspect"),
        &[],
        Some(&introspect_script),
        CONNECTIONS,
    );
    let fan_out_script = post_script(
        &dir,
        "introspect-all.lua",
        &portal,
        &format!("token={token}"),
    );
    let fan_out = wrk(
        &format!("{bridge}_sso_bridge/introspect"),
        &[],
        Some(&fan_out_script),
        CONNECTIONS,
    );
    let idle = rss_kib(pid);

    // Floods of distinct random tokens (every one a cache miss).
    let flood = |name: &str, service: &str| {
        let script = dir.join(name);
        std::fs::write(
            &script,
            format!(
                r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "{auth}"
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, "homeserver=eng.test&token=flood_" .. math.random(1, 2147483647) .. "_" .. n)
end
"#,
                auth = basic(service)
            ),
        )
        .expect("write flood script");
        wrk(
            &format!("{bridge}_sso_bridge/introspect"),
            &[],
            Some(&script),
            CONNECTIONS,
        )
    };
    let flood_1 = flood("flood.lua", "portal");
    let entries_1 = metric(&bridge, "sso_bridge_token_cache_entries", "").await;
    let rss_1 = rss_kib(pid);
    let flood_2 = flood("flood.lua", "portal");
    let entries_2 = metric(&bridge, "sso_bridge_token_cache_entries", "").await;
    let rss_2 = rss_kib(pid);
    let limited = flood("flood-limited.lua", "flooder");
    let flooder_calls = metric(
        &bridge,
        "sso_bridge_token_lookups_total",
        "client=\"flooder\",source=\"homeserver\"",
    )
    .await;
    let rss_3 = rss_kib(pid);
    support::spawn::stop(&mut child);

    let ratio = |load: &Load| load.requests_per_second / whoami.requests_per_second;
    println!("\n## Token validation ({CONNECTIONS} connections, {SECONDS} s each, wrk)\n");
    println!(
        "HTTP ceiling: a minimal actix-web \"hello\" server, same workers: {:.0} requests/s, p99 {:.2} ms.\n",
        hello.requests_per_second, hello.p99_ms
    );
    println!("| measurement | requests/s | p99 | vs Synapse whoami | vs hello |");
    println!("|---|---:|---:|---:|---:|");
    for (name, load) in [
        ("Synapse `whoami`, direct (baseline)", &whoami),
        ("forward-auth, cached", &forward_auth),
        ("introspection, cached, with hint", &introspect),
        ("introspection, cached, no hint (3 homeservers)", &fan_out),
    ] {
        println!(
            "| {name} | {:.0} | {:.2} ms | {:.1}× | {:.0}% |",
            load.requests_per_second,
            load.p99_ms,
            ratio(load),
            100.0 * load.requests_per_second / hello.requests_per_second
        );
        assert_eq!(
            load.non_2xx, 0,
            "{name}: {} answers were not 2xx",
            load.non_2xx
        );
    }
    println!(
        "\n## Memory under floods of distinct random tokens (cache bound {CACHE_MAX_ENTRIES})\n"
    );
    println!("| moment | requests | cache entries | RSS |");
    println!("|---|---:|---:|---:|");
    println!("| after the cached runs | | | {:.1} MiB |", mib(idle));
    println!(
        "| after flood 1 (`portal`, {SECONDS} s) | {} | {entries_1:.0} | {:.1} MiB |",
        flood_1.requests,
        mib(rss_1)
    );
    println!(
        "| after flood 2 (`portal`, {SECONDS} s more) | {} | {entries_2:.0} | {:.1} MiB |",
        flood_2.requests,
        mib(rss_2)
    );
    println!(
        "| after flood 3 (`flooder`, rate-limited) | {} ({} refused with 429; {flooder_calls:.0} reached Synapse) | | {:.1} MiB |",
        limited.requests,
        limited.non_2xx,
        mib(rss_3)
    );
    let targets = [
        (
            "cached validation ≥ 50× Synapse whoami",
            ratio(&forward_auth) >= 50.0 && ratio(&introspect) >= 50.0,
        ),
        (
            "p99 < 5 ms at 16 connections",
            forward_auth.p99_ms < 5.0 && introspect.p99_ms < 5.0,
        ),
        (
            "memory bounded: cache at its bound, RSS flat between floods (±10%)",
            entries_2 <= CACHE_MAX_ENTRIES as f64 && (rss_2 as f64) < rss_1 as f64 * 1.10,
        ),
        (
            "a rate-limited flood reaches the homeserver only for its burst",
            flooder_calls <= 3.0,
        ),
        (
            "cached validation ≥ 50% of the hello-world rate",
            forward_auth.requests_per_second >= 0.5 * hello.requests_per_second,
        ),
    ];
    println!("\n| target | met |\n|---|---|");
    for (target, met) in targets {
        println!("| {target} | {} |", if met { "yes" } else { "**no**" });
    }
}

/// The HTTP ceiling on this machine: actix-web answering "hello", with as many
/// workers as the bridge (one per core), on a thread of this process.
fn hello_world() -> u16 {
    let port = support::spawn::free_port();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(|| {
                actix_web::App::new().route("/", actix_web::web::get().to(|| async { "hello" }))
            })
            .bind(("127.0.0.1", port))
            .expect("bind the hello server")
            .run()
            .await
        })
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    port
}

fn basic(service: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{service}:{}", service_secret(service)))
    )
}

fn post_script(dir: &std::path::Path, name: &str, auth: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "wrk.method = \"POST\"\nwrk.body = \"{body}\"\n\
             wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
             wrk.headers[\"Authorization\"] = \"{auth}\"\n"
        ),
    )
    .expect("write wrk script");
    path
}

/// Runs wrk (2 threads) and reads its figures.
fn wrk(
    url: &str,
    headers: &[(&str, &str)],
    script: Option<&std::path::Path>,
    connections: u32,
) -> Load {
    let mut command = Command::new("wrk");
    command
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{SECONDS}s"),
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
    }
}

/// wrk writes `812.00us`, `1.23ms` or `1.02s`.
fn duration_ms(value: &str) -> f64 {
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

fn rss_kib(pid: u32) -> u64 {
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

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn metric(bridge: &str, name: &str, labels: &str) -> f64 {
    let labels: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
    world().metric(bridge, name, &labels).await
}
