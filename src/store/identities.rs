//! `identities`: (department, upstream issuer, upstream subject) → stable bridge user id.

use super::{Store, StoreResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub department: String,
    pub issuer: String,
    pub subject: String,
    pub localpart: String,
    pub display_name: Option<String>,
}

pub struct NewIdentity<'a> {
    pub id: &'a str,
    pub department: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub localpart: &'a str,
    pub display_name: Option<&'a str>,
    pub now: i64,
}

const COLUMNS: &str = "id, department, issuer, subject, localpart, display_name";

impl Store {
    pub async fn identity(&self, id: &str) -> StoreResult<Option<IdentityRow>> {
        Ok(
            sqlx::query_as::<_, IdentityRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM identities WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(self.pool())
            .await?,
        )
    }

    pub async fn identity_by_subject(
        &self,
        department: &str,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<IdentityRow>> {
        Ok(sqlx::query_as::<_, IdentityRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM identities WHERE department = $1 AND issuer = $2 AND subject = $3"
        )))
        .bind(department)
        .bind(issuer)
        .bind(subject)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn identity_by_localpart(
        &self,
        department: &str,
        localpart: &str,
    ) -> StoreResult<Option<IdentityRow>> {
        Ok(
            sqlx::query_as::<_, IdentityRow>(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM identities WHERE department = $1 AND localpart = $2"
            )))
            .bind(department)
            .bind(localpart)
            .fetch_optional(self.pool())
            .await?,
        )
    }

    /// Fails with a unique violation when the localpart is taken in the department
    /// (or the subject already has an identity there).
    pub async fn insert_identity(&self, identity: NewIdentity<'_>) -> StoreResult<()> {
        let _gate = self.write_gate().await;
        sqlx::query(
            "INSERT INTO identities (id, department, issuer, subject, localpart, display_name, \
             created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(identity.id)
        .bind(identity.department)
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(identity.localpart)
        .bind(identity.display_name)
        .bind(identity.now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A returning person: their identity, its login time and display name
    /// updated in the same statement (one round trip on the login path). The
    /// localpart stays as first assigned (it is the Matrix id); the display name
    /// follows the IdP. `None` for someone not seen before.
    pub async fn touch_identity_by_subject(
        &self,
        department: &str,
        issuer: &str,
        subject: &str,
        display_name: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<IdentityRow>> {
        let _gate = self.write_gate().await;
        Ok(
            sqlx::query_as::<_, IdentityRow>(sqlx::AssertSqlSafe(format!(
                "UPDATE identities SET display_name = $4, last_login_at = $5 \
             WHERE department = $1 AND issuer = $2 AND subject = $3 RETURNING {COLUMNS}"
            )))
            .bind(department)
            .bind(issuer)
            .bind(subject)
            .bind(display_name)
            .bind(now)
            .fetch_optional(self.pool())
            .await?,
        )
    }
}
