//! `auth_codes` and `access_tokens` of the OpenID Provider, stored by hash.

use super::{Store, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthCodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub identity_id: String,
    pub flow_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub struct NewAuthCode<'a> {
    pub code_hash: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub nonce: Option<&'a str>,
    pub scope: &'a str,
    pub identity_id: &'a str,
    pub flow_id: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessTokenRow {
    pub client_id: String,
    pub identity_id: String,
    pub scope: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_auth_code(&self, code: NewAuthCode<'_>) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO auth_codes (code_hash, client_id, redirect_uri, code_challenge, nonce, \
             scope, identity_id, flow_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(code.code_hash)
        .bind(code.client_id)
        .bind(code.redirect_uri)
        .bind(code.code_challenge)
        .bind(code.nonce)
        .bind(code.scope)
        .bind(code.identity_id)
        .bind(code.flow_id)
        .bind(code.now)
        .bind(code.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeRow>> {
        Ok(sqlx::query_as::<_, AuthCodeRow>(
            "SELECT code_hash, client_id, redirect_uri, code_challenge, nonce, scope, identity_id, \
             flow_id, expires_at, used_at FROM auth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Marks the code used; false if it already was (a replay).
    pub async fn use_auth_code(&self, code_hash: &str, now: i64) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(
            "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// On a replayed code, revoke what the first redemption issued (RFC 6749 §4.1.2).
    pub async fn revoke_tokens_of_code(&self, code_hash: &str) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query("DELETE FROM access_tokens WHERE code_hash = $1")
            .bind(code_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn insert_access_token(
        &self,
        token_hash: &str,
        code: &AuthCodeRow,
        expires_at: i64,
    ) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, client_id, identity_id, scope, code_hash, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(&code.client_id)
        .bind(&code.identity_id)
        .bind(&code.scope)
        .bind(&code.code_hash)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<AccessTokenRow>> {
        Ok(sqlx::query_as::<_, AccessTokenRow>(
            "SELECT client_id, identity_id, scope, expires_at FROM access_tokens \
             WHERE token_hash = $1 AND expires_at >= $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }
}
