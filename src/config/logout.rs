//! `[logout]`: how long the bridge keeps trying to tell a homeserver that a
//! session ended.

use serde::Deserialize;

use super::validate::Problems;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogoutFile {
    /// A logout token a homeserver has not taken after this long is given up
    /// (logged as an error and counted).
    pub give_up_after_seconds: i64,
}

impl Default for LogoutFile {
    fn default() -> Self {
        Self {
            give_up_after_seconds: 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Logout {
    pub give_up_after_seconds: i64,
}

pub(super) fn validate(p: &mut Problems, file: LogoutFile) -> Logout {
    const MAX: i64 = 30 * 24 * 3600;
    if !(60..=MAX).contains(&file.give_up_after_seconds) {
        p.add(
            "logout.give_up_after_seconds",
            format!("{} is out of range", file.give_up_after_seconds),
            format!("use 60 to {MAX} seconds (the default is a day)"),
        );
    }
    Logout {
        give_up_after_seconds: file.give_up_after_seconds,
    }
}
