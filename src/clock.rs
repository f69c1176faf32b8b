//! Time comes in through a `Clock`, so tests can expire a flow without sleeping.

use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Unix seconds, as stored in the database.
    fn unix(&self) -> i64 {
        self.now().timestamp()
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
pub struct MockClock(Mutex<DateTime<Utc>>);

impl MockClock {
    pub fn at_unix(seconds: i64) -> Self {
        Self(Mutex::new(
            Utc.timestamp_opt(seconds, 0).single().unwrap_or_default(),
        ))
    }

    pub fn advance(&self, seconds: i64) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += chrono::Duration::seconds(seconds);
    }
}

impl Clock for MockClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Unix seconds as an RFC 3339 UTC time, for messages people read.
pub fn rfc3339(unix: i64) -> String {
    Utc.timestamp_opt(unix, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}
