//! `flows`: one row per login in progress. State changes are compare-and-set on
//! the current state, so a step can never run twice; what a row means is in
//! `flow_state`.

use super::flow_state::{CLIENT, FlowRow, HOMESERVER, StateName};
use super::{Flow, NewFlow, Origin, Store, StoreError, StoreResult};
use crate::ids::{DepartmentId, FlowId, IdentityId, UpstreamId};

const COLUMNS: &str = "id, browser_hash, origin, redirect_url, department, state, upstream_id, \
                       pending_authorize, identity_id, failure, upstream_session_hash, \
                       upstream_name_id_hash, created_at, expires_at";

impl Store {
    pub async fn insert_flow(&self, flow: NewFlow<'_>) -> StoreResult<()> {
        self.insert_flow_row(flow, "").await.map(drop)
    }

    /// Inserts the flow unless a row with its id exists; says whether it did.
    pub async fn insert_flow_if_absent(&self, flow: NewFlow<'_>) -> StoreResult<bool> {
        let inserted = self
            .insert_flow_row(flow, " ON CONFLICT (id) DO NOTHING")
            .await?;
        Ok(inserted == 1)
    }

    /// The INSERT, with what to do on a conflict (`""`: fail); rows inserted.
    async fn insert_flow_row(&self, flow: NewFlow<'_>, on_conflict: &str) -> StoreResult<u64> {
        let (origin, redirect_url, pending_authorize) = match flow.origin {
            Origin::Client { redirect_url } => (CLIENT, Some(redirect_url.as_str()), None),
            Origin::Homeserver { pending_authorize } => {
                (HOMESERVER, None, Some(pending_authorize.as_str()))
            }
        };
        let _gate = self.write_gate().await;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO flows (id, browser_hash, origin, redirect_url, pending_authorize, \
             department, state, created_at, updated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, '{started}', $7, $7, $8){on_conflict}",
            started = StateName::Started.as_str()
        )))
        .bind(flow.id.as_str())
        .bind(flow.browser_hash)
        .bind(origin)
        .bind(redirect_url)
        .bind(pending_authorize)
        .bind(flow.department.map(DepartmentId::as_str))
        .bind(flow.now)
        .bind(flow.expires_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A flow that has not expired.
    pub async fn flow(&self, id: &FlowId, now: i64) -> StoreResult<Option<Flow>> {
        let row = sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM flows WHERE id = $1 AND expires_at >= $2"
        )))
        .bind(id.as_str())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        read(row)
    }

    /// The live flow waiting for the IdP's answer to the request whose
    /// correlation (OIDC `state`, SAML request ID) hashes to `state_hash`.
    pub async fn flow_by_upstream_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<Option<Flow>> {
        let row = sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM flows WHERE upstream_state_hash = $1 AND expires_at >= $2"
        )))
        .bind(state_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        read(row)
    }

    /// The newest flow of this browser that is authenticated for `department` and
    /// waits for that department's homeserver to come to `authorize`.
    pub async fn authenticated_flow_for(
        &self,
        browser_hash: &str,
        department: &DepartmentId,
        now: i64,
    ) -> StoreResult<Option<Flow>> {
        let row = sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM flows WHERE browser_hash = $1 AND department = $2 \
             AND state = '{authenticated}' AND expires_at >= $3 \
             ORDER BY updated_at DESC, created_at DESC LIMIT 1",
            authenticated = StateName::Authenticated.as_str()
        )))
        .bind(browser_hash)
        .bind(department.as_str())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        read(row)
    }

    /// `started` (or `upstream`: the user went back and picked again) →
    /// `upstream`, with the department, its IdP and the request's correlation.
    pub async fn flow_to_upstream(
        &self,
        id: &FlowId,
        department: &DepartmentId,
        upstream: &UpstreamId,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flows SET state = '{}', department = $1, upstream_id = $2, \
             upstream_state_hash = $3, updated_at = $4 \
             WHERE id = $5 AND state IN ('{}', '{}') AND expires_at >= $4",
            StateName::Upstream.as_str(),
            StateName::Started.as_str(),
            StateName::Upstream.as_str()
        )))
        .bind(department.as_str())
        .bind(upstream.as_str())
        .bind(state_hash)
        .bind(now)
        .bind(id.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `upstream` → `authenticated`: the IdP vouched for the user, with the
    /// identity and the IdP's (hashed) names for this login.
    pub async fn authenticate_flow(
        &self,
        id: &FlowId,
        identity: &IdentityId,
        upstream_session_hash: Option<&str>,
        upstream_name_id_hash: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flows SET state = '{}', identity_id = $1, \
             upstream_session_hash = $2, upstream_name_id_hash = $3, \
             upstream_state_hash = NULL, updated_at = $4 \
             WHERE id = $5 AND state = '{}' AND expires_at >= $4",
            StateName::Authenticated.as_str(),
            StateName::Upstream.as_str()
        )))
        .bind(identity.as_str())
        .bind(upstream_session_hash)
        .bind(upstream_name_id_hash)
        .bind(now)
        .bind(id.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `authenticated` → `authorized`: a code went to the homeserver (one per login).
    pub async fn authorize_flow(&self, id: &FlowId, now: i64) -> StoreResult<bool> {
        self.advance_flow(id, StateName::Authenticated, StateName::Authorized, now)
            .await
    }

    /// `authorized` → `completed`: the homeserver's login went on to its client.
    pub async fn complete_flow(&self, id: &FlowId, now: i64) -> StoreResult<bool> {
        self.advance_flow(id, StateName::Authorized, StateName::Completed, now)
            .await
    }

    /// `from` → `to`, only if the flow is still in `from` and alive.
    async fn advance_flow(
        &self,
        id: &FlowId,
        from: StateName,
        to: StateName,
        now: i64,
    ) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(
            "UPDATE flows SET state = $1, updated_at = $2 \
             WHERE id = $3 AND state = $4 AND expires_at >= $2",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(id.as_str())
        .bind(from.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps the sealed client URL behind the confirmation page of a completed flow.
    pub async fn set_pending_confirm(&self, id: &FlowId, sealed: &str) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query("UPDATE flows SET pending_confirm = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the sealed client URL of a live flow, once: read, then cleared only
    /// if still the same (compare-and-set), so two requests cannot both take it.
    pub async fn take_pending_confirm(&self, id: &FlowId, now: i64) -> StoreResult<Option<String>> {
        let sealed: Option<(Option<String>,)> =
            sqlx::query_as("SELECT pending_confirm FROM flows WHERE id = $1 AND expires_at >= $2")
                .bind(id.as_str())
                .bind(now)
                .fetch_optional(self.pool())
                .await?;
        let Some((Some(sealed),)) = sealed else {
            return Ok(None);
        };
        let _gate = self.write_gate().await;
        let done = sqlx::query(
            "UPDATE flows SET pending_confirm = NULL, updated_at = $1 \
             WHERE id = $2 AND pending_confirm = $3",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(&sealed)
        .execute(self.pool())
        .await?;
        Ok((done.rows_affected() == 1).then_some(sealed))
    }

    /// Any step but `completed` → `failed`, with the reason.
    pub async fn fail_flow(&self, id: &FlowId, reason: &str, now: i64) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flows SET state = '{}', failure = $1, upstream_state_hash = NULL, \
             updated_at = $2 WHERE id = $3 AND state <> '{}'",
            StateName::Failed.as_str(),
            StateName::Completed.as_str()
        )))
        .bind(reason)
        .bind(now)
        .bind(id.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// A row read back as a login, or the error that says why it cannot be one.
fn read(row: Option<FlowRow>) -> StoreResult<Option<Flow>> {
    row.map(Flow::try_from)
        .transpose()
        .map_err(StoreError::Corrupt)
}
