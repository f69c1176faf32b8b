//! `sessions`: a login's session at one department (the `sid` its homeserver
//! got in the id_token), and `logout_deliveries`: the logout tokens owed to
//! homeservers until they take them.

use super::{Store, StoreResult};

pub struct NewSession<'a> {
    pub sid: &'a str,
    /// The issuer that signs the session's id_token (and so its logout token).
    pub issuer: &'a str,
    pub identity_id: &'a str,
    pub department: &'a str,
    pub upstream_id: Option<&'a str>,
    pub upstream_session_hash: Option<&'a str>,
    pub upstream_name_id_hash: Option<&'a str>,
    pub now: i64,
}

/// A session with the person it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub sid: String,
    pub identity_id: String,
    pub department: String,
    pub upstream_id: Option<String>,
    /// The IdP's session reference (OIDC sid, SAML SessionIndex), hashed.
    pub upstream_session_hash: Option<String>,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub localpart: String,
    /// The person at the IdP: (issuer, subject), the same in every department.
    pub issuer: String,
    pub subject: String,
}

/// Which sessions: the ways an IdP, an admin or a test names them.
#[derive(Debug, Clone)]
pub enum SessionFilter<'a> {
    Sid(&'a str),
    /// The IdP's session reference (OIDC `sid`, SAML SessionIndex), hashed.
    UpstreamSession {
        upstream_id: &'a str,
        session_hash: &'a str,
    },
    /// A SAML NameID, hashed.
    UpstreamNameId {
        upstream_id: &'a str,
        name_id_hash: &'a str,
    },
    /// A person at the IdP, in every department.
    Person {
        issuer: &'a str,
        subject: &'a str,
    },
    /// The person's subject at their IdP, in every department.
    Subject(&'a str),
    /// A person by their localpart at one department.
    Localpart {
        department: &'a str,
        localpart: &'a str,
    },
    Department(&'a str),
    All,
}

/// A logout token owed to a homeserver, claimed by this instance for one attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub sid: String,
    pub department: String,
    pub subject: String,
    pub attempts: i64,
    pub created_at: i64,
    pub give_up_at: i64,
}

const SESSION_COLUMNS: &str = "s.sid, s.identity_id, s.department, s.upstream_id, \
                               s.upstream_session_hash, s.created_at, s.ended_at, i.localpart, \
                               i.issuer, i.subject";

/// How long an ended session and a finished delivery stay, for `sessions` and
/// for an operator asking what happened.
const KEEP_ENDED_SECONDS: i64 = 30 * 24 * 3600;

impl Store {
    /// Forgets sessions ended, and deliveries finished, over 30 days ago (live
    /// sessions stay: their homeserver's devices may live on).
    pub(super) async fn purge_ended_sessions(&self, now: i64) -> StoreResult<u64> {
        let before = now - KEEP_ENDED_SECONDS;
        let _gate = self.write_gate().await;
        let deliveries = sqlx::query(
            "DELETE FROM logout_deliveries WHERE delivered_at < $1 OR given_up_at < $1",
        )
        .bind(before)
        .execute(self.pool())
        .await?
        .rows_affected();
        let sessions = sqlx::query(
            "DELETE FROM sessions WHERE ended_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM logout_deliveries d WHERE d.sid = sessions.sid)",
        )
        .bind(before)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(deliveries + sessions)
    }

    pub async fn insert_session(&self, session: NewSession<'_>) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO sessions (sid, identity_id, department, upstream_id, \
             upstream_session_hash, upstream_name_id_hash, created_at, issuer) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session.sid)
        .bind(session.identity_id)
        .bind(session.department)
        .bind(session.upstream_id)
        .bind(session.upstream_session_hash)
        .bind(session.upstream_name_id_hash)
        .bind(session.now)
        .bind(session.issuer)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The sessions `filter` names, newest first; ended ones only with `ended`.
    pub async fn sessions(
        &self,
        filter: &SessionFilter<'_>,
        ended: bool,
    ) -> StoreResult<Vec<SessionRow>> {
        let (condition, binds): (&str, Vec<&str>) = match filter {
            SessionFilter::Sid(sid) => ("s.sid = $1", vec![sid]),
            SessionFilter::UpstreamSession {
                upstream_id,
                session_hash,
            } => (
                "s.upstream_id = $1 AND s.upstream_session_hash = $2",
                vec![upstream_id, session_hash],
            ),
            SessionFilter::UpstreamNameId {
                upstream_id,
                name_id_hash,
            } => (
                "s.upstream_id = $1 AND s.upstream_name_id_hash = $2",
                vec![upstream_id, name_id_hash],
            ),
            SessionFilter::Person { issuer, subject } => {
                ("i.issuer = $1 AND i.subject = $2", vec![issuer, subject])
            }
            SessionFilter::Subject(subject) => ("i.subject = $1", vec![subject]),
            SessionFilter::Localpart {
                department,
                localpart,
            } => (
                "s.department = $1 AND i.localpart = $2",
                vec![department, localpart],
            ),
            SessionFilter::Department(department) => ("s.department = $1", vec![department]),
            SessionFilter::All => ("1 = 1", vec![]),
        };
        let live = if ended { "" } else { " AND s.ended_at IS NULL" };
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN identities i ON i.id = s.identity_id \
             WHERE {condition}{live} ORDER BY s.created_at DESC, s.sid"
        );
        let mut query = sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// Ends the session and queues its logout token, in one transaction; says
    /// whether it was still live (a session ends once, its delivery is queued once).
    pub async fn end_session(
        &self,
        session: &SessionRow,
        delivery_id: &str,
        now: i64,
        give_up_at: i64,
    ) -> StoreResult<bool> {
        let _gate = self.write_gate().await;
        let mut tx = self.pool().begin().await?;
        let ended =
            sqlx::query("UPDATE sessions SET ended_at = $1 WHERE sid = $2 AND ended_at IS NULL")
                .bind(now)
                .bind(&session.sid)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        if ended {
            sqlx::query(
                "INSERT INTO logout_deliveries (id, sid, department, subject, attempts, \
                 next_attempt_at, claimed_until, created_at, give_up_at, issuer) \
                 SELECT $1, $2, $3, $4, 0, $5, 0, $5, $6, issuer FROM sessions WHERE sid = $2",
            )
            .bind(delivery_id)
            .bind(&session.sid)
            .bind(&session.department)
            .bind(&session.identity_id)
            .bind(now)
            .bind(give_up_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Claims up to `limit` deliveries of `issuer` that are due, for `lease`
    /// seconds: an attempt belongs to the one instance whose claim changed the
    /// row. (An instance serving another issuer could not sign them as the
    /// homeserver expects.)
    pub async fn claim_due_deliveries(
        &self,
        issuer: &str,
        now: i64,
        lease: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRow>> {
        let due: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, claimed_until FROM logout_deliveries \
             WHERE delivered_at IS NULL AND given_up_at IS NULL \
             AND next_attempt_at <= $1 AND claimed_until <= $1 \
             AND (issuer = $3 OR issuer IS NULL) \
             ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .bind(issuer)
        .fetch_all(self.pool())
        .await?;
        let mut claimed = Vec::new();
        for (id, seen_claim) in due {
            let won = {
                let _gate = self.write_gate().await;
                sqlx::query(
                    "UPDATE logout_deliveries SET claimed_until = $1, attempts = attempts + 1 \
                     WHERE id = $2 AND claimed_until = $3 AND delivered_at IS NULL \
                     AND given_up_at IS NULL",
                )
                .bind(now + lease)
                .bind(&id)
                .bind(seen_claim)
                .execute(self.pool())
                .await?
                .rows_affected()
                    == 1
            };
            if won
                && let Some(row) = sqlx::query_as::<_, DeliveryRow>(
                    "SELECT id, sid, department, subject, attempts, created_at, give_up_at \
                     FROM logout_deliveries WHERE id = $1",
                )
                .bind(&id)
                .fetch_optional(self.pool())
                .await?
            {
                claimed.push(row);
            }
        }
        Ok(claimed)
    }

    pub async fn delivery_done(&self, id: &str, now: i64) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "UPDATE logout_deliveries SET delivered_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A failed attempt: tried again at `next_attempt_at`, or given up.
    pub async fn delivery_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: i64,
        give_up: bool,
        now: i64,
    ) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "UPDATE logout_deliveries SET last_error = $1, next_attempt_at = $2, \
             claimed_until = 0, given_up_at = $3 WHERE id = $4",
        )
        .bind(error)
        .bind(next_attempt_at)
        .bind(give_up.then_some(now))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deliveries of `sids` not yet delivered nor given up (to wait for them).
    pub async fn pending_deliveries(
        &self,
        sids: &[String],
    ) -> StoreResult<Vec<(String, Option<String>)>> {
        let mut pending = Vec::new();
        for sid in sids {
            let rows: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT sid, last_error FROM logout_deliveries \
                 WHERE sid = $1 AND delivered_at IS NULL AND given_up_at IS NULL",
            )
            .bind(sid)
            .fetch_all(self.pool())
            .await?;
            pending.extend(rows);
        }
        Ok(pending)
    }

    /// Sessions whose logout was delivered at or after `since`, with their person.
    pub async fn sessions_delivered_since(&self, since: i64) -> StoreResult<Vec<SessionRow>> {
        Ok(sqlx::query_as::<_, SessionRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM logout_deliveries d \
             JOIN sessions s ON s.sid = d.sid JOIN identities i ON i.id = s.identity_id \
             WHERE d.delivered_at >= $1"
        )))
        .bind(since)
        .fetch_all(self.pool())
        .await?)
    }

    /// How each delivery of `sid` ended: (delivered_at, given_up_at, last_error).
    pub async fn delivery_outcome(
        &self,
        sid: &str,
    ) -> StoreResult<Option<(Option<i64>, Option<i64>, Option<String>)>> {
        Ok(sqlx::query_as(
            "SELECT delivered_at, given_up_at, last_error FROM logout_deliveries WHERE sid = $1",
        )
        .bind(sid)
        .fetch_optional(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewIdentity, memory_store};

    async fn person(store: &Store, id: &str, localpart: &str) {
        store
            .insert_identity(NewIdentity {
                id,
                department: "eng",
                issuer: "https://idp",
                subject: id,
                localpart,
                display_name: None,
                now: 0,
            })
            .await
            .unwrap();
    }

    async fn session(store: &Store, sid: &str, identity: &str) -> SessionRow {
        store
            .insert_session(NewSession {
                sid,
                identity_id: identity,
                department: "eng",
                upstream_id: Some("university"),
                upstream_session_hash: None,
                upstream_name_id_hash: None,
                now: 0,
                issuer: "https://bridge",
            })
            .await
            .unwrap();
        store
            .sessions(&SessionFilter::Sid(sid), true)
            .await
            .unwrap()
            .remove(0)
    }

    #[tokio::test]
    async fn a_session_ends_once_its_delivery_is_claimed_once_and_old_ones_are_forgotten() {
        let store = memory_store().await;
        person(&store, "i1", "alice").await;
        person(&store, "i2", "bob").await;
        let ended = session(&store, "s1", "i1").await;
        session(&store, "s2", "i2").await;
        assert!(store.end_session(&ended, "d1", 10, 1000).await.unwrap());
        assert!(
            !store.end_session(&ended, "d2", 11, 1000).await.unwrap(),
            "ends once"
        );
        assert!(
            store
                .claim_due_deliveries("https://other", 10, 10, 32)
                .await
                .unwrap()
                .is_empty(),
            "an instance of another issuer cannot sign it"
        );
        let first = store
            .claim_due_deliveries("https://bridge", 10, 10, 32)
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        assert!(
            store
                .claim_due_deliveries("https://bridge", 12, 10, 32)
                .await
                .unwrap()
                .is_empty(),
            "claimed: no second instance gets it during the lease"
        );
        store.delivery_done("d1", 12).await.unwrap();
        assert!(
            store
                .claim_due_deliveries("https://bridge", 100, 10, 32)
                .await
                .unwrap()
                .is_empty()
        );
        // A month later the ended session and its delivery go; the live one stays.
        let month = KEEP_ENDED_SECONDS + 100;
        assert_eq!(store.purge_ended_sessions(month).await.unwrap(), 2);
        let left = store.sessions(&SessionFilter::All, true).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].sid, "s2");
    }
}
