//! The database: one handle over SQLite (embedded default) or PostgreSQL (several nodes).
//!
//! Concrete pools, not sqlx's `Any` driver, so each side keeps its native types; the SQL text
//! is shared where it can be (`$1` placeholders work on both). Each backend has its own
//! migration folder; both are embedded in the binary. Holds no provisioning rule: that is the
//! core's (`crate::provisioning`). Depends on `domain` only.

pub mod accounts;
pub mod audit;
pub mod billing;
pub mod consents;
pub mod feed;
pub mod filter;
pub mod inventory;
pub mod jobs;
pub mod labels;
pub mod numbers;
pub mod outbox;
pub mod repeatability;
pub mod reports;
pub mod routing;
mod service_columns;
pub mod sessions;
pub mod settings;
pub mod tokens;
mod tx;
pub mod uploads;
pub mod users;
pub mod verification;
pub mod webhooks;

pub use tx::{commits, Tx};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite:// or postgres:// (got scheme `{0}`)")]
    UnsupportedScheme(String),
    #[error("cannot create the folder {path} for the SQLite database: {source}")]
    CreateFolder {
        path: String,
        source: std::io::Error,
    },
    #[error("migrating the {database} database failed: {source}")]
    Migrate {
        database: &'static str,
        source: sqlx::migrate::MigrateError,
    },
    #[error("{0}")]
    SchemaUnknown(SchemaState),
    #[error("there is no database at {0} (check DATABASE_URL or --database-url)")]
    NoDatabase(String),
    #[error("the database has no Numbat schema (no migration applied): nothing to back up")]
    BackupEmpty,
    #[error("{0} exists: a backup never overwrites a file; name a new one")]
    BackupExists(String),
    #[error("cannot write the backup {path}: {source}")]
    BackupWrite {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "numbat backup copies SQLite databases; back up PostgreSQL with pg_dump (see docs/operations.md)"
    )]
    BackupNotSqlite,
    #[error("{0}: a backup's folder must exist and its path be UTF-8")]
    BackupPath(String),
    #[error("stored data cannot be read back ({0})")]
    Corrupt(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// Where a database's schema stands against the migrations built into this binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaState {
    /// Every migration this binary has is applied, and no other.
    Current { version: i64 },
    /// Migrations to apply; `numbat migrate` (or any command that opens the database) does.
    Behind { version: i64, pending: Vec<i64> },
    /// Migrations this binary does not have were applied: a newer release ran here.
    Ahead { known: i64, unknown: Vec<i64> },
    /// A migration applied here is not the text this binary has under that version.
    Changed { versions: Vec<i64> },
    /// A migration started here and did not finish.
    Failed { version: i64 },
}

impl SchemaState {
    /// Whether this binary may run on the database as it is (after applying what is pending).
    pub fn is_known(&self) -> bool {
        matches!(self, Self::Current { .. } | Self::Behind { .. })
    }
}

fn versions(list: &[i64]) -> String {
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for SchemaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Current { version } => {
                write!(f, "the schema is up to date (migration {version})")
            }
            Self::Behind { version, pending } => write!(
                f,
                "the schema is at migration {version}; this binary has {} more to apply ({}): \
                 run `numbat migrate`",
                pending.len(),
                versions(pending)
            ),
            Self::Ahead { known, unknown } => write!(
                f,
                "the database has migrations this binary does not know ({}), applied by a newer \
                 release; this binary knows up to migration {known}. Run the release that \
                 applied them (or newer), or restore a backup taken before they were applied",
                versions(unknown)
            ),
            Self::Changed { versions: changed } => write!(
                f,
                "migrations {} applied to this database differ from this binary's; it was \
                 migrated by a different build. Run that build, or restore a backup",
                versions(changed)
            ),
            Self::Failed { version } => write!(
                f,
                "migration {version} started on this database and did not finish; restore a \
                 backup taken before it"
            ),
        }
    }
}

