//! The answers kept in memory: keyed by SHA-256 of (homeserver, token), never
//! the token itself; bounded in size; each entry lives as long as its verdict may.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::whoami::Whoami;

pub type Key = [u8; 32];

pub fn key(homeserver: &Url, token: &str) -> Key {
    let mut hash = Sha256::new();
    hash.update(homeserver.as_str().as_bytes());
    // A separator that cannot occur in a URL keeps (homeserver, token) pairs distinct.
    hash.update([0u8]);
    hash.update(token.as_bytes());
    hash.finalize().into()
}

/// A homeserver's verdict, the department it resolves to, and until when it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub whoami: Whoami,
    pub department: Option<String>,
    /// Unix milliseconds on the bridge's clock: authoritative for freshness.
    pub expires_at_ms: i64,
}

impl Entry {
    pub fn fresh(&self, now_ms: i64) -> bool {
        self.expires_at_ms > now_ms
    }

    fn remaining(&self, now_ms: i64) -> Duration {
        Duration::from_millis(u64::try_from(self.expires_at_ms - now_ms).unwrap_or(0))
    }
}

/// Entries leave memory when their verdict expires (the bridge's clock decides
/// freshness; this only reclaims the memory).
struct ExpireWithVerdict;

impl moka::Expiry<Key, (Entry, i64)> for ExpireWithVerdict {
    fn expire_after_create(
        &self,
        _key: &Key,
        value: &(Entry, i64),
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.0.remaining(value.1))
    }
}

/// The in-process layer. Values carry the clock reading they were stored at,
/// so the memory lifetime matches the verdict's.
#[derive(Clone)]
pub struct LocalCache(moka::future::Cache<Key, (Entry, i64)>);

impl LocalCache {
    pub fn new(max_entries: u64) -> Self {
        Self(
            moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(ExpireWithVerdict)
                .build(),
        )
    }

    /// A fresh entry, if any; a stale one is dropped.
    pub async fn get(&self, key: &Key, now_ms: i64) -> Option<Entry> {
        let (entry, _) = self.0.get(key).await?;
        if entry.fresh(now_ms) {
            return Some(entry);
        }
        self.0.invalidate(key).await;
        None
    }

    /// Returns the entry for `key`, running `fill` if there is none. Concurrent
    /// callers for the same key wait for one `fill`; an error is not stored.
    /// The flag says whether this call ran `fill`.
    pub async fn get_or_fill<E, F>(
        &self,
        key: Key,
        now_ms: i64,
        fill: F,
    ) -> Result<(Entry, bool), std::sync::Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<Entry, E>>,
    {
        let entry = self
            .0
            .entry(key)
            .or_try_insert_with(async move { fill.await.map(|e| (e, now_ms)) })
            .await?;
        let filled = entry.is_fresh();
        Ok((entry.into_value().0, filled))
    }

    /// Exact after pending evictions are applied.
    pub async fn entry_count(&self) -> u64 {
        self.0.run_pending_tasks().await;
        self.0.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::introspection::whoami::Holder;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn keys_bind_homeserver_and_token_and_hide_the_token() {
        let a = url("https://a.example/");
        let b = url("https://b.example/");
        assert_ne!(key(&a, "syt_token"), key(&b, "syt_token"));
        assert_ne!(key(&a, "syt_token"), key(&a, "syt_token2"));
        assert_eq!(key(&a, "syt_token"), key(&a, "syt_token"));
        assert!(!hex::encode(key(&a, "syt_token")).contains("syt"));
    }

    #[tokio::test]
    async fn stale_entries_are_misses_and_fills_are_shared() {
        let cache = LocalCache::new(1000);
        let k = key(&url("https://a.example/"), "t");
        let active = Entry {
            whoami: Whoami::Active(Holder {
                user_id: "@a:a.example".into(),
                device_id: None,
                is_guest: false,
            }),
            department: Some("a".into()),
            expires_at_ms: 10_000,
        };
        let filled = cache
            .get_or_fill::<(), _>(k, 1_000, async { Ok(active.clone()) })
            .await;
        assert_eq!(filled.ok(), Some((active.clone(), true)));
        let again = cache
            .get_or_fill::<(), _>(k, 1_000, async { Err(()) })
            .await;
        assert_eq!(
            again.ok(),
            Some((active.clone(), false)),
            "stored, not refilled"
        );
        assert_eq!(cache.get(&k, 9_999).await, Some(active));
        assert_eq!(cache.get(&k, 10_000).await, None, "stale at expiry");
        let failed = cache
            .get_or_fill::<&str, _>(k, 10_000, async { Err("down") })
            .await;
        assert!(failed.is_err());
        assert_eq!(cache.get(&k, 10_000).await, None, "errors are not stored");
    }
}
