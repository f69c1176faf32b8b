//! `signing_keys`: the OpenID Provider's keys, sealed with the configured encryption key.

use super::{Store, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    pub sealed_private_key: String,
    pub created_at: i64,
}

impl Store {
    /// Keys not retired, newest first.
    pub async fn active_signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        Ok(sqlx::query_as::<_, SigningKeyRow>(
            "SELECT kid, algorithm, sealed_private_key, created_at FROM signing_keys \
             WHERE retired_at IS NULL ORDER BY created_at DESC",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Inserts unless another instance raced us to it; the caller reloads afterwards.
    pub async fn insert_signing_key(&self, row: &SigningKeyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, sealed_private_key, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING",
        )
        .bind(&row.kid)
        .bind(&row.algorithm)
        .bind(&row.sealed_private_key)
        .bind(row.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