/// A pool on one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    /// Opens a pool for `url`. A SQLite file that does not exist yet is created, with its folder.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite(connect_sqlite(url).await?)),
            "postgres" | "postgresql" => {
                // Batched statements (a chunk's 1,000 keys) are prepared once per connection;
                // a plan made generic while a table was small (a seq scan) would stay as it
                // grows. Each execution is planned for its values instead.
                let options = sqlx::postgres::PgConnectOptions::from_str(url)?
                    .options([("plan_cache_mode", "force_custom_plan")]);
                Ok(Self::Postgres(
                    PgPoolOptions::new()
                        .max_connections(16)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_with(options)
                        .await?,
                ))
            }
            other => Err(StoreError::UnsupportedScheme(other.to_owned())),
        }
    }

    /// Opens a pool for `url` only if the database is there: a SQLite file that does not exist
    /// is an error, never created (for commands that read what exists, such as a backup).
    pub async fn connect_existing(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") && !is_in_memory(url) {
            let options = SqliteConnectOptions::from_str(url)?;
            let file = options.get_filename();
            if !file.is_file() {
                return Err(StoreError::NoDatabase(file.display().to_string()));
            }
        }
        Self::connect(url).await
    }

    /// `sqlite` or `postgres`, for logs and health reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Applies every embedded migration not yet applied; returns the schema version after.
    /// Refuses, changing nothing, a database with migrations this binary does not know.
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        let state = self.schema_state().await?;
        if !state.is_known() {
            return Err(StoreError::SchemaUnknown(state));
        }
        let database = self.kind();
        let result = match self {
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|source| StoreError::Migrate { database, source })?;
        self.schema_version().await
    }

    /// Compares the migrations applied here with the binary's, changing nothing.
    pub async fn schema_state(&self) -> Result<SchemaState, StoreError> {
        let migrator = match self {
            Self::Sqlite(_) => &SQLITE_MIGRATIONS,
            Self::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        let ours: Vec<(i64, Vec<u8>)> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, m.checksum.to_vec()))
            .collect();
        let all = self.applied_migrations().await?;
        if let Some((version, _, _)) = all.iter().find(|(_, _, success)| !success) {
            return Ok(SchemaState::Failed { version: *version });
        }
        let applied: Vec<(i64, Vec<u8>)> = all.into_iter().map(|(v, sum, _)| (v, sum)).collect();
        let version = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
        let unknown: Vec<i64> = applied
            .iter()
            .filter(|(v, _)| !ours.iter().any(|(o, _)| o == v))
            .map(|(v, _)| *v)
            .collect();
        if !unknown.is_empty() {
            let known = ours.iter().map(|(v, _)| *v).max().unwrap_or(0);
            return Ok(SchemaState::Ahead { known, unknown });
        }
        let changed: Vec<i64> = applied
            .iter()
            .filter(|(v, sum)| ours.iter().any(|(o, ours)| o == v && ours != sum))
            .map(|(v, _)| *v)
            .collect();
        if !changed.is_empty() {
            return Ok(SchemaState::Changed { versions: changed });
        }
        let pending: Vec<i64> = ours
            .iter()
            .filter(|(o, _)| !applied.iter().any(|(v, _)| v == o))
            .map(|(o, _)| *o)
            .collect();
        Ok(if pending.is_empty() {
            SchemaState::Current { version }
        } else {
            SchemaState::Behind { version, pending }
        })
    }

    /// The migrations recorded here (version, checksum, finished); none on an empty database.
    async fn applied_migrations(&self) -> Result<Vec<(i64, Vec<u8>, bool)>, StoreError> {
        const SQLITE_HAS: &str =
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'";
        // Resolved through search_path, as the read below and sqlx's migrator resolve it.
        const POSTGRES_HAS: &str =
            "SELECT CASE WHEN to_regclass('_sqlx_migrations') IS NULL THEN 0 ELSE 1 END";
        const APPLIED: &str =
            "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";
        Ok(match self {
            Self::Sqlite(pool) => {
                let has: i64 = sqlx::query_scalar(SQLITE_HAS).fetch_one(pool).await?;
                if has == 0 {
                    return Ok(Vec::new());
                }
                sqlx::query_as(APPLIED).fetch_all(pool).await?
            }
            Self::Postgres(pool) => {
                let has: i32 = sqlx::query_scalar(POSTGRES_HAS).fetch_one(pool).await?;
                if has == 0 {
                    return Ok(Vec::new());
                }
                sqlx::query_as(APPLIED).fetch_all(pool).await?
            }
        })
    }

    /// The highest migration version applied successfully, 0 on an empty database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        let version = match self {
            Self::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await?,
            Self::Postgres(pool) => sqlx::query_scalar(SQL).fetch_one(pool).await?,
        };
        Ok(version)
    }

    /// Proves the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            Self::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Writes a consistent copy of a SQLite database to the new file `to` while writers go on
    /// (`VACUUM INTO` reads one snapshot). The copy is written beside `to` under a temporary
    /// name readable by its owner only, flushed to disk, then linked to `to` (which must not
    /// exist), so `to` is complete or absent. Put it where the server's database was, with the
    /// server stopped, to restore it.
    pub async fn backup_to(&self, to: &std::path::Path) -> Result<(), StoreError> {
        let Self::Sqlite(pool) = self else {
            return Err(StoreError::BackupNotSqlite);
        };
        if matches!(
            self.schema_state().await?,
            SchemaState::Behind { version: 0, .. }
        ) {
            return Err(StoreError::BackupEmpty);
        }
        let shown = to.display().to_string();
        // An absolute path in an existing folder: never read by SQLite as a `file:` URI.
        let (Some(folder), Some(name)) = (to.parent(), to.file_name()) else {
            return Err(StoreError::BackupPath(shown));
        };
        let folder = if folder.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            folder
        };
        let folder =
            std::fs::canonicalize(folder).map_err(|_| StoreError::BackupPath(shown.clone()))?;
        let target = folder.join(name);
        if target.symlink_metadata().is_ok() {
            return Err(StoreError::BackupExists(shown));
        }
        let mut partial_name = std::ffi::OsString::from(".");
        partial_name.push(name);
        partial_name.push(format!(".partial-{}", std::process::id()));
        let partial = folder.join(partial_name);
        let write = |source| StoreError::BackupWrite {
            path: shown.clone(),
            source,
        };
        let copied = async {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options.open(&partial).map_err(write)?;
            let path = partial
                .to_str()
                .ok_or(StoreError::BackupPath(shown.clone()))?;
            sqlx::query("VACUUM INTO $1")
                .bind(path)
                .execute(pool)
                .await?;
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all())
                .map_err(write)?;
            // A link, not a rename: it fails, rather than replaces, when `to` appeared meanwhile.
            std::fs::hard_link(&partial, &target).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => StoreError::BackupExists(shown.clone()),
                _ => write(e),
            })?;
            std::fs::File::open(&folder)
                .and_then(|f| f.sync_all())
                .map_err(write)?;
            Ok(())
        }
        .await;
        let _ = std::fs::remove_file(&partial);
        copied
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let file = options.get_filename();
    if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !is_in_memory(url) && !folder.exists() {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::CreateFolder {
                path: folder.display().to_string(),
                source,
            })?;
        }
    }
    Ok(SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?)
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}
