//! The answers kept in memory: keyed by SHA-256 of (homeserver, token), never
//! the token itself; bounded in size; each entry lives as long as its verdict may.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use std::sync::{Arc, OnceLock};

use super::ActiveToken;
use super::target::Target;
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

/// What memory holds for one key: the entry, the clock reading it was stored
/// at (so its memory lifetime matches the verdict's), and the active token as
/// services are told of it, made at its first use and shared by every hit after.
#[derive(Debug)]
pub struct Cached {
    pub entry: Entry,
    stored_ms: i64,
    active: OnceLock<Arc<ActiveToken>>,
}

impl Cached {
    fn new(entry: Entry, stored_ms: i64) -> Self {
        Self {
            entry,
            stored_ms,
            active: OnceLock::new(),
        }
    }

    /// The active token this entry holds for `target` (the homeserver the key
    /// was made with), or `None` for an inactive one.
    pub fn active(&self, target: &Target) -> Option<Arc<ActiveToken>> {
        let Whoami::Active(holder) = &self.entry.whoami else {
            return None;
        };
        Some(
            self.active
                .get_or_init(|| {
                    Arc::new(ActiveToken::new(
                        holder.clone(),
                        target.base_url.clone(),
                        self.entry.department.clone(),
                    ))
                })
                .clone(),
        )
    }
}

/// Entries leave memory when their verdict expires (the bridge's clock decides
/// freshness; this only reclaims the memory).
struct ExpireWithVerdict;

impl moka::Expiry<Key, Arc<Cached>> for ExpireWithVerdict {
    fn expire_after_create(
        &self,
        _key: &Key,
        value: &Arc<Cached>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.entry.remaining(value.stored_ms))
    }
}

/// The in-process layer; a hit costs a reference count, not a copy.
#[derive(Clone)]
pub struct LocalCache(moka::future::Cache<Key, Arc<Cached>>);

impl LocalCache {
    pub fn new(max_entries: u64) -> Self {
        Self(
            moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(ExpireWithVerdict)
                .support_invalidation_closures()
                .build(),
        )
    }

    /// A fresh entry, if any; a stale one is dropped.
    pub async fn get(&self, key: &Key, now_ms: i64) -> Option<Arc<Cached>> {
        let cached = self.0.get(key).await?;
        if cached.entry.fresh(now_ms) {
            return Some(cached);
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
    ) -> Result<(Arc<Cached>, bool), Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<Entry, E>>,
    {
        let entry = self
            .0
            .entry(key)
            .or_try_insert_with(async move { fill.await.map(|e| Arc::new(Cached::new(e, now_ms))) })
            .await?;
        let filled = entry.is_fresh();
        Ok((entry.into_value(), filled))
    }

    /// Drops every active verdict of `user_id` (their session ended): the next
    /// look-up asks the homeserver again.
    pub fn forget_user(&self, user_id: &str) {
        let user_id = user_id.to_owned();
        let dropped = self.0.invalidate_entries_if(move |_, cached| {
            matches!(&cached.entry.whoami, Whoami::Active(holder) if holder.user_id == user_id)
        });
        if let Err(e) = dropped {
            tracing::error!(error = %e, "could not drop a user's cached token verdicts");
        }
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
        let entry = |c: Option<Arc<Cached>>| c.map(|c| c.entry.clone());
        let filled = cache
            .get_or_fill::<(), _>(k, 1_000, async { Ok(active.clone()) })
            .await;
        let (first, fresh) = filled.ok().unwrap();
        assert_eq!((first.entry.clone(), fresh), (active.clone(), true));
        let again = cache
            .get_or_fill::<(), _>(k, 1_000, async { Err(()) })
            .await;
        let (second, fresh) = again.ok().unwrap();
        assert!(!fresh, "stored, not refilled");
        assert!(
            Arc::ptr_eq(&first, &second),
            "a hit shares the stored answer"
        );
        assert_eq!(entry(cache.get(&k, 9_999).await), Some(active));
        assert_eq!(entry(cache.get(&k, 10_000).await), None, "stale at expiry");
        let failed = cache
            .get_or_fill::<&str, _>(k, 10_000, async { Err("down") })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            entry(cache.get(&k, 10_000).await),
            None,
            "errors are not stored"
        );
    }
}
