//! The test tiers. Plain `cargo test` runs the unit and in-process tiers, which
//! need only the system packages the README names. The end-to-end tier
//! (tests/e2e: the real binary against Synapse, the test IdPs, Chromium, Redis,
//! PostgreSQL) and the deployment tier (tests/compose_file) need the peers
//! `scripts/setup.sh` installs; `scripts/test.sh` installs them and runs every
//! tier with `--features peers`.

use std::path::Path;

#[test]
#[cfg_attr(
    not(feature = "peers"),
    ignore = "the end-to-end and deployment tiers need the peers: run scripts/test.sh"
)]
fn the_end_to_end_and_deployment_tiers_run_with_the_peers_installed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for peer in [
        ".peers/venv/bin/python",
        "tests/peers/oidc-idp/node_modules",
        "tests/peers/browser/node_modules",
    ] {
        assert!(
            root.join(peer).exists(),
            "{peer} is missing: scripts/setup.sh installs it (scripts/test.sh runs it first)"
        );
    }
}
