//! Storage with sqlx: SQLite by default, PostgreSQL for several instances.
//! Nothing here knows about HTTP; every secret arrives already hashed or sealed.

mod assertion_ids;
mod auth_codes;
mod flow_state;
mod flows;
mod identities;
mod login_token_routes;
mod sessions;
mod signing_keys;

pub use auth_codes::{AccessTokenRow, AuthCodeRow, NewAuthCode};
pub use flow_state::{Flow, FlowState, Login, NewFlow, Origin};
pub use identities::{IdentityRow, NewIdentity};
pub use login_token_routes::LoginTokenRoute;
pub use sessions::{DeliveryRow, NewSession, SessionFilter, SessionRow};
pub use signing_keys::SigningKeyRow;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A row that cannot be what it says (an unknown state, a step without its data).
    #[error("a stored row makes no sense: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A unique-constraint violation, which callers may handle (e.g. a taken localpart).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time, and a connection that finds the write
    /// lock taken sleeps in its busy handler (1, 2, 5, 10… ms). This process's
    /// writes queue here instead, which costs microseconds; reads are not held.
    /// (None for PostgreSQL, which has row locks.)
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Store {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let mut pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        if backend == Backend::Sqlite {
            // An in-memory database exists once per connection: keep exactly one.
            if url.contains(":memory:") {
                pool = pool
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            } else {
                pool = pool.max_connections(8);
            }
            // In-process: nothing to test before each use (sqlx's ping would be
            // one more round trip to the connection's thread per query).
            pool = pool.test_before_acquire(false);
            // Per connection: in WAL mode, NORMAL syncs the WAL at checkpoints
            // rather than at every commit (SQLite's advice for WAL; the default,
            // FULL, costs a disk flush per write). The database stays consistent;
            // a power loss may undo the last commits, not a process crash.
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&pool)
                .await?;
        }
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self {
            pool,
            backend,
            writer,
        })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Held for the duration of one write statement (see `writer`).
    pub(crate) async fn write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(writer) => Some(writer.lock().await),
            None => None,
        }
    }

    /// Deletes rows past their expiry; returns how many went.
    pub async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        let mut removed = 0;
        for table in [
            "flows",
            "auth_codes",
            "access_tokens",
            "login_token_routes",
            "assertion_ids",
        ] {
            let _gate = self.write_gate().await;
            removed += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE expires_at < $1"
            )))
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        removed += self.purge_ended_sessions(now).await?;
        Ok(removed)
    }

    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) async fn memory_store() -> Store {
    let store = Store::connect("sqlite::memory:")
        .await
        .expect("in-memory store");
    store.migrate().await.expect("migrations");
    store
}

/// Every text cell of every table, for tests that check no secret is stored in clear.
#[doc(hidden)]
pub async fn debug_dump(store: &Store) -> StoreResult<String> {
    use sqlx::Row;
    let mut out = String::new();
    for (table, columns) in [
        (
            "flows",
            "id || ' ' || browser_hash || ' ' || COALESCE(redirect_url, '') || ' ' || COALESCE(upstream_state_hash, '') || ' ' || COALESCE(pending_authorize, '') || ' ' || COALESCE(pending_confirm, '')",
        ),
        ("auth_codes", "code_hash || ' ' || code_challenge"),
        ("access_tokens", "token_hash"),
        ("login_token_routes", "token_hash"),
        ("signing_keys", "sealed_private_key"),
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {columns} AS cell FROM {table}"
        )))
        .fetch_all(store.pool())
        .await?;
        for row in rows {
            out.push_str(&row.try_get::<String, _>("cell").unwrap_or_default());
            out.push('\n');
        }
    }
    Ok(out)
}
