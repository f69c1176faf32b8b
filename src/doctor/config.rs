//! The config file: it loads and validates, or nothing else can be checked.

use std::path::Path;

use super::report::Check;
use crate::config::Config;

pub fn check(path: &Path) -> Result<(Config, Check), Check> {
    let subject = format!("config {}", path.display());
    match Config::load(path) {
        Ok(config) => {
            let detail = format!(
                "valid: {} department(s), {} upstream(s), public base URL {}",
                config.departments.len(),
                config.upstreams.len(),
                config.public_base_url
            );
            Ok((config, Check::ok(subject, detail)))
        }
        Err(e) => Err(Check::fail(
            subject,
            e.to_string(),
            "fix each key named (`sso-bridge config check` lists them one per line); nothing else was checked",
        )),
    }
}
