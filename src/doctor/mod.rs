//! `sso-bridge doctor`: checks a deployment from the bridge's point of view and
//! prints one line per check (✅ / ⚠️ / ❌, with what to do).
//!
//! Order: the config (nothing else without it); the database and the bridge's
//! public URL (the login probe needs both); then every upstream IdP and every
//! department's homeserver, concurrently. Every outbound call has a timeout.

mod backchannel_logout;
mod config;
mod database;
mod homeservers;
mod http;
mod login_probe;
mod public_url;
mod report;
mod upstream_oidc;
mod upstream_saml;

use std::path::Path;

use futures_util::future::join_all;

use crate::config::Upstream;
use login_probe::Probe;
pub use report::{Check, Status};

pub struct Options {
    /// Complete a test login at each homeserver to observe `client_whitelist`.
    pub login_probe: bool,
}

/// Runs every check, prints the report, and returns the exit code: 0 when
/// nothing failed, 1 when something did, 2 when the config itself is unusable.
pub fn run(path: &Path, options: &Options) -> u8 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let config = match config::check(path) {
        Ok((config, line)) => {
            println!("{line}");
            config
        }
        Err(line) => {
            println!("{line}");
            return 2;
        }
    };
    let checks = runtime.block_on(diagnose(&config, &path.display().to_string(), options));
    for check in &checks {
        println!("{check}");
    }
    report::exit_code(&checks)
}

/// Every check after the config, in the order they are printed.
pub async fn diagnose(
    config: &crate::config::Config,
    config_path: &str,
    options: &Options,
) -> Vec<Check> {
    let http = match http::client() {
        Ok(http) => http,
        Err(e) => {
            return vec![Check::fail(
                "HTTP client",
                format!("cannot be built: {e}"),
                "check the system's TLS set-up (CA certificates, OpenSSL)",
            )];
        }
    };
    let (database, (public, bridge_running)) =
        tokio::join!(database::check(config), public_url::check(&http, config));
    let probe = match (&database.store, bridge_running, options.login_probe) {
        (_, _, false) => Probe::Skipped(
            "--no-login-probe was given",
            "run `doctor` without it to observe the whitelist",
        ),
        (None, _, _) => Probe::Skipped(
            "the database is not usable",
            "fix the database checks above, then run `doctor` again",
        ),
        (_, false, _) => Probe::Skipped(
            "no bridge with this config answers at the public base URL",
            "run `doctor` again while `sso-bridge serve` runs with this config",
        ),
        (Some(store), true, true) => Probe::Ready(store),
    };
    let upstreams = join_all(config.upstreams.iter().map(|u| async {
        match u {
            Upstream::Oidc(o) => upstream_oidc::check(&http, config, o).await,
            Upstream::Saml(s) => upstream_saml::check(&http, s).await,
        }
    }));
    let homeservers = join_all(
        config
            .departments
            .iter()
            .map(|d| homeservers::check(&http, config, config_path, d, &probe)),
    );
    let (upstreams, homeservers) = tokio::join!(upstreams, homeservers);
    let mut checks = database.checks;
    checks.extend(upstreams.into_iter().flatten());
    checks.extend(homeservers.into_iter().flatten());
    checks.push(public);
    checks
}
