//! `login_token_routes`: SHA-256(loginToken) → the department that minted it (MSC1730).

use super::{Store, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginTokenRoute {
    pub department: String,
    pub homeserver: String,
}

impl Store {
    pub async fn remember_login_token(
        &self,
        token_hash: &str,
        department: &str,
        homeserver: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        // The same token twice would be a homeserver bug; keep the first answer.
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO login_token_routes (token_hash, department, homeserver, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (token_hash) DO NOTHING",
        )
        .bind(token_hash)
        .bind(department)
        .bind(homeserver)
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn login_token_route(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<LoginTokenRoute>> {
        Ok(sqlx::query_as::<_, LoginTokenRoute>(
            "SELECT department, homeserver FROM login_token_routes \
             WHERE token_hash = $1 AND expires_at >= $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }
}
