//! `assertion_ids`: the SAML replay cache.

use super::{Store, StoreResult};

impl Store {
    /// Records a verified assertion; false if it was seen before (a replay).
    pub async fn remember_assertion(
        &self,
        idp: &str,
        assertion_id: &str,
        expires_at: i64,
    ) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(
            "INSERT INTO assertion_ids (idp, assertion_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (idp, assertion_id) DO NOTHING",
        )
        .bind(idp)
        .bind(assertion_id)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
