//! The `sso-bridge` command line: parse, load config, call into the library.

// Nothing from outside is unwrapped: errors are answered (unit tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

/// mimalloc: fewer cycles per request than glibc malloc under actix's many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use sso_bridge::clock::SystemClock;
use sso_bridge::config::Config;
use sso_bridge::random::Random;
use sso_bridge::services::Services;
use sso_bridge::store::Store;

#[derive(Parser)]
#[command(
    name = "sso-bridge",
    version,
    about = "One university login for many departmental Matrix homeservers (MSC1731)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bridge (applies database migrations first).
    Serve {
        /// Path of the TOML config file.
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the SAML service provider metadata to register at an upstream SAML IdP.
    SamlMetadata {
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
        /// The upstream id, as in the config file.
        upstream: String,
    },
    /// The OpenID Provider's signing keys: list them, or rotate to a new one.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the Synapse configuration a department's homeserver needs.
    HomeserverConfig {
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
        /// The department id, as in the config file.
        department: String,
    },
    /// Department sessions created by logins: list them, or end them (each
    /// homeserver is told at once, and the command prints its answer).
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// Check the config, database, IdPs, homeservers and public URL; one line per check.
    Doctor {
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
        /// Skip the test login at each homeserver (it creates @sso-bridge-doctor there
        /// once); the client_whitelist is then not checked.
        #[arg(long)]
        no_login_probe: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Every key with what it does now: next, signing, retiring.
    List {
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
    },
    /// Add a new key: published at once, signing after `--activate-after`
    /// seconds; the old key stays published until its id_tokens have expired.
    Rotate {
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
        /// Seconds between publishing the new key and signing with it, so that
        /// homeservers that cache the JWKS have seen it first.
        #[arg(long, default_value_t = 300)]
        activate_after: u32,
    },
}

/// Which sessions (at least one of --sid, --user, --subject to end any).
#[derive(clap::Args)]
struct SessionSelection {
    #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
    config: PathBuf,
    /// One session, by the sid its homeserver knows.
    #[arg(long)]
    sid: Option<String>,
    /// Only this department's sessions.
    #[arg(long)]
    department: Option<String>,
    /// A person by their Matrix localpart (with --department: there only).
    #[arg(long, conflicts_with = "sid")]
    user: Option<String>,
    /// A person by their subject at the university IdP, in every department.
    #[arg(long, conflicts_with_all = ["sid", "user"])]
    subject: Option<String>,
    /// With --user: the same person's sessions in every department.
    #[arg(long, requires = "user")]
    everywhere: bool,
}

impl SessionSelection {
    fn split(self) -> (PathBuf, sso_bridge::commands::sessions::Selection) {
        (
            self.config,
            sso_bridge::commands::sessions::Selection {
                sid: self.sid,
                department: self.department,
                user: self.user,
                subject: self.subject,
                everywhere: self.everywhere,
            },
        )
    }
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// The live sessions, one per line: sid, department, Matrix user, since.
    List(SessionSelection),
    /// End sessions: one (--sid), a person's at one department (--user
    /// --department), or a person's everywhere (--user --everywhere, --subject).
    End {
        #[command(flatten)]
        selection: SessionSelection,
        /// Seconds to wait for the homeservers' answers (0: only queue the
        /// logout tokens, for the running bridge to deliver).
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check the config file and print every problem found.
    Check {
        #[arg(long, short, env = "SSO_BRIDGE_CONFIG")]
        config: PathBuf,
    },
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check { config },
        } => match load(&config) {
            Ok(c) => {
                println!(
                    "configuration OK: {} department(s), {} upstream(s), public base URL {}",
                    c.departments.len(),
                    c.upstreams.len(),
                    c.public_base_url
                );
                // What each IdP's administrator registers.
                for upstream in &c.upstreams {
                    for (what, url) in sso_bridge::config::upstream_endpoints(&c, upstream) {
                        println!("upstream {}: {what} {url}", upstream.id());
                    }
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::HomeserverConfig { config, department } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match config.department(&department) {
                Some(d) => {
                    print!(
                        "{}",
                        sso_bridge::homeserver_config::synapse_yaml(&config, d)
                    );
                    ExitCode::SUCCESS
                }
                None => {
                    let known: Vec<&str> =
                        config.departments.iter().map(|d| d.id.as_str()).collect();
                    eprintln!(
                        "error: no department {department:?}; configured: {}",
                        known.join(", ")
                    );
                    ExitCode::from(2)
                }
            }
        }
        Command::SamlMetadata { config, upstream } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run(async move {
                let upstreams = sso_bridge::upstream::Upstreams::load(
                    &config,
                    sso_bridge::outbound::back_channel_client()?,
                )
                .await?;
                let idp = upstreams.saml(&upstream).ok_or_else(|| {
                    anyhow::anyhow!("no SAML upstream {upstream:?} in the config")
                })?;
                println!("{}", idp.sp_metadata().await?);
                Ok(())
            })
        }
        Command::Keys { command } => {
            let (config, activate_after) = match &command {
                KeysCommand::List { config } => (config, None),
                KeysCommand::Rotate {
                    config,
                    activate_after,
                } => (config, Some(i64::from(*activate_after))),
            };
            let config = match load(config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run(async move {
                let out = match activate_after {
                    None => sso_bridge::commands::keys::list(&config, &SystemClock).await?,
                    Some(after) => {
                        sso_bridge::commands::keys::rotate(&config, &SystemClock, after).await?
                    }
                };
                print!("{out}");
                Ok(())
            })
        }
        Command::Sessions { command } => {
            let (path, selection, wait) = match command {
                SessionsCommand::List(selection) => {
                    let (path, selection) = selection.split();
                    (path, selection, None)
                }
                SessionsCommand::End { selection, wait } => {
                    let (path, selection) = selection.split();
                    (path, selection, Some(wait))
                }
            };
            let config = match load(&path) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run(async move {
                let services =
                    Services::start(config, Arc::new(SystemClock), Random::from_os()).await?;
                let out = match wait {
                    None => {
                        sso_bridge::commands::sessions::list(&services.logout(), &selection).await?
                    }
                    Some(seconds) => {
                        sso_bridge::commands::sessions::end(
                            &services.logout(),
                            &selection,
                            std::time::Duration::from_secs(seconds),
                        )
                        .await?
                    }
                };
                print!("{out}");
                Ok(())
            })
        }
        Command::Doctor {
            config,
            no_login_probe,
        } => {
            let options = sso_bridge::doctor::Options {
                login_probe: !no_login_probe,
            };
            ExitCode::from(sso_bridge::doctor::run(&config, &options))
        }
        Command::Migrate { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            sso_bridge::logging::init();
            run(async move {
                let store = Store::connect(&config.database_url).await?;
                store.migrate().await?;
                println!("database migrated");
                Ok(())
            })
        }
        Command::Serve { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            sso_bridge::logging::init();
            run(async move {
                let services =
                    Services::start(config, Arc::new(SystemClock), Random::from_os()).await?;
                services.upstreams.warm_up().await;
                tokio::spawn(purge_expired(services.clone()));
                tokio::spawn(follow_saml_metadata(services.clone()));
                let worker = services.clone();
                tokio::spawn(
                    async move { sso_bridge::logout::delivery::run(&worker.logout()).await },
                );
                tokio::spawn(follow_department_versions(services.clone()));
                sso_bridge::http::serve(services).await?;
                Ok(())
            })
        }
    }
}

fn run(future: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the departments' homeservers support, for the central `/versions`: asked
/// at start (without holding it up), then every minute; every 5 s while one of
/// them has not answered (a homeserver may start after the bridge).
async fn follow_department_versions(services: Arc<Services>) {
    loop {
        let all_answered = services.refresh_department_versions().await;
        let wait = if all_answered { 60 } else { 5 };
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
}

/// SAML metadata that is due is refreshed (a failure keeps the last good
/// copy); metadata that did not load at start is tried again every few seconds.
async fn follow_saml_metadata(services: Arc<Services>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        for (upstream, result) in services.upstreams.refresh_saml_metadata().await {
            match result {
                Ok(true) => tracing::info!(%upstream, "SAML IdP metadata loaded"),
                Ok(false) => {}
                Err(error) => {
                    services.metrics.metadata_refresh_failed(&upstream);
                    tracing::warn!(%upstream, %error, "SAML IdP metadata refresh failed; keeping the last good copy, if any");
                }
            }
        }
    }
}

/// Every minute: expired flows, codes, routes and replay-cache entries are deleted.
async fn purge_expired(services: Arc<Services>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match services.store.purge_expired(services.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "purged expired rows"),
            Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
        }
        let retain = services.keys.retain_seconds();
        match services
            .store
            .purge_retired_signing_keys(services.now(), retain)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys = n, "deleted signing keys past their retention"),
            Err(e) => tracing::warn!(error = %e, "deleting retired signing keys failed"),
        }
    }
}
