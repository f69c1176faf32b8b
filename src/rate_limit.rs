//! Token buckets, one per key (a calling service, a client address), on the
//! injected clock so tests can refill them without sleeping.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Clock;

/// How often a key may act: `per_second` on average, `burst` at once.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// For log lines about refusals: one a minute, so a flood does not flood the
/// log too (every refusal is still counted in the metrics).
pub const LOG_ONCE_A_MINUTE: Rate = Rate {
    per_second: 1.0 / 60.0,
    burst: 1,
};

/// Refused: try again after this many seconds (at least 1, for `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Above this many keys, full buckets are forgotten (they hold no state worth keeping).
    max_keys: usize,
}

impl RateLimiter {
    pub fn new(max_keys: usize) -> Self {
        Self {
            buckets: Mutex::new(HashMap::new()),
            max_keys,
        }
    }

    /// Takes one token from `key`'s bucket, or says when one will be there.
    pub fn check(&self, clock: &dyn Clock, key: &str, rate: Rate) -> Result<(), RetryAfter> {
        let now = clock.now().timestamp_millis();
        let burst = f64::from(rate.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= self.max_keys && !buckets.contains_key(key) {
            buckets.retain(|_, b| refill(*b, now, rate.per_second, burst).tokens < burst);
            if buckets.len() >= self.max_keys {
                // Still full (a flood of keys): forget the tenth that acted least lately.
                let mut by_age: Vec<(i64, String)> = buckets
                    .iter()
                    .map(|(k, b)| (b.updated_ms, k.clone()))
                    .collect();
                by_age.sort_unstable();
                for (_, k) in by_age.into_iter().take(self.max_keys / 10 + 1) {
                    buckets.remove(&k);
                }
            }
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated_ms: now,
        });
        *bucket = refill(*bucket, now, rate.per_second, burst);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / rate.per_second;
            Err(RetryAfter(wait.ceil().max(1.0) as u64))
        }
    }
}

impl RateLimiter {
    /// Whether `key`'s bucket is empty now, without taking from it: lets a
    /// caller refuse early what would only be counted if it failed.
    pub fn exhausted(&self, clock: &dyn Clock, key: &str, rate: Rate) -> Option<RetryAfter> {
        let now = clock.now().timestamp_millis();
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = refill(
            *buckets.get(key)?,
            now,
            rate.per_second,
            f64::from(rate.burst.max(1)),
        );
        (bucket.tokens < 1.0)
            .then(|| RetryAfter(((1.0 - bucket.tokens) / rate.per_second).ceil().max(1.0) as u64))
    }
}

fn refill(bucket: Bucket, now_ms: i64, per_second: f64, burst: f64) -> Bucket {
    let elapsed = (now_ms - bucket.updated_ms).max(0) as f64 / 1000.0;
    Bucket {
        tokens: (bucket.tokens + elapsed * per_second).min(burst),
        updated_ms: now_ms.max(bucket.updated_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MockClock;

    #[test]
    fn a_burst_then_the_rate() {
        let clock = MockClock::at_unix(1_000);
        let limiter = RateLimiter::new(100);
        let rate = Rate {
            per_second: 2.0,
            burst: 3,
        };
        for _ in 0..3 {
            assert_eq!(limiter.check(&clock, "svc", rate), Ok(()));
        }
        assert_eq!(limiter.check(&clock, "svc", rate), Err(RetryAfter(1)));
        // Another key has its own bucket.
        assert_eq!(limiter.check(&clock, "other", rate), Ok(()));
        clock.advance(1);
        assert_eq!(limiter.check(&clock, "svc", rate), Ok(()));
        assert_eq!(limiter.check(&clock, "svc", rate), Ok(()));
        assert!(limiter.check(&clock, "svc", rate).is_err());
        // Refilling never goes past the burst.
        clock.advance(3600);
        for _ in 0..3 {
            assert_eq!(limiter.check(&clock, "svc", rate), Ok(()));
        }
        assert!(limiter.check(&clock, "svc", rate).is_err());
    }

    #[test]
    fn slow_rates_say_how_long_to_wait() {
        let clock = MockClock::at_unix(1_000);
        let limiter = RateLimiter::new(100);
        let rate = Rate {
            per_second: 0.1,
            burst: 1,
        };
        assert_eq!(limiter.exhausted(&clock, "svc", rate), None);
        assert_eq!(limiter.check(&clock, "svc", rate), Ok(()));
        assert_eq!(limiter.exhausted(&clock, "svc", rate), Some(RetryAfter(10)));
        assert_eq!(limiter.check(&clock, "svc", rate), Err(RetryAfter(10)));
        clock.advance(10);
        assert_eq!(limiter.exhausted(&clock, "svc", rate), None);
        assert_eq!(limiter.exhausted(&clock, "unknown", rate), None);
    }

    #[test]
    fn many_keys_stay_bounded() {
        let clock = MockClock::at_unix(1_000);
        let limiter = RateLimiter::new(10);
        let rate = Rate {
            per_second: 1.0,
            burst: 5,
        };
        for i in 0..1_000 {
            let _ = limiter.check(&clock, &format!("10.0.0.{i}"), rate);
            clock.advance(10);
        }
        // A flood of keys that all stay busy is bounded too.
        for i in 0..1_000 {
            for _ in 0..6 {
                let _ = limiter.check(&clock, &format!("10.1.0.{i}"), rate);
            }
        }
        assert!(limiter.buckets.lock().map(|b| b.len()).unwrap_or(0) <= 10);
    }
}
