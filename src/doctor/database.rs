//! The database: reachable, every migration of this binary applied (and none it
//! does not know), and the OpenID Provider's signing key readable with the
//! configured encryption key.

use std::time::Duration;

use rsa::pkcs1::DecodeRsaPrivateKey;
use sqlx::migrate::{Migrate, Migrator};

use super::report::Check;
use crate::config::Config;
use crate::provider::data_at_rest_sealer;
use crate::store::{Backend, Store};

const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

pub struct DatabaseChecks {
    pub checks: Vec<Check>,
    /// Set when the schema is current, so later checks may use the database.
    pub store: Option<Store>,
}

pub async fn check(config: &Config) -> DatabaseChecks {
    let subject = format!("database {}", redacted(&config.database_url));
    let mut checks = Vec::new();
    if let Some(path) = sqlite_file(&config.database_url)
        && !std::path::Path::new(&path).exists()
    {
        checks.push(Check::warn(
            subject,
            format!("the SQLite file {path} does not exist yet"),
            "run `sso-bridge migrate` (or `serve`, which migrates first), or correct `database_url`",
        ));
        return DatabaseChecks {
            checks,
            store: None,
        };
    }
    let url = without_create(&config.database_url);
    let connect = Store::connect(&url);
    let store = match tokio::time::timeout(Duration::from_secs(8), connect).await {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => {
            checks.push(Check::fail(
                subject,
                format!("cannot connect: {e}"),
                "check `database_url`, that the database server runs and that this user may log in",
            ));
            return DatabaseChecks {
                checks,
                store: None,
            };
        }
        Err(_) => {
            checks.push(Check::fail(
                subject,
                "no answer within 8 s",
                "check `database_url` and the network path to the database server",
            ));
            return DatabaseChecks {
                checks,
                store: None,
            };
        }
    };
    checks.push(Check::ok(
        subject,
        match store.backend() {
            Backend::Sqlite => "reachable (SQLite)",
            Backend::Postgres => "reachable (PostgreSQL)",
        },
    ));
    let (migrations, current) = migrations(&store).await;
    checks.push(migrations);
    if !current {
        checks.push(Check::warn(
            "OpenID Provider signing key",
            "not checked: the schema is not current",
            "fix the migrations first",
        ));
        return DatabaseChecks {
            checks,
            store: None,
        };
    }
    checks.push(signing_key(&store, config).await);
    DatabaseChecks {
        checks,
        store: Some(store),
    }
}

/// Compares this binary's embedded migrations with `_sqlx_migrations`; the flag
/// says whether the schema is exactly what this binary expects.
async fn migrations(store: &Store) -> (Check, bool) {
    let subject = "database migrations";
    let migrator = match store.backend() {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    };
    let known: Vec<_> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .collect();
    let fail = |detail: String| {
        (
            Check::fail(
                subject,
                detail,
                "check the database's history; `sso-bridge migrate` applies what is missing",
            ),
            false,
        )
    };
    match migrations_table_exists(store).await {
        Ok(true) => {}
        Ok(false) => {
            return (
                Check::warn(
                    subject,
                    format!("none of {} applied (an empty database)", known.len()),
                    "run `sso-bridge migrate` (or `serve`, which migrates first)",
                ),
                false,
            );
        }
        Err(e) => return fail(format!("cannot read {MIGRATIONS_TABLE}: {e}")),
    }
    let mut connection = match store.pool().acquire().await {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot read {MIGRATIONS_TABLE}: {e}")),
    };
    match connection.dirty_version(MIGRATIONS_TABLE).await {
        Ok(None) => {}
        Ok(Some(version)) => {
            return (
                Check::fail(
                    subject,
                    format!("migration {version} started and failed (the schema is half-changed)"),
                    "restore the database from a backup, or repair it by hand and delete that row of _sqlx_migrations",
                ),
                false,
            );
        }
        Err(e) => return fail(format!("cannot read {MIGRATIONS_TABLE}: {e}")),
    }
    let applied = match connection.list_applied_migrations(MIGRATIONS_TABLE).await {
        Ok(a) => a,
        Err(e) => return fail(format!("cannot read {MIGRATIONS_TABLE}: {e}")),
    };
    let unknown: Vec<String> = applied
        .iter()
        .filter(|a| !known.iter().any(|m| m.version == a.version))
        .map(|a| a.version.to_string())
        .collect();
    if !unknown.is_empty() {
        return (
            Check::fail(
                subject,
                format!(
                    "the database has migration(s) {} that this sso-bridge {} does not know: its schema is newer",
                    unknown.join(", "),
                    env!("CARGO_PKG_VERSION")
                ),
                "run the sso-bridge version that migrated it (or newer); never point an older binary at a newer schema",
            ),
            false,
        );
    }
    let changed: Vec<String> = known
        .iter()
        .filter(|m| {
            applied
                .iter()
                .any(|a| a.version == m.version && a.checksum != m.checksum)
        })
        .map(|m| m.version.to_string())
        .collect();
    if !changed.is_empty() {
        return fail(format!(
            "migration(s) {} were applied from a different text than this binary carries",
            changed.join(", ")
        ));
    }
    let pending: Vec<String> = known
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    if !pending.is_empty() {
        return (
            Check::warn(
                subject,
                format!("{} pending: {}", pending.len(), pending.join(", ")),
                "run `sso-bridge migrate` (or restart `serve`, which migrates first)",
            ),
            false,
        );
    }
    let latest = known
        .last()
        .map(|m| format!(", latest {} {}", m.version, m.description))
        .unwrap_or_default();
    (
        Check::ok(subject, format!("all {} applied{latest}", known.len())),
        true,
    )
}

