//! The doctor's report: one line per check, and the exit code they add up to.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Self::Ok => "✅",
            Self::Warn => "⚠️",
            Self::Fail => "❌",
        }
    }
}

/// One check: what was checked, what was found, and for a problem what to do.
#[derive(Debug, Clone)]
pub struct Check {
    pub status: Status,
    pub subject: String,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            subject: subject.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Warn,
            subject: subject.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Fail,
            subject: subject.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line per check, whatever the details contain.
        let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        write!(
            f,
            "{} {} — {}",
            self.status.mark(),
            one_line(&self.subject),
            one_line(&self.detail)
        )?;
        if let Some(fix) = &self.fix {
            write!(f, " → {}", one_line(fix))?;
        }
        Ok(())
    }
}

/// 0 when nothing failed (warnings allowed), 1 otherwise.
pub fn exit_code(checks: &[Check]) -> u8 {
    u8::from(checks.iter().any(|c| c.status == Status::Fail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_exit_code() {
        let ok = Check::ok("database", "reachable");
        let warn = Check::warn("migrations", "1 pending", "run `sso-bridge migrate`");
        let fail = Check::fail("homeserver eng", "refused\nthe connection", "start it");
        assert_eq!(ok.to_string(), "✅ database — reachable");
        assert_eq!(
            warn.to_string(),
            "⚠️ migrations — 1 pending → run `sso-bridge migrate`"
        );
        assert_eq!(
            fail.to_string(),
            "❌ homeserver eng — refused the connection → start it"
        );
        assert_eq!(exit_code(&[ok.clone(), warn.clone()]), 0);
        assert_eq!(exit_code(&[ok, warn, fail]), 1);
    }
}
