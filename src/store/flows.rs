//! `flows`: one row per login in progress. State changes are compare-and-set on
//! the current state, so a step can never run twice.

use super::{Store, StoreResult};

/// Where a login is. The one place its column values are written: every
/// query here binds `as_str()`, and rows are read back through `TryFrom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowState {
    /// Stored when the department is chosen; before, the login is not stored.
    Started,
    /// Sent to the department's IdP, waiting for its answer.
    Upstream,
    /// The IdP vouched for the user; the homeserver's `authorize` comes next.
    Authenticated,
    /// A code was issued to the department's homeserver.
    Authorized,
    /// The homeserver's login token went to the client.
    Completed,
    /// Ended by a refusal; kept for "Start again" and the operator.
    Failed,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Upstream => "upstream",
            Self::Authenticated => "authenticated",
            Self::Authorized => "authorized",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

impl TryFrom<String> for FlowState {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        [
            Self::Started,
            Self::Upstream,
            Self::Authenticated,
            Self::Authorized,
            Self::Completed,
            Self::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == value)
        .ok_or_else(|| format!("unknown flow state {value:?}"))
    }
}

/// How a login began: a Matrix client at the bridge, or a department
/// homeserver's `authorize` (the user opened the homeserver directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Client,
    Homeserver,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Homeserver => "homeserver",
        }
    }
}

impl TryFrom<String> for Origin {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "client" => Ok(Self::Client),
            "homeserver" => Ok(Self::Homeserver),
            _ => Err(format!("unknown flow origin {value:?}")),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlowRow {
    pub id: String,
    pub browser_hash: String,
    #[sqlx(try_from = "String")]
    pub origin: Origin,
    pub redirect_url: Option<String>,
    pub department: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: FlowState,
    pub upstream_id: Option<String>,
    pub pending_authorize: Option<String>,
    pub identity_id: Option<String>,
    pub failure: Option<String>,
    /// The IdP's session reference and NameID of this login, hashed (single logout).
    pub upstream_session_hash: Option<String>,
    pub upstream_name_id_hash: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub struct NewFlow<'a> {
    pub id: &'a str,
    pub browser_hash: &'a str,
    pub origin: Origin,
    pub redirect_url: Option<&'a str>,
    pub department: Option<&'a str>,
    pub state: FlowState,
    pub now: i64,
    pub expires_at: i64,
}

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
        let _gate = self.write_gate().await;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO flows (id, browser_hash, origin, redirect_url, department, state, \
             created_at, updated_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8){on_conflict}"
        )))
        .bind(flow.id)
        .bind(flow.browser_hash)
        .bind(flow.origin.as_str())
        .bind(flow.redirect_url)
        .bind(flow.department)
        .bind(flow.state.as_str())
        .bind(flow.now)
        .bind(flow.expires_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// A flow that has not expired.
    pub async fn flow(&self, id: &str, now: i64) -> StoreResult<Option<FlowRow>> {
        Ok(sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM flows WHERE id = $1 AND expires_at >= $2"
        )))
        .bind(id)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn flow_by_upstream_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<Option<FlowRow>> {
        Ok(sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM flows WHERE upstream_state_hash = $1 AND expires_at >= $2"
        )))
        .bind(state_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The newest flow of this browser that is authenticated for `department` and
    /// waits for that department's homeserver to come to `authorize`.
    pub async fn authenticated_flow_for(
        &self,
        browser_hash: &str,
        department: &str,
        now: i64,
    ) -> StoreResult<Option<FlowRow>> {
        Ok(sqlx::query_as::<_, FlowRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM flows WHERE browser_hash = $1 AND department = $2 \
             AND state = '{authenticated}' AND expires_at >= $3 \
             ORDER BY updated_at DESC, created_at DESC LIMIT 1",
            authenticated = FlowState::Authenticated.as_str()
        )))
        .bind(browser_hash)
        .bind(department)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records the chosen department and the upstream request; allowed again while
    /// the flow has not come back from upstream (the user may go back and pick again).
    pub async fn flow_to_upstream(
        &self,
        id: &str,
        department: &str,
        upstream_id: &str,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flows SET state = '{}', department = $1, upstream_id = $2, \
             upstream_state_hash = $3, updated_at = $4 \
             WHERE id = $5 AND state IN ('{}', '{}') AND expires_at >= $4",
            FlowState::Upstream.as_str(),
            FlowState::Started.as_str(),
            FlowState::Upstream.as_str()
        )))
        .bind(department)
        .bind(upstream_id)
        .bind(state_hash)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_pending_authorize(&self, id: &str, sealed: &str) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query("UPDATE flows SET pending_authorize = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// `from` → `to`, only if the flow is still in `from` and alive. The upstream
    /// state is cleared on every transition so a callback can be used only once.
    pub async fn advance_flow(
        &self,
        id: &str,
        from: FlowState,
        to: FlowState,
        identity_id: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(
            "UPDATE flows SET state = $1, identity_id = COALESCE($2, identity_id), \
             upstream_state_hash = NULL, updated_at = $3 \
             WHERE id = $4 AND state = $5 AND expires_at >= $3",
        )
        .bind(to.as_str())
        .bind(identity_id)
        .bind(now)
        .bind(id)
        .bind(from.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The homeserver's login went on to its client: `authorized` → `completed`.
    pub async fn complete_flow(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.advance_flow(id, FlowState::Authorized, FlowState::Completed, None, now)
            .await
    }

    /// The IdP vouched for the user: the flow moves from `upstream` to
    /// `authenticated`, with the identity and the IdP's (hashed) session names.
    pub async fn authenticate_flow(
        &self,
        id: &str,
        identity_id: &str,
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
            FlowState::Authenticated.as_str(),
            FlowState::Upstream.as_str()
        )))
        .bind(identity_id)
        .bind(upstream_session_hash)
        .bind(upstream_name_id_hash)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keeps the sealed client URL behind the confirmation page of a completed flow.
    pub async fn set_pending_confirm(&self, id: &str, sealed: &str) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query("UPDATE flows SET pending_confirm = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the sealed client URL of a live flow, once: read, then cleared only
    /// if still the same (compare-and-set), so two requests cannot both take it.
    pub async fn take_pending_confirm(&self, id: &str, now: i64) -> StoreResult<Option<String>> {
        let sealed: Option<(Option<String>,)> =
            sqlx::query_as("SELECT pending_confirm FROM flows WHERE id = $1 AND expires_at >= $2")
                .bind(id)
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
        .bind(id)
        .bind(&sealed)
        .execute(self.pool())
        .await?;
        Ok((done.rows_affected() == 1).then_some(sealed))
    }

    pub async fn fail_flow(&self, id: &str, reason: &str, now: i64) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE flows SET state = '{}', failure = $1, upstream_state_hash = NULL, \
             updated_at = $2 WHERE id = $3 AND state <> '{}'",
            FlowState::Failed.as_str(),
            FlowState::Completed.as_str()
        )))
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_origin_reads_back_as_written_and_nothing_else_reads() {
        for state in [
            FlowState::Started,
            FlowState::Upstream,
            FlowState::Authenticated,
            FlowState::Authorized,
            FlowState::Completed,
            FlowState::Failed,
        ] {
            assert_eq!(FlowState::try_from(state.as_str().to_owned()), Ok(state));
        }
        for origin in [Origin::Client, Origin::Homeserver] {
            assert_eq!(Origin::try_from(origin.as_str().to_owned()), Ok(origin));
        }
        assert!(FlowState::try_from("Started".to_owned()).is_err());
        assert!(Origin::try_from(String::new()).is_err());
    }
}
