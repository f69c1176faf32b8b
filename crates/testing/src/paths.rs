//! Where things are: the workspace root (fixtures, peers, `target/`) and the
//! `sso-bridge` binary the end-to-end tier and the benchmarks start.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The sso-bridge workspace root (this crate lives in `crates/testing`).
pub fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        root.canonicalize().unwrap_or(root)
    })
}

/// The `sso-bridge` binary of this build. Cargo builds it for the root
/// package's integration tests and benchmarks, next to their own directory
/// (`target/<profile>/deps/<test>` → `target/<profile>/sso-bridge`); only those
/// targets see `CARGO_BIN_EXE_sso-bridge`, so this crate finds it the same way
/// at run time, and the variable wins when it is set.
pub fn bridge_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_sso-bridge") {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test
        .parent()
        .filter(|dir| dir.ends_with("deps"))
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} is not in target/<profile>/deps", test.display()));
    let binary = profile_dir.join("sso-bridge");
    assert!(
        binary.exists(),
        "{} does not exist: run this from the root package's tests or benchmarks",
        binary.display()
    );
    binary
}