async fn migrations_table_exists(store: &Store) -> Result<bool, sqlx::Error> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let count: i64 = sqlx::query_scalar(sql).fetch_one(store.pool()).await?;
    Ok(count > 0)
}

/// Every key kept must open: the bridge loads them all at start. Only the two
/// columns every schema version has are read.
async fn signing_key(store: &Store, config: &Config) -> Check {
    let subject = "OpenID Provider signing key";
    let rows: Vec<(String, String)> =
        match sqlx::query_as("SELECT kid, sealed_private_key FROM signing_keys ORDER BY kid")
            .fetch_all(store.pool())
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                return Check::fail(
                    subject,
                    format!("cannot read signing_keys: {e}"),
                    "check the database user's rights",
                );
            }
        };
    if rows.is_empty() {
        return Check::warn(
            subject,
            "none yet",
            "`sso-bridge serve` creates it at first start",
        );
    }
    let sealer = data_at_rest_sealer(config);
    for (kid, sealed) in &rows {
        let usable = sealer
            .open(sealed)
            .ok()
            .and_then(|pem| String::from_utf8(pem).ok())
            .is_some_and(|pem| rsa::RsaPrivateKey::from_pkcs1_pem(&pem).is_ok());
        if !usable {
            return Check::fail(
                subject,
                format!(
                    "key {kid} cannot be decrypted with `secrets.encryption_key`: it was sealed with another key"
                ),
                "set `secrets.encryption_key` back to the key the bridge first ran with (`serve` refuses to start like this)",
            );
        }
    }
    let kids: Vec<&str> = rows.iter().map(|(kid, _)| kid.as_str()).collect();
    Check::ok(
        subject,
        format!(
            "{} key(s) ({}) decrypt with `secrets.encryption_key`",
            rows.len(),
            kids.join(", ")
        ),
    )
}

/// The database URL without its password, for display.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The file behind a SQLite URL, unless it is in memory.
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_owned())
}

/// The doctor looks; it never creates a SQLite file (`Store` would, with `rwc`).
fn without_create(url: &str) -> String {
    if sqlite_file(url).is_some() && !url.contains("mode=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rw")
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn statuses(checks: &[Check]) -> Vec<Status> {
        checks.iter().map(|c| c.status).collect()
    }

    #[tokio::test]
    async fn migrations_missing_pending_and_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bridge.db");
        let mut config = Config::parse(crate::config::SAMPLE).unwrap();
        config.database_url = format!("sqlite:{}", file.display());

        let missing = check(&config).await;
        assert_eq!(statuses(&missing.checks), [Status::Warn]);
        assert!(!file.exists(), "the doctor never creates the database");

        let store = Store::connect(&config.database_url).await.unwrap();
        store.migrate().await.unwrap();
        let current = check(&config).await;
        // No signing key until the first `serve`.
        assert_eq!(
            statuses(&current.checks),
            [Status::Ok, Status::Ok, Status::Warn]
        );
        assert!(current.store.is_some());

        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, x'00', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let newer = check(&config).await;
        assert_eq!(newer.checks[1].status, Status::Fail);
        assert!(
            newer.checks[1].detail.contains("99990101000000"),
            "{}",
            newer.checks[1]
        );
        assert!(newer.checks[1].detail.contains("newer"));
        assert!(newer.store.is_none());

        // Back to this binary's history, minus its latest migration.
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version >= (SELECT MAX(version) FROM _sqlx_migrations WHERE version < 99990101000000)")
            .execute(store.pool())
            .await
            .unwrap();
        let pending = check(&config).await;
        assert_eq!(pending.checks[1].status, Status::Warn);
        assert!(
            pending.checks[1].detail.starts_with("1 pending"),
            "{}",
            pending.checks[1]
        );
        assert!(pending.store.is_none());
    }

    #[test]
    fn urls() {
        assert_eq!(
            redacted("postgres://bridge:hunter2@db/sso"),
            "postgres://bridge:***@db/sso"
        );
        assert_eq!(redacted("sqlite:/var/lib/b.db"), "sqlite:/var/lib/b.db");
        assert_eq!(
            sqlite_file("sqlite:/a/b.db?x=1").as_deref(),
            Some("/a/b.db")
        );
        assert_eq!(sqlite_file("sqlite://b.db").as_deref(), Some("b.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/sso"), None);
        assert_eq!(without_create("sqlite:/a.db"), "sqlite:/a.db?mode=rw");
        assert_eq!(
            without_create("sqlite:/a.db?mode=ro"),
            "sqlite:/a.db?mode=ro"
        );
    }
}
