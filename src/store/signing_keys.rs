//! `signing_keys`: the OpenID Provider's keys, sealed with the configured encryption key.

use super::{Store, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub sealed_private_key: String,
    pub created_at: i64,
    /// From when it signs (it is published from creation).
    pub activates_at: i64,
}

impl Store {
    /// Every key kept, newest activation first.
    pub async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        Ok(sqlx::query_as::<_, SigningKeyRow>(
            "SELECT kid, algorithm, sealed_private_key, created_at, activates_at \
             FROM signing_keys ORDER BY activates_at DESC, created_at DESC, kid DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Inserts unless another instance raced us to it; the caller reloads afterwards.
    pub async fn insert_signing_key(&self, row: &SigningKeyRow) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, sealed_private_key, created_at, activates_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&row.kid)
        .bind(&row.algorithm)
        .bind(&row.sealed_private_key)
        .bind(row.created_at)
        .bind(row.activates_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes keys replaced by a key that activated more than `retain_seconds`
    /// ago: no unexpired token carries them, and a private key kept is a risk.
    pub async fn purge_retired_signing_keys(
        &self,
        now: i64,
        retain_seconds: i64,
    ) -> StoreResult<u64> {
        let _gate = self.write_gate().await;
        Ok(sqlx::query(
            "DELETE FROM signing_keys WHERE EXISTS (SELECT 1 FROM signing_keys AS newer \
             WHERE newer.activates_at > signing_keys.activates_at AND newer.activates_at + $1 <= $2)",
        )
        .bind(retain_seconds)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}
