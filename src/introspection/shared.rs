//! The layer several bridge instances share: Redis. It is an optimisation: when
//! Redis is down, look-ups go to the homeserver and a warning is logged.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::cache::{Entry, Key};

const PREFIX: &str = "sso-bridge:whoami:v1:";
/// Per user, the keys of their active verdicts, so a logout can drop them all.
const USER_PREFIX: &str = "sso-bridge:whoami-user:v1:";

pub struct SharedCache {
    connection: ConnectionManager,
}

impl SharedCache {
    /// Connects lazily, so the bridge starts (and serves) while Redis is away.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        Ok(Self {
            connection: ConnectionManager::new_lazy_with_config(client, config)?,
        })
    }

    pub async fn get(&self, key: &Key, now_ms: i64) -> Result<Option<Entry>, redis::RedisError> {
        let mut connection = self.connection.clone();
        let value: Option<String> = connection.get(redis_key(key)).await?;
        Ok(value
            .and_then(|json| serde_json::from_str::<Entry>(&json).ok())
            .filter(|entry| entry.fresh(now_ms)))
    }

    pub async fn put(
        &self,
        key: &Key,
        entry: &Entry,
        now_ms: i64,
    ) -> Result<(), redis::RedisError> {
        let ttl_ms = u64::try_from(entry.expires_at_ms - now_ms).unwrap_or(0);
        if ttl_ms == 0 {
            return Ok(());
        }
        let value = serde_json::to_string(entry).unwrap_or_default();
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        pipe.pset_ex(redis_key(key), value, ttl_ms).ignore();
        if let super::whoami::Whoami::Active(holder) = &entry.whoami {
            let index = user_key(&holder.user_id);
            pipe.sadd(&index, redis_key(key))
                .ignore()
                .pexpire(&index, i64::try_from(ttl_ms).unwrap_or(i64::MAX))
                .ignore();
        }
        pipe.query_async(&mut connection).await
    }

    /// Drops every shared verdict of `user_id`, for every instance.
    pub async fn forget_user(&self, user_id: &str) -> Result<(), redis::RedisError> {
        let mut connection = self.connection.clone();
        let index = user_key(user_id);
        let keys: Vec<String> = connection.smembers(&index).await?;
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.del(key).ignore();
        }
        pipe.del(&index).ignore();
        pipe.query_async(&mut connection).await
    }
}

fn user_key(user_id: &str) -> String {
    format!("{USER_PREFIX}{user_id}")
}

fn redis_key(key: &Key) -> String {
    format!("{PREFIX}{}", crate::encoding::to_hex(key.as_slice()))
}
