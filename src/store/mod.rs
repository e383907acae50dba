//! The database: one handle over SQLite (embedded default) or PostgreSQL (several nodes).
//!
//! Concrete pools, not sqlx's `Any` driver, so each side keeps its native types; the SQL text
//! is shared where it can be (`$1` placeholders work on both). Each backend has its own
//! migration folder; both are embedded in the binary. Holds no provisioning rule: that is the
//! core's (`crate::provisioning`). Depends on `domain` only.

pub mod accounts;
pub mod audit;
pub mod consents;
pub mod filter;
pub mod jobs;
pub mod numbers;
pub mod outbox;
pub mod repeatability;
pub mod routing;
mod service_columns;
pub mod sessions;
pub mod settings;
pub mod tokens;
mod tx;
pub mod uploads;
pub mod users;

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
    #[error("stored data cannot be read back ({0})")]
    Corrupt(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
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
            "postgres" | "postgresql" => Ok(Self::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?,
            )),
            other => Err(StoreError::UnsupportedScheme(other.to_owned())),
        }
    }

    /// `sqlite` or `postgres`, for logs and health reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Applies every embedded migration not yet applied; returns the schema version after.
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        let database = self.kind();
        let result = match self {
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|source| StoreError::Migrate { database, source })?;
        self.schema_version().await
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
