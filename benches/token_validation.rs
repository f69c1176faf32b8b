//! Benchmark: token validation through the bridge's cache, next to Synapse's own
//! `whoami` on the same machine in the same run; and memory under a flood of
//! distinct random tokens. Run by `scripts/bench.sh` (release build, wrk).

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sso_bridge_testing::bench::{Load, hello_world, mib, rss_kib};
use sso_bridge_testing::browser::Browser;
use sso_bridge_testing::login::{login, person};
use sso_bridge_testing::world::{World, service_secret, world};

/// Load: concurrent connections and seconds per measurement.
const CONNECTIONS: u32 = 16;
const SECONDS: u32 = 10;
/// The benchmark bridge's cache bound, small enough for a flood to reach it.
const CACHE_MAX_ENTRIES: u64 = 5_000;

fn main() {
    sso_bridge_testing::bench::run_http_bench("token_validation", || run(world()));
}

async fn run(w: &World) {
    eprintln!("bench: logging in alice (Engineering) for a real access token");
    let session = login(&Browser::new(), &person("alice", "eng"), None).await;
    let token = session.access_token;
    // A bridge instance of its own: long cache lifetimes, a small cache bound,
    // and logging at the production level (the tests' instances log at debug).
    let (bridge, mut child) = w
        .start_extra_bridge_with(
            |config| {
                config
                    .replace(
                        "cache_ttl_seconds = 3",
                        &format!(
                            "cache_ttl_seconds = 600\ncache_max_entries = {CACHE_MAX_ENTRIES}"
                        ),
                    )
                    .replace("inactive_ttl_seconds = 2", "inactive_ttl_seconds = 600")
            },
            &[("SSO_BRIDGE_LOG", "info,sqlx=warn")],
        )
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
        sso_bridge_sys::process::signal_child(&perf, sso_bridge_sys::process::SIGINT);
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
    sso_bridge_testing::spawn::stop(&mut child);

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
            "cached validation ≥ 50× Synapse whoami: forward-auth",
            ratio(&forward_auth) >= 50.0,
        ),
        (
            "cached validation ≥ 50× Synapse whoami: introspection",
            ratio(&introspect) >= 50.0,
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
            "cached validation ≥ 50% of the hello-world rate: forward-auth",
            forward_auth.requests_per_second >= 0.5 * hello.requests_per_second,
        ),
        (
            "cached validation ≥ 50% of the hello-world rate: introspection",
            introspect.requests_per_second >= 0.5 * hello.requests_per_second,
        ),
    ];
    println!("\n| target | met |\n|---|---|");
    for (target, met) in targets {
        println!("| {target} | {} |", if met { "yes" } else { "**no**" });
    }
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

/// Runs wrk (2 threads, SECONDS long) and reads its figures.
fn wrk(
    url: &str,
    headers: &[(&str, &str)],
    script: Option<&std::path::Path>,
    connections: u32,
) -> Load {
    sso_bridge_testing::bench::wrk(url, headers, script, connections, SECONDS)
}

async fn metric(bridge: &str, name: &str, labels: &str) -> f64 {
    let labels: Vec<&str> = labels.split(',').filter(|l| !l.is_empty()).collect();
    world().metric(bridge, name, &labels).await
}
